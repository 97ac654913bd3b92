/**
 * Deadlines of the calls in flight on one token (or fleet), watched with one Node timer
 * for all of them instead of a setTimeout per call. A timer per token call (and a
 * Promise.race against it) would, at thousands of calls per second, create and destroy a
 * timer list per distinct millisecond duration in Node's timer heap for every call,
 * although nearly every call ends long before its deadline (docs/performance.md "What
 * changed for speed").
 *
 * Entries form a doubly linked list sorted by deadline: calls arrive in deadline order, so
 * an insert nearly always goes at the tail, and an entry is unlinked in O(1) when its call
 * ends (none outlives its call: an entry kept for the whole 250 ms budget would survive
 * young-generation GCs). The timer is armed for the earliest deadline; an entry removed
 * before it fires leaves the timer armed, and when it fires it expires what is due and
 * re-arms for the next.
 */

/** One watched deadline; `cancel` it when the call ends in time. */
export class DeadlineEntry {
  /** Neighbours in the queue; both undefined once the entry left it. */
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  /** True while the entry is in its queue. */
  queued = false;
  readonly #queue: DeadlineQueue;

  constructor(
    readonly deadline: number,
    /** Called once, at the deadline, unless cancelled. */
    readonly onExpire: () => void,
    queue: DeadlineQueue,
  ) {
    this.#queue = queue;
  }

  /** The call ended: forget the deadline (a no-op after it expired or was cancelled). */
  cancel(): void {
    if (this.queued) this.#queue.remove(this);
  }
}

export class DeadlineQueue {
  /** Earliest deadline first. */
  #head: DeadlineEntry | undefined;
  #tail: DeadlineEntry | undefined;
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (epoch ms); Infinity when none is armed. */
  #timerAt = Infinity;

  /** Calls `onExpire` at `deadline` (epoch ms) unless the returned entry is cancelled first. */
  add(deadline: number, onExpire: () => void): DeadlineEntry {
    const entry = new DeadlineEntry(deadline, onExpire, this);
    // From the tail: the new deadline is nearly always the latest.
    let after = this.#tail;
    while (after !== undefined && after.deadline > deadline) after = after.prev;
    entry.prev = after;
    entry.next = after === undefined ? this.#head : after.next;
    if (entry.next === undefined) this.#tail = entry;
    else entry.next.prev = entry;
    if (after === undefined) this.#head = entry;
    else after.next = entry;
    entry.queued = true;
    this.#count += 1;
    if (deadline < this.#timerAt) this.#arm(deadline);
    return entry;
  }

  /**
   * Removes `entry` (which must be queued here). The timer stays armed even when nothing is
   * left to watch: at a low rate each call would otherwise arm and clear a Node timer of its
   * own, the cost this queue exists to avoid. Left armed, it fires once, finds nothing due
   * and stays off until the next entry; it is unref'd, so it never keeps the process alive.
   */
  remove(entry: DeadlineEntry): void {
    this.#unlink(entry);
  }

  /** Entries waiting (tests, diagnostics). */
  get size(): number {
    return this.#count;
  }

  #unlink(entry: DeadlineEntry): void {
    if (entry.prev === undefined) this.#head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.#tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
    entry.queued = false;
    this.#count -= 1;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - Date.now())).unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    // Expire everything due; an onExpire may add or cancel entries, so re-read the head each time.
    for (let due = this.#head; due !== undefined && due.deadline <= now; due = this.#head) {
      this.#unlink(due);
      due.onExpire();
    }
    // An onExpire may have armed the timer for a later deadline than the head's.
    const next = this.#head;
    if (next !== undefined && next.deadline < this.#timerAt) this.#arm(next.deadline);
  }
}

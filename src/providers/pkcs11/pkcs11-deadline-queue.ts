/**
 * Deadlines of the calls in flight on one token (or fleet), watched with one Node timer
 * for all of them instead of a setTimeout per call. Each token call used to arm its own
 * timer (and Promise.race against it): at thousands of calls per second that was a timer
 * list per distinct millisecond duration created and destroyed in Node's timer heap for
 * every call, although nearly every call ends long before its deadline
 * (docs/performance.md "What changed for speed").
 *
 * Entries are kept sorted by deadline (calls arrive in deadline order, so an insert is
 * nearly always a push) and removed at once when their call ends, so none outlives its
 * call (an entry kept for the whole 250 ms budget would survive young-generation GCs).
 * The timer is armed for the earliest deadline; an entry removed before it fires leaves
 * the timer armed, and when it fires it expires what is due and re-arms for the next.
 */

/** One watched deadline; `cancel` it when the call ends in time. */
export class DeadlineEntry {
  constructor(
    readonly deadline: number,
    /** Called once, at the deadline, unless cancelled. */
    readonly onExpire: () => void,
    private readonly queue: DeadlineQueue,
  ) {}

  /** The call ended: forget the deadline (a no-op after it expired). */
  cancel(): void {
    this.queue.remove(this);
  }
}

export class DeadlineQueue {
  /** Pending entries, earliest deadline first. */
  private readonly entries: DeadlineEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (epoch ms); Infinity when none is armed. */
  private timerAt = Infinity;

  /** Calls `onExpire` at `deadline` (epoch ms) unless the returned entry is cancelled first. */
  add(deadline: number, onExpire: () => void): DeadlineEntry {
    const entry = new DeadlineEntry(deadline, onExpire, this);
    const entries = this.entries;
    let i = entries.length;
    while (i > 0 && (entries[i - 1] as DeadlineEntry).deadline > deadline) i--;
    if (i === entries.length) entries.push(entry);
    else entries.splice(i, 0, entry);
    if (deadline < this.timerAt) this.arm(deadline);
    return entry;
  }

  /** Removes `entry` if still pending; the timer stops when nothing is left to watch. */
  remove(entry: DeadlineEntry): void {
    const entries = this.entries;
    // Calls mostly end in the order they started: look from the front.
    const i = entries.indexOf(entry);
    if (i < 0) return;
    if (i === 0) entries.shift();
    else entries.splice(i, 1);
    if (entries.length === 0) this.disarm();
  }

  /** Entries waiting (tests, diagnostics). */
  get size(): number {
    return this.entries.length;
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - Date.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    const entries = this.entries;
    // Expire everything due; an onExpire may add or cancel entries, so re-read the head each time.
    while (entries.length > 0 && (entries[0] as DeadlineEntry).deadline <= now) {
      (entries.shift() as DeadlineEntry).onExpire();
    }
    // An onExpire may have armed the timer for a later deadline than the head's.
    const next = entries[0];
    if (next !== undefined && next.deadline < this.timerAt) this.arm(next.deadline);
  }
}

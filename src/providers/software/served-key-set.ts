import { zeroContents, type KeystoreContents } from './software-keystore-contents.ts';

/** How long a replaced snapshot's key bytes stay in memory before they are zeroed. */
const RETIRED_SNAPSHOT_MS = 5_000;

/** What the key set can say about itself, for health. */
export type KeySetState =
  /** Keys loaded and the last refresh found the store as loaded. */
  | { state: 'fresh'; loadedAt: number }
  /** Keys loaded, but the newest refresh failed or is taking too long: serving the last good keys. */
  | { state: 'stale'; loadedAt: number; problem: string }
  /** No keys were ever loaded: nothing to serve. */
  | { state: 'empty'; problem: string };

/**
 * The in-memory set of keys the software provider serves. Requests read it and never wait
 * for the store behind it: whatever refreshes it (a keystore file, a database) publishes
 * a new snapshot when the keys changed and reports a problem when it cannot, and the last
 * good snapshot keeps serving meanwhile. It knows nothing about where keys come from.
 */
export class ServedKeySet {
  #current: { contents: KeystoreContents; loadedAt: number } | undefined;
  #problem: string | undefined;
  #closed = false;
  readonly #retired = new Set<KeystoreContents>();
  readonly #retireMs: number;
  readonly #listeners: Array<() => void> = [];

  constructor(options: { retireMs?: number } = {}) {
    this.#retireMs = options.retireMs ?? RETIRED_SNAPSHOT_MS;
  }

  /** The keys to serve now, or undefined when none were ever loaded (or after close). */
  current(): KeystoreContents | undefined {
    return this.#current?.contents;
  }

  /** Calls `listener` when the state changes between fresh, stale and empty (not on every publish). */
  onStateChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** True once close() ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Replaces the served keys and clears any problem; the previous snapshot is retired. */
  publish(contents: KeystoreContents, now: number = Date.now()): void {
    if (this.#closed) {
      zeroContents(contents);
      return;
    }
    const before = this.state().state;
    const previous = this.#current;
    this.#current = { contents, loadedAt: now };
    this.#problem = undefined;
    if (previous !== undefined) this.#retire(previous.contents);
    this.#notify(before);
  }

  /** The store was checked and still holds exactly the served keys. */
  confirm(): void {
    const before = this.state().state;
    this.#problem = undefined;
    this.#notify(before);
  }

  /** The store cannot be read (or is slow): keep serving what we have, and say why. */
  reportProblem(problem: string): void {
    const before = this.state().state;
    this.#problem = problem;
    this.#notify(before);
  }

  /** The current problem, if any. */
  get problem(): string | undefined {
    return this.#problem;
  }

  state(): KeySetState {
    if (this.#current === undefined) return { state: 'empty', problem: this.#problem ?? 'no keys have been loaded yet' };
    if (this.#problem !== undefined) return { state: 'stale', loadedAt: this.#current.loadedAt, problem: this.#problem };
    return { state: 'fresh', loadedAt: this.#current.loadedAt };
  }

  /** Zeroes every key byte held, now. Later publishes are zeroed on arrival. */
  close(): void {
    this.#closed = true;
    if (this.#current !== undefined) zeroContents(this.#current.contents);
    this.#current = undefined;
    for (const old of this.#retired) zeroContents(old);
    this.#retired.clear();
  }

  #notify(before: KeySetState['state']): void {
    if (this.#closed || this.state().state === before) return;
    for (const listener of this.#listeners) listener();
  }

  /**
   * Zeroes a replaced snapshot a little later, not at once: a call that already looked up
   * its key may still be between awaits and must not find the material wiped.
   */
  #retire(contents: KeystoreContents): void {
    this.#retired.add(contents);
    setTimeout(() => {
      if (this.#retired.delete(contents)) zeroContents(contents);
    }, this.#retireMs).unref();
  }
}

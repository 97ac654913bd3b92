import type { Logger } from 'pino';
import { markStuckIo } from '../../observability/stuck-io.ts';
import type { KeystoreSource } from './keystore-source.ts';
import type { ServedKeySet } from './served-key-set.ts';

/** Timing of a KeySetRefresher. */
export interface RefresherOptions {
  /** The store is checked this often (ms) in the background; health and key misses force a check at once. */
  intervalMs: number;
  /**
   * A load running longer than this (ms) is reported as a problem (health DEGRADED) and
   * counted as stuck I/O; the refresher still waits for it, and starts no second one.
   */
  slowAfterMs: number;
  logger: Logger;
}

/**
 * Keeps a ServedKeySet up to date from a KeystoreSource: a background check every
 * intervalMs, and checks on demand. One load at a time: a source
 * that hangs (a hung network file system) holds one load, never one per request, and
 * callers wait for it only as long as they choose (`refreshWithin`). Every outcome is
 * published into the key set; log lines are written when the state changes, not per check.
 */
export class KeySetRefresher {
  readonly #source: KeystoreSource;
  readonly #keySet: ServedKeySet;
  readonly #opts: RefresherOptions;
  #running: Promise<void> | undefined;
  #lastStart = Number.NEGATIVE_INFINITY;
  #loggedProblem: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(source: KeystoreSource, keySet: ServedKeySet, options: RefresherOptions) {
    this.#source = source;
    this.#keySet = keySet;
    this.#opts = options;
  }

  /**
   * Checks the store every intervalMs in the background, whatever the traffic, so a key
   * disabled with the CLI stops working within about that long even on an idle proxy.
   * The timer does not keep the process alive.
   */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.poke(), Math.max(this.#opts.intervalMs, 10));
    this.#timer.unref();
  }

  /** Stops the background checks (a load in flight is left to finish on its own). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** True while a load is running. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Starts a check when one is due (or `force`) and none is running; never waits. Returns
   * the running check, if any.
   */
  poke(force = false): Promise<void> | undefined {
    if (this.#running === undefined && (force || Date.now() - this.#lastStart >= this.#opts.intervalMs)) {
      this.#lastStart = Date.now();
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
      });
    }
    return this.#running;
  }

  /** Starts a check (forced) and waits for it at most `waitMs`. Never throws. */
  async refreshWithin(waitMs: number): Promise<void> {
    const running = this.poke(true);
    if (running === undefined || waitMs <= 0) return;
    // setTimeout cannot wait longer than 2^31-1 ms (it would fire at once instead).
    if (waitMs >= 2 ** 31 - 1) return running;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([running, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(): Promise<void> {
    const started = Date.now();
    let releaseStuck: (() => void) | undefined;
    const slow = setTimeout(() => {
      releaseStuck = markStuckIo();
      const problem = `reading ${this.#source.location} has not finished after ${this.#opts.slowAfterMs} ms (a hung file system or store?)`;
      this.#problem(problem);
    }, this.#opts.slowAfterMs);
    slow.unref();
    try {
      const contents = await this.#source.load();
      if (contents === undefined) {
        this.#keySet.confirm();
      } else {
        const first = this.#keySet.current() === undefined;
        this.#keySet.publish(contents);
        this.#opts.logger.info({ keys: contents.keys.size, ms: Date.now() - started }, first ? 'keystore loaded' : 'keystore changed; reloaded');
      }
      if (this.#loggedProblem !== undefined) {
        this.#opts.logger.info({ previousProblem: this.#loggedProblem }, 'keystore readable again; serving its current keys');
        this.#loggedProblem = undefined;
      }
    } catch (e) {
      this.#problem((e as Error).message);
    } finally {
      clearTimeout(slow);
      releaseStuck?.();
    }
  }

  #problem(problem: string): void {
    this.#keySet.reportProblem(problem);
    if (this.#loggedProblem === problem) return;
    this.#loggedProblem = problem;
    if (this.#keySet.current() === undefined) {
      this.#opts.logger.error({ err: problem }, 'keystore cannot be loaded; requests fail until it is fixed');
    } else {
      this.#opts.logger.error({ err: problem }, 'keystore cannot be refreshed; serving the last good keys (health DEGRADED) until it is fixed');
    }
  }
}

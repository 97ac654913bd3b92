import type { Logger } from 'pino';

/**
 * A warning that floods must not multiply: the first occurrence is logged at once, later
 * ones within `intervalMs` are only counted, and one summary line with the count follows
 * when the interval ends. A flood of 20,000 refused connections is then two log lines,
 * not 20,000 (which would itself be a way to fill the disk or stall the event loop).
 */
export class ThrottledWarning {
  readonly #logger: Logger;
  readonly #msg: string;
  readonly #intervalMs: number;
  #windowOpen = false;
  #suppressed = 0;
  #lastFields: Record<string, unknown> = {};
  /** Occurrences since start (logged or not), for tests and metrics. */
  total = 0;

  constructor(logger: Logger, msg: string, intervalMs = 10_000) {
    this.#logger = logger;
    this.#msg = msg;
    this.#intervalMs = intervalMs;
  }

  /** Records one occurrence; `fields` describe it (the latest ones go into the summary). */
  hit(fields: Record<string, unknown>): void {
    this.total++;
    if (this.#windowOpen) {
      this.#suppressed++;
      this.#lastFields = fields;
      return;
    }
    this.#logger.warn({ ...fields, occurrences: 1 }, this.#msg);
    this.#openWindow();
  }

  #openWindow(): void {
    this.#windowOpen = true;
    setTimeout(() => {
      this.#windowOpen = false;
      if (this.#suppressed === 0) return;
      const occurrences = this.#suppressed;
      this.#suppressed = 0;
      this.#logger.warn({ ...this.#lastFields, occurrences, withinMs: this.#intervalMs }, `${this.#msg} (repeated)`);
      // Keep summarising while the flood lasts: one line per interval.
      this.#openWindow();
    }, this.#intervalMs).unref();
  }
}

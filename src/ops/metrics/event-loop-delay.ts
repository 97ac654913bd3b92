import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Event-loop delay statistics in seconds since the previous read. */
export interface EventLoopDelay {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Samples event-loop delay (perf_hooks, 10 ms resolution). Every read returns the figures
 * since the previous read and starts a new window, so each scrape shows the lag of its
 * own interval rather than a lifetime average that hides a recent stall.
 */
export class EventLoopDelayMonitor {
  readonly #histogram: IntervalHistogram;

  constructor() {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
  }

  /** Figures of the current window, then a new window. */
  read(): EventLoopDelay {
    const h = this.#histogram;
    const ns = (v: number) => (Number.isFinite(v) ? v / 1e9 : 0);
    const result =
      h.count === 0 ? { p50: 0, p99: 0, max: 0, mean: 0 } : { p50: ns(h.percentile(50)), p99: ns(h.percentile(99)), max: ns(h.max), mean: ns(h.mean) };
    h.reset();
    return result;
  }

  /** Stops sampling. */
  stop(): void {
    this.#histogram.disable();
  }
}

import { PerformanceObserver, constants } from 'node:perf_hooks';

/** perf_hooks' GC kinds as label values; "minor" is the young generation (scavenge). */
const GC_KIND_NAMES = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

/**
 * Reports every garbage-collection pause of this process (perf_hooks "gc" entries). A
 * pause stops every request in flight, so young-generation pauses of a millisecond or
 * more set the proxy's p99 at KMS's 1,800 req/s (docs/performance.md).
 */
export class GcPauseMonitor {
  readonly #observer: PerformanceObserver;

  /** `record` receives the collector's kind and the pause in seconds. */
  constructor(record: (kind: string, seconds: number) => void) {
    this.#observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        record((kind !== undefined && GC_KIND_NAMES.get(kind)) || 'other', entry.duration / 1000);
      }
    });
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Stops observing. */
  stop(): void {
    this.#observer.disconnect();
  }
}

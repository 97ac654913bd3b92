import type { CallContext, EkmHealth } from '../providers/key-provider.ts';

/**
 * Caches a deep health result (spec GetHealthStatus: a cached result MUST NOT be older
 * than one minute). Concurrent callers share one check in flight, so a burst of health
 * calls runs at most one canary operation.
 */
export class HealthCache {
  private cached: { at: number; value: EkmHealth[] } | undefined;
  private inFlight: Promise<EkmHealth[]> | undefined;

  constructor(
    private readonly check: (ctx: CallContext) => Promise<EkmHealth[]>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A result no older than maxAgeMs, checking again when needed. */
  get(ctx: CallContext): Promise<EkmHealth[]> {
    const cached = this.cached;
    if (cached !== undefined && this.now() - cached.at < this.maxAgeMs) return Promise.resolve(cached.value);
    if (this.inFlight === undefined) {
      const started = this.now();
      this.inFlight = this.check(ctx)
        .then((value) => {
          this.cached = { at: started, value };
          return value;
        })
        .finally(() => {
          this.inFlight = undefined;
        });
    }
    return this.inFlight;
  }

  /** The last result without running a check (undefined before the first). */
  peek(): EkmHealth[] | undefined {
    return this.cached?.value;
  }
}

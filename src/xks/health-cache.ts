import type { CallContext, EkmHealth, EkmIdentity } from '../providers/key-provider.ts';

/** Timing rules of a HealthCache. */
export interface HealthCacheOptions {
  /** A healthy result is reused this long without a new check (health.cacheSeconds). */
  freshMs: number;
  /** A result with an UNAVAILABLE entry is reused only this long, so recovery shows quickly. */
  unhealthyFreshMs?: number;
  /** The spec's hard limit: a cached result MUST NOT be older than one minute. */
  maxStaleMs?: number;
  /** Budget of one deep check, independent of the request that triggered it. */
  checkBudgetMs?: number;
  /**
   * The instances to report UNAVAILABLE when no result is usable and the check does not
   * finish by the request's deadline (the provider's configured files, tokens or servers).
   */
  fleet?: () => EkmIdentity[];
}

/**
 * Caches the deep health result (spec GetHealthStatus: a deep check may be slower than
 * the 250 ms budget, so answer from a cached result no older than one minute).
 * - Fresh result: returned as is.
 * - Older, but under a minute: returned at once while one background check refreshes it.
 * - None usable: the caller waits for the check, but never past its own deadline.
 * Concurrent callers share one check in flight, so a burst runs one canary operation.
 */
export class HealthCache {
  private cached: { at: number; value: EkmHealth[] } | undefined;
  private inFlight: Promise<EkmHealth[]> | undefined;
  private readonly freshMs: number;
  private readonly unhealthyFreshMs: number;
  private readonly maxStaleMs: number;
  private readonly checkBudgetMs: number;
  private readonly fleet: () => EkmIdentity[];

  constructor(
    private readonly check: (ctx: CallContext) => Promise<EkmHealth[]>,
    options: HealthCacheOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.maxStaleMs = Math.min(options.maxStaleMs ?? 60_000, 60_000);
    this.freshMs = Math.min(options.freshMs, this.maxStaleMs);
    this.unhealthyFreshMs = Math.min(options.unhealthyFreshMs ?? 1_000, this.freshMs);
    this.checkBudgetMs = options.checkBudgetMs ?? 5_000;
    this.fleet = options.fleet ?? (() => []);
  }

  /** A result no older than the rules above allow. */
  async get(ctx: CallContext): Promise<EkmHealth[]> {
    const cached = this.cached;
    if (cached !== undefined) {
      const age = this.now() - cached.at;
      const healthy = cached.value.every((e) => e.healthStatus !== 'UNAVAILABLE');
      if (age < (healthy ? this.freshMs : this.unhealthyFreshMs)) return cached.value;
      const refresh = this.refresh();
      if (age < this.maxStaleMs) return cached.value;
      return this.waitUntil(refresh, ctx.deadline);
    }
    return this.waitUntil(this.refresh(), ctx.deadline);
  }

  /** The last result without running a check (undefined before the first). */
  peek(): EkmHealth[] | undefined {
    return this.cached?.value;
  }

  /** Starts a check unless one is running; the result replaces the cache. */
  private refresh(): Promise<EkmHealth[]> {
    if (this.inFlight === undefined) {
      const started = this.now();
      const ctx = { deadline: Date.now() + this.checkBudgetMs, signal: AbortSignal.timeout(this.checkBudgetMs) };
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

  /** Every configured instance UNAVAILABLE: the check did not finish in time (spec: 1-10 entries). */
  private notFinished(): EkmHealth[] {
    const detail = 'the deep health check has not finished yet';
    const fleet = this.fleet();
    if (fleet.length === 0) return [{ id: 'health-check', model: 'deep health check', healthStatus: 'UNAVAILABLE', detail }];
    return fleet.map(({ id, model }) => ({ id, model, healthStatus: 'UNAVAILABLE', detail }));
  }

  private async waitUntil(check: Promise<EkmHealth[]>, deadline: number): Promise<EkmHealth[]> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<EkmHealth[]>((resolve) => {
      timer = setTimeout(
        () => resolve(this.notFinished()),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      return await Promise.race([check, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

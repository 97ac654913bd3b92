import { callContextWithin } from './call-context.ts';
import type { CallContext, EkmHealth, EkmIdentity } from './key-provider-port.ts';

/** How long one live failure colours health when no call follows it (the spec's staleness bound). */
const LIVE_FAILURE_MEMORY_MS = 60_000;

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
  /** `invalidated`: the key manager said its health changed since this result. */
  #cached: { at: number; value: EkmHealth[]; invalidated?: boolean } | undefined;
  #inFlight: Promise<EkmHealth[]> | undefined;
  /** Bumped by invalidate(): a check that started before a change cannot clear it. */
  #generation = 0;
  /** Live traffic saw the key manager fail since the last success (see recordLiveFailure). */
  #liveFailure: { at: number; detail: string } | undefined;
  /** When live traffic last started a check: at most one per unhealthyFreshMs. */
  #lastLiveCheck = Number.NEGATIVE_INFINITY;
  /** False while the cached result or live traffic says something is not ACTIVE. */
  #allActive = false;
  readonly #freshMs: number;
  readonly #unhealthyFreshMs: number;
  readonly #maxStaleMs: number;
  readonly #checkBudgetMs: number;
  readonly #fleet: () => EkmIdentity[];
  readonly #check: (ctx: CallContext) => Promise<EkmHealth[]>;
  readonly #now: () => number;

  constructor(check: (ctx: CallContext) => Promise<EkmHealth[]>, options: HealthCacheOptions, now: () => number = Date.now) {
    this.#check = check;
    this.#now = now;
    this.#maxStaleMs = Math.min(options.maxStaleMs ?? 60_000, 60_000);
    this.#freshMs = Math.min(options.freshMs, this.#maxStaleMs);
    this.#unhealthyFreshMs = Math.min(options.unhealthyFreshMs ?? 1_000, this.#freshMs);
    this.#checkBudgetMs = options.checkBudgetMs ?? 5_000;
    this.#fleet = options.fleet ?? (() => []);
  }

  /** A result no older than the rules above allow, with what live traffic saw on top. */
  async get(ctx: CallContext): Promise<EkmHealth[]> {
    return this.#withLiveFailure(await this.#deep(ctx));
  }

  /**
   * A live request failed because the key manager failed or could not be reached (not a
   * client error): from now on every ACTIVE entry reads DEGRADED with this detail, until
   * a call succeeds (or, with no traffic, for at most a minute). A passing canary does not
   * clear it: the canary may reach what live calls cannot (another key, more time). A
   * deep check starts at once to find out how bad it is (UNAVAILABLE when its canary
   * fails too).
   */
  recordLiveFailure(detail: string): void {
    this.#liveFailure = { at: this.#now(), detail };
    this.#allActive = false;
    this.#checkSoon();
  }

  /**
   * A live request succeeded: failures seen before it no longer count, and a cached
   * result that is not all ACTIVE is checked again at once. Called on every successful
   * call, so it costs one boolean test while all is well.
   */
  recordLiveSuccess(): void {
    if (this.#allActive) return;
    this.#liveFailure = undefined;
    this.#allActive = this.#cached !== undefined && this.#cached.value.every((e) => e.healthStatus === 'ACTIVE');
    if (!this.#allActive) this.#checkSoon();
  }

  #withLiveFailure(value: EkmHealth[]): EkmHealth[] {
    const failure = this.#liveFailure;
    if (failure === undefined || this.#now() - failure.at > LIVE_FAILURE_MEMORY_MS) return value;
    const detail = `live requests are failing: ${failure.detail}`;
    return value.map((e) => (e.healthStatus === 'ACTIVE' ? { ...e, healthStatus: 'DEGRADED', detail } : e));
  }

  /** Starts a check now unless live traffic started one within unhealthyFreshMs. */
  #checkSoon(): void {
    const now = this.#now();
    if (now - this.#lastLiveCheck < this.#unhealthyFreshMs) return;
    this.#lastLiveCheck = now;
    this.invalidate();
  }

  async #deep(ctx: CallContext): Promise<EkmHealth[]> {
    const cached = this.#cached;
    if (cached !== undefined) {
      const age = this.#now() - cached.at;
      const healthy = cached.value.every((e) => e.healthStatus !== 'UNAVAILABLE');
      if (!cached.invalidated && age < (healthy ? this.#freshMs : this.#unhealthyFreshMs)) return cached.value;
      const refresh = this.#refresh();
      if (age < this.#maxStaleMs) return cached.value;
      return this.#waitUntil(refresh, ctx.deadline);
    }
    return this.#waitUntil(this.#refresh(), ctx.deadline);
  }

  /**
   * The key manager told us its health changed: start a check now, and let readers have
   * the old result only until it finishes (no longer than the usual rules allow).
   */
  invalidate(): void {
    this.#generation += 1;
    if (this.#cached !== undefined) this.#cached = { ...this.#cached, invalidated: true };
    void this.#refresh().catch(() => undefined);
  }

  /** The last result (with live failures on top) without running a check (undefined before the first). */
  peek(): EkmHealth[] | undefined {
    return this.#cached === undefined ? undefined : this.#withLiveFailure(this.#cached.value);
  }

  /** Starts a check unless one is running; the result replaces the cache. */
  #refresh(): Promise<EkmHealth[]> {
    if (this.#inFlight === undefined) {
      const started = this.#now();
      const generation = this.#generation;
      this.#inFlight = this.#check(callContextWithin(this.#checkBudgetMs))
        .then((value) => {
          this.#cached = { at: started, value, invalidated: generation !== this.#generation };
          this.#allActive = this.#liveFailure === undefined && value.every((e) => e.healthStatus === 'ACTIVE');
          return value;
        })
        .finally(() => {
          this.#inFlight = undefined;
        });
    }
    return this.#inFlight;
  }

  /** Every configured instance UNAVAILABLE: the check did not finish in time (spec: 1-10 entries). */
  #notFinished(): EkmHealth[] {
    const detail = 'the deep health check has not finished yet';
    const fleet = this.#fleet();
    if (fleet.length === 0) return [{ id: 'health-check', model: 'deep health check', healthStatus: 'UNAVAILABLE', detail }];
    return fleet.map(({ id, model }) => ({ id, model, healthStatus: 'UNAVAILABLE', detail }));
  }

  async #waitUntil(check: Promise<EkmHealth[]>, deadline: number): Promise<EkmHealth[]> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<EkmHealth[]>((resolve) => {
      timer = setTimeout(() => resolve(this.#notFinished()), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([check, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

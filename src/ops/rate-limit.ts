import { XksError } from '../xks/errors.ts';

/** A rate limit as configured: a steady rate and the burst a client may use at once. */
export interface RateLimitConfig {
  requestsPerSecond: number;
  /** Bucket size; default one second's worth of requests. */
  burst?: number | undefined;
}

/**
 * One worker's share of a configured limit, so that N workers together admit what the
 * config says and not N times that (each worker keeps its own bucket: a shared one would
 * put IPC on every request). The rate is split evenly; the burst is split in whole tokens,
 * the first `burst % N` slots taking one more, so the shares add up to the burst exactly.
 * A worker never gets less than one token, so a burst smaller than the worker count admits
 * up to one request per worker at once.
 */
export function workerShare(config: RateLimitConfig, slot: number, workers: number): RateLimitConfig {
  if (workers <= 1) return config;
  const burst = config.burst ?? Math.ceil(config.requestsPerSecond);
  const share = Math.floor(burst / workers) + (slot < burst % workers ? 1 : 0);
  return { requestsPerSecond: config.requestsPerSecond / workers, burst: Math.max(1, share) };
}

/**
 * A token bucket: it holds up to `burst` tokens, refills at `requestsPerSecond`, and each
 * request takes one. Refilling is computed from the clock on each call, so there is no
 * timer and an idle bucket costs nothing.
 */
export class TokenBucket {
  readonly rate: number;
  readonly capacity: number;
  #tokens: number;
  #last: number;
  readonly #now: () => number;

  /** `now` returns milliseconds (monotonic); tests pass a fake one. */
  constructor(config: RateLimitConfig, now: () => number = () => performance.now()) {
    this.rate = config.requestsPerSecond;
    this.capacity = Math.max(1, config.burst ?? Math.ceil(config.requestsPerSecond));
    this.#now = now;
    this.#tokens = this.capacity;
    this.#last = now();
  }

  /** Takes one token if there is one; false means the caller is over the limit. */
  tryTake(): boolean {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.capacity, this.#tokens + (elapsed * this.rate) / 1000);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * An admission function over a bucket: throws the spec's ThrottlingException (429) when
 * the bucket is empty. The client sees a generic message; which limit refused it goes
 * to the request's log line as `reason`.
 */
export function rateLimitAdmission(bucket: TokenBucket, scope: string, onThrottle?: () => void): () => void {
  const detail = `rate limit (${scope}): over ${bucket.rate} requests/s, burst ${bucket.capacity}`;
  return () => {
    if (bucket.tryTake()) return;
    onThrottle?.();
    throw new XksError('ThrottlingException', 'The proxy is receiving more requests than it is configured to accept; retry later.', {
      logDetail: detail,
    });
  };
}

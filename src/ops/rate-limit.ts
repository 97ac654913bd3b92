import { XksError } from '../xks/errors.ts';

/** A rate limit as configured: a steady rate and the burst a client may use at once. */
export interface RateLimitConfig {
  requestsPerSecond: number;
  /** Bucket size; default one second's worth of requests. */
  burst?: number | undefined;
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

import { describe, expect, it } from 'vitest';
import { rateLimitAdmission, TokenBucket, workerShare } from '../../../src/ops/rate-limit.ts';
import { isXksError } from '../../../src/xks/errors.ts';

function clock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TokenBucket', () => {
  it('allows a burst of exactly `burst` requests, then refuses', () => {
    const c = clock();
    const bucket = new TokenBucket({ requestsPerSecond: 10, burst: 5 }, c.now);
    const results = Array.from({ length: 7 }, () => bucket.tryTake());
    expect(results).toEqual([true, true, true, true, true, false, false]);
  });

  it('refills at the configured rate and never above the burst', () => {
    const c = clock();
    const bucket = new TokenBucket({ requestsPerSecond: 10, burst: 3 }, c.now);
    for (let i = 0; i < 3; i++) bucket.tryTake();
    expect(bucket.tryTake()).toBe(false);
    c.advance(100); // one token at 10/s
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    c.advance(60_000);
    expect(Array.from({ length: 4 }, () => bucket.tryTake())).toEqual([true, true, true, false]);
  });

  it('defaults the burst to one second of requests', () => {
    const bucket = new TokenBucket({ requestsPerSecond: 2.5 }, clock().now);
    expect(bucket.capacity).toBe(3);
  });
});

describe('rateLimitAdmission', () => {
  it('throws ThrottlingException (429) naming the limit only in the log detail', () => {
    const admit = rateLimitAdmission(new TokenBucket({ requestsPerSecond: 1, burst: 1 }, clock().now), 'prefix "a"');
    admit();
    let error: unknown;
    try {
      admit();
    } catch (e) {
      error = e;
    }
    expect(isXksError(error)).toBe(true);
    const e = error as import('../../../src/xks/errors.ts').XksError;
    expect(e.errorName).toBe('ThrottlingException');
    expect(e.status).toBe(429);
    expect(e.logDetail).toContain('prefix "a"');
    expect(e.message).not.toContain('prefix');
  });
});

describe('workerShare', () => {
  it('splits the rate evenly and the burst in whole tokens that add up to the configured burst', () => {
    const shares = [0, 1, 2].map((slot) => workerShare({ requestsPerSecond: 300, burst: 10 }, slot, 3));
    expect(shares.map((s) => s.requestsPerSecond)).toEqual([100, 100, 100]);
    expect(shares.map((s) => s.burst)).toEqual([4, 3, 3]);
  });

  it('leaves a single process with the configured limit, and gives every worker at least one token', () => {
    expect(workerShare({ requestsPerSecond: 5, burst: 7 }, 0, 1)).toEqual({ requestsPerSecond: 5, burst: 7 });
    expect(workerShare({ requestsPerSecond: 2, burst: 1 }, 1, 2).burst).toBe(1);
  });
});

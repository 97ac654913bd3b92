import { describe, expect, it } from 'vitest';
import type { EkmHealth } from '../../../src/xks/key-provider-port.ts';
import { HealthCache } from '../../../src/xks/health-cache.ts';

const ACTIVE: EkmHealth[] = [{ id: 'a', model: 'm', healthStatus: 'ACTIVE' }];
const DOWN: EkmHealth[] = [{ id: 'a', model: 'm', healthStatus: 'UNAVAILABLE' }];
const ctx = (ms = 1000) => ({ deadline: Date.now() + ms, signal: AbortSignal.timeout(ms) });

function setup(results: EkmHealth[][], freshMs = 30_000, delayMs = 0) {
  let clock = 1_000_000;
  let calls = 0;
  const cache = new HealthCache(
    async () => {
      const value = results[Math.min(calls, results.length - 1)]!;
      calls++;
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return value;
    },
    { freshMs },
    () => clock,
  );
  return { cache, calls: () => calls, advance: (ms: number) => (clock += ms) };
}

describe('HealthCache', () => {
  it('reuses a healthy result while it is fresh', async () => {
    const h = setup([ACTIVE]);
    await h.cache.get(ctx());
    h.advance(29_000);
    await h.cache.get(ctx());
    expect(h.calls()).toBe(1);
  });

  it('shares one check between concurrent callers', async () => {
    const h = setup([ACTIVE], 30_000, 20);
    await Promise.all(Array.from({ length: 20 }, () => h.cache.get(ctx())));
    expect(h.calls()).toBe(1);
  });

  it('answers a stale (but under a minute) result at once and refreshes it in the background', async () => {
    const h = setup([ACTIVE, DOWN]);
    await h.cache.get(ctx());
    h.advance(31_000);
    expect(await h.cache.get(ctx())).toEqual(ACTIVE);
    await new Promise((r) => setTimeout(r, 5));
    expect(h.cache.peek()).toEqual(DOWN);
  });

  it('never answers a result older than one minute', async () => {
    const h = setup([ACTIVE, DOWN]);
    await h.cache.get(ctx());
    h.advance(61_000);
    expect(await h.cache.get(ctx())).toEqual(DOWN);
  });

  it('keeps an unhealthy result only about a second, so recovery shows quickly', async () => {
    const h = setup([DOWN, ACTIVE]);
    await h.cache.get(ctx());
    h.advance(1_500);
    await h.cache.get(ctx()); // stale: answered from cache, refresh started
    await new Promise((r) => setTimeout(r, 5));
    expect(await h.cache.get(ctx())).toEqual(ACTIVE);
  });

  it('does not make the caller wait past its deadline for a slow first check', async () => {
    const h = setup([ACTIVE], 30_000, 300);
    const started = Date.now();
    const result = await h.cache.get(ctx(50));
    expect(Date.now() - started).toBeLessThan(250);
    expect(result[0]!.healthStatus).toBe('UNAVAILABLE');
    await new Promise((r) => setTimeout(r, 300));
    expect(await h.cache.get(ctx())).toEqual(ACTIVE);
  });

  it('names the configured instances, not "health-check", when the first check has not finished', async () => {
    const cache = new HealthCache(() => new Promise<EkmHealth[]>(() => undefined), {
      freshMs: 30_000,
      fleet: () => [
        { id: 'hsm-a', model: 'PKCS#11 token (libvendor.so)' },
        { id: 'hsm-b', model: 'PKCS#11 token (libvendor.so)' },
      ],
    });
    expect(await cache.get(ctx(20))).toEqual([
      { id: 'hsm-a', model: 'PKCS#11 token (libvendor.so)', healthStatus: 'UNAVAILABLE', detail: 'the deep health check has not finished yet' },
      { id: 'hsm-b', model: 'PKCS#11 token (libvendor.so)', healthStatus: 'UNAVAILABLE', detail: 'the deep health check has not finished yet' },
    ]);
  });
});

describe('HealthCache and live traffic', () => {
  const DEGRADED_BY_LIVE = [{ id: 'a', model: 'm', healthStatus: 'DEGRADED', detail: 'live requests are failing: DependencyTimeoutException: no answer' }];

  it('turns a cached ACTIVE result DEGRADED at once when a live call fails, and ACTIVE again when one succeeds', async () => {
    // The deep check keeps passing (slowly): only live traffic knows the calls fail.
    const h = setup([ACTIVE], 30_000);
    await h.cache.get(ctx());
    h.cache.recordLiveFailure('DependencyTimeoutException: no answer');
    expect(await h.cache.get(ctx())).toEqual(DEGRADED_BY_LIVE);
    expect(await h.cache.get(ctx())).toEqual(DEGRADED_BY_LIVE); // repeat reads served from the cache
    h.cache.recordLiveSuccess();
    expect(await h.cache.get(ctx())).toEqual(ACTIVE);
  });

  it('starts a deep check at once on a live failure, so a key manager that is down reads UNAVAILABLE', async () => {
    const h = setup([ACTIVE, DOWN], 30_000);
    await h.cache.get(ctx());
    h.cache.recordLiveFailure('InternalException: connection refused');
    await new Promise((r) => setTimeout(r, 5));
    expect(h.calls()).toBe(2);
    expect((await h.cache.get(ctx()))[0]!.healthStatus).toBe('UNAVAILABLE');
  });

  it('re-checks at once after a success when the cached result is not ACTIVE', async () => {
    const h = setup([DOWN, ACTIVE], 30_000);
    await h.cache.get(ctx());
    h.cache.recordLiveSuccess();
    await new Promise((r) => setTimeout(r, 5));
    expect(h.cache.peek()).toEqual(ACTIVE);
  });

  it('costs nothing on success while everything is ACTIVE', async () => {
    const h = setup([ACTIVE], 30_000);
    await h.cache.get(ctx());
    for (let i = 0; i < 100; i++) h.cache.recordLiveSuccess();
    expect(h.calls()).toBe(1);
  });

  it('re-checks at once when the key manager says its health changed (invalidate)', async () => {
    const h = setup([ACTIVE, [{ id: 'a', model: 'm', healthStatus: 'DEGRADED' }]], 30_000);
    await h.cache.get(ctx());
    h.cache.invalidate();
    await new Promise((r) => setTimeout(r, 5));
    expect((await h.cache.get(ctx()))[0]!.healthStatus).toBe('DEGRADED');
  });
});

describe('HealthCache live failure memory', () => {
  it('forgets a live failure after a minute without traffic', async () => {
    const h = setup([ACTIVE], 120_000);
    await h.cache.get(ctx());
    h.cache.recordLiveFailure('InternalException: refused');
    expect((await h.cache.get(ctx()))[0]!.healthStatus).toBe('DEGRADED');
    h.advance(61_000);
    expect((await h.cache.get(ctx()))[0]!.healthStatus).toBe('ACTIVE');
  });
});

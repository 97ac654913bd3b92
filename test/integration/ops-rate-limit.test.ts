import autocannon from 'autocannon';
import { describe, expect, it } from 'vitest';
import { signRequest } from '../../src/auth/sigv4-sign.ts';
import { DEMO_CREDENTIAL } from '../support/xks-client.ts';
import { createOpsDirForTest, DEMO_PREFIX, demoConfig, encryptBody, encryptCall, keyStoreEntry, startProxyForTest, xksPath } from './ops-fixture.ts';

describe('rate limits', () => {
  it('answers a burst over the per-prefix limit with 429 ThrottlingException while another prefix is unaffected', async () => {
    const d = await createOpsDirForTest();
    const other = await d.addKeystore('other');
    const { proxy: p, logs } = await startProxyForTest(d, {
      ...demoConfig(d),
      keyStores: [
        keyStoreEntry(DEMO_PREFIX, d.keystorePath, d.kekHex, { rateLimit: { requestsPerSecond: 5, burst: 20 } }),
        keyStoreEntry('other', other, d.kekHex),
      ],
    });
    const started = performance.now();
    const [limited, free] = await Promise.all([
      Promise.all(Array.from({ length: 100 }, () => encryptCall(p.url))),
      Promise.all(Array.from({ length: 40 }, () => encryptCall(p.url, 'other'))),
    ]);
    const elapsedS = (performance.now() - started) / 1000;
    const ok = limited.filter((a) => a.status === 200).length;
    const throttled = limited.filter((a) => a.status === 429);
    // The burst, plus the tokens refilled (5/s) while the burst was being answered.
    expect(ok).toBeGreaterThanOrEqual(20);
    expect(ok).toBeLessThanOrEqual(20 + Math.ceil(elapsedS * 5));
    expect(ok).toBeLessThan(40);
    expect(throttled.length).toBe(100 - ok);
    expect(throttled[0]!.json).toEqual({ errorName: 'ThrottlingException', errorMessage: expect.stringContaining('retry later') });
    expect(free.every((a) => a.status === 200)).toBe(true);
    const line = logs.find((l) => l.msg === 'xks request' && l.status === 429);
    expect(line).toMatchObject({ prefix: DEMO_PREFIX, errorName: 'ThrottlingException', reason: expect.stringContaining(`prefix "${DEMO_PREFIX}"`) });

    // The bucket refills at the configured rate.
    const idleFrom = performance.now();
    await new Promise((r) => setTimeout(r, 1100));
    const after = await Promise.all(Array.from({ length: 10 }, () => encryptCall(p.url)));
    const refillS = (performance.now() - idleFrom) / 1000;
    const okAfter = after.filter((a) => a.status === 200).length;
    expect(okAfter).toBeGreaterThanOrEqual(5);
    expect(okAfter).toBeLessThanOrEqual(Math.min(10, Math.ceil(refillS * 5)));
  }, 60_000);

  it('holds the proxy-wide limit under sustained load (autocannon, 2 s on loopback)', async () => {
    const d = await createOpsDirForTest();
    const { proxy: p } = await startProxyForTest(d, demoConfig(d, { rateLimit: { requestsPerSecond: 100, burst: 50 } }));
    const url = new URL(p.url);
    const path = xksPath(DEMO_PREFIX, 'encrypt');
    const body = encryptBody('load');
    // Our own signer here: it leaves content-length unsigned, which autocannon sets itself.
    const base = { 'content-type': 'application/json' };
    const signed = signRequest({
      method: 'POST',
      url: new URL(path, p.url),
      headers: base,
      body,
      region: 'us-east-1',
      service: 'kms-xks-proxy',
      accessKeyId: DEMO_CREDENTIAL.accessKeyId,
      secret: DEMO_CREDENTIAL.secretAccessKey,
      now: new Date(),
    });
    const headers = { ...base, host: url.host, ...signed };
    const result = await autocannon({ url: p.url, connections: 8, duration: 2, requests: [{ method: 'POST', path, headers, body }] });
    expect(result.errors).toBe(0);
    // 50 at once, then 100/s while autocannon runs (its duration is in seconds).
    expect(result['2xx']).toBeGreaterThanOrEqual(50 + 100 * 1.5);
    expect(result['2xx']).toBeLessThanOrEqual(50 + Math.ceil(100 * (result.duration + 0.3)));
    expect(result.non2xx).toBeGreaterThan(result['2xx']);
    const probe = await encryptCall(p.url);
    expect([200, 429]).toContain(probe.status);
  }, 60_000);

  it('changes limits on reload', async () => {
    const d = await createOpsDirForTest();
    await d.writeConfig(demoConfig(d, {}, { rateLimit: { requestsPerSecond: 1, burst: 1 } }));
    const { proxy: p } = await startProxyForTest(d, demoConfig(d, {}, { rateLimit: { requestsPerSecond: 1, burst: 1 } }));
    expect((await Promise.all([encryptCall(p.url), encryptCall(p.url)])).map((a) => a.status).sort()).toEqual([200, 429]);
    await d.writeConfig(demoConfig(d, {}, { rateLimit: { requestsPerSecond: 1000, burst: 1000 } }));
    // The in-process proxy reads the same file path it was started with.
    const outcome = await p.reload('test');
    expect(outcome.ok).toBe(true);
    expect((await Promise.all(Array.from({ length: 20 }, () => encryptCall(p.url)))).every((a) => a.status === 200)).toBe(true);
  }, 60_000);
});

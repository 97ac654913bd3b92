import { describe, expect, it } from 'vitest';
import type { RequestEvent } from '../../../src/xks/request-event.ts';
import { StatusTracker } from '../../../src/server/status-tracker.ts';
import { isLoopbackAddress } from '../../../src/diagnostics/status-routes.ts';

const configured = new Set(['tenant-a']);
const tracker = () =>
  new StatusTracker(
    (p) => configured.has(p),
    () => 1_000,
  );

function event(fields: Partial<RequestEvent>): RequestEvent {
  return { method: 'POST', status: 200, latencyMs: 1, outcome: 'ok', at: 2_000, ...fields };
}

describe('StatusTracker', () => {
  it('records the last GetHealthStatus with its result and the credential that made it', () => {
    const t = tracker();
    t.observe(event({ prefix: 'tenant-a', operation: 'health', kmsOperation: 'KmsHealthCheck', accessKeyId: 'AKID1', at: 5_000 }));
    const a = t.activity('tenant-a');
    expect(a.lastHealthCall).toMatchObject({ at: 5_000, status: 200, kmsOperation: 'KmsHealthCheck' });
    expect(a.credentials.get('AKID1')).toEqual({ lastUsedAt: 5_000, requests: 1 });
    expect(a.requests).toEqual({ ok: 1, error: 0 });
  });

  it('keeps the last error of each errorName with its count and operator reason', () => {
    const t = tracker();
    const refused = { prefix: 'tenant-a', operation: 'health' as const, status: 401, outcome: 'error' as const, errorName: 'AuthenticationFailedException' };
    t.observe(event({ ...refused, at: 3_000, reason: 'sigv4 unknown-access-key-id: x' }));
    t.observe(event({ ...refused, at: 4_000, reason: 'sigv4 date-out-of-window: 600 s in the past' }));
    t.observe(event({ prefix: 'tenant-a', operation: 'encrypt', status: 400, outcome: 'error', errorName: 'InvalidKeyUsageException', at: 4_500 }));
    const errors = t.activity('tenant-a').errors;
    expect(errors.get('AuthenticationFailedException')).toMatchObject({ count: 2, lastAt: 4_000, reason: 'sigv4 date-out-of-window: 600 s in the past' });
    expect(errors.get('InvalidKeyUsageException')).toMatchObject({ count: 1, operation: 'encrypt' });
    expect(t.activity('tenant-a').lastHealthCall).toMatchObject({ status: 401, errorName: 'AuthenticationFailedException' });
  });

  it('files requests for unknown prefixes apart and keeps only the 20 most recent prefixes', () => {
    const t = tracker();
    for (let i = 0; i < 25; i++) t.observe(event({ prefix: `scan-${i}`, status: 404, outcome: 'error', errorName: 'InvalidUriPathException', at: 10_000 + i }));
    t.observe(event({ prefix: 'scan-24', status: 404, outcome: 'error', at: 20_000 }));
    const unknown = t.unrouted().unknownPrefixes;
    expect(unknown.size).toBe(20);
    expect(unknown.has('scan-0')).toBe(false);
    expect(unknown.get('scan-24')).toEqual({ count: 2, lastAt: 20_000 });
    expect(t.activity('scan-24').requests).toEqual({ ok: 0, error: 0 });
  });

  it('counts requests outside the XKS API without a prefix', () => {
    const t = tracker();
    t.observe(event({ status: 404, outcome: 'error', reason: 'path /wp-login.php is not an XKS API path' }));
    expect(t.unrouted().otherPaths).toMatchObject({ count: 1, lastReason: 'path /wp-login.php is not an XKS API path' });
  });
});

describe('loopback detection for GET /status', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.5', false],
    ['::ffff:10.0.0.5', false],
    ['fe80::1', false],
    [undefined, false],
    ['127.example.com', false],
  ])('%s -> %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { runConformance } from '../run.ts';
import type { CheckStatus, ConformanceReport } from '../run.ts';
import type { Breakage } from './support/breakages.ts';
import { startReferenceServer } from './support/reference-xks-server.ts';
import { makeTestCerts } from './support/test-certs.ts';
import type { TestCerts } from './support/test-certs.ts';

let certs: TestCerts;

beforeAll(async () => {
  certs = await makeTestCerts();
});

async function runOverHttps(breakages: Breakage[], only: string, withClientCert = true, supplyExpired = false): Promise<ConformanceReport> {
  const server = await startReferenceServer({ breakages, tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca } });
  try {
    const expired = supplyExpired ? { expiredCert: certs.expiredClientCert, expiredKey: certs.expiredClientKey } : {};
    const tls = withClientCert ? { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, ...expired } : { ca: certs.ca };
    return await runConformance({ endpoint: server.endpoint, tls, only });
  } finally {
    await server.close();
  }
}

function statuses(r: ConformanceReport): Record<string, CheckStatus> {
  return Object.fromEntries(r.results.map((x) => [x.id, x.status]));
}

describe('the TLS checks against an HTTPS XKS server with mTLS', () => {
  let report: ConformanceReport;
  beforeAll(async () => {
    report = await runOverHttps([], 'tls,health,sigv4.valid-kms-style,crypto.round-trip');
  });

  it('pass for a server with TLS >= 1.2, an allowed suite, h2 with HTTP/1.1 fallback and required client certs', () => {
    expect(report.results.filter((r) => r.status !== 'pass').map((r) => `${r.id}: ${r.detail}`)).toEqual([]);
    expect(report.results.find((r) => r.id === 'tls.http2')?.detail).toBe('health over HTTP/2 answered 200');
  });

  it('name the negotiated protocol and the allowed suites that were agreed', () => {
    expect(report.results.find((r) => r.id === 'tls.version')?.detail).toMatch(/^TLSv1\.[23] /);
    expect(report.results.find((r) => r.id === 'tls.cipher-suite')?.detail).toMatch(/TLS_AES_256_GCM_SHA384|TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384/);
  });
});

describe('the TLS checks catch broken HTTPS servers', () => {
  it('warn when TLS 1.0 is still accepted', async () => {
    expect(statuses(await runOverHttps(['tls-legacy'], 'tls.legacy-refused,tls.version'))).toEqual({ 'tls.version': 'pass', 'tls.legacy-refused': 'warn' });
  });

  it('fail when a client without a certificate (or with an untrusted one) is served', async () => {
    expect(statuses(await runOverHttps(['mtls-optional'], 'tls.mtls-*'))).toEqual({
      'tls.mtls-no-client-cert': 'fail',
      'tls.mtls-untrusted-cert': 'fail',
      'tls.mtls-expired-cert': 'fail',
    });
  });

  it("refuse expired client certificates: a throwaway CA's by default, the trusted CA's with --expired-cert", async () => {
    const own = await runOverHttps([], 'tls.mtls-expired-cert');
    expect(own.results[0]).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^an expired certificate of a throwaway CA refused/) });
    const given = await runOverHttps([], 'tls.mtls-expired-cert', true, true);
    expect(given.results[0]).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^the expired certificate given with --expired-cert refused/) });
  });

  it('fail when an expired certificate of the trusted CA is served', async () => {
    const r = await runOverHttps(['mtls-accepts-expired'], 'tls.mtls-expired-cert,tls.mtls-untrusted-cert,tls.mtls-no-client-cert', true, true);
    expect(statuses(r)).toEqual({ 'tls.mtls-no-client-cert': 'pass', 'tls.mtls-untrusted-cert': 'pass', 'tls.mtls-expired-cert': 'fail' });
  });

  it('fail when there is no HTTP/1.1 fallback', async () => {
    expect(statuses(await runOverHttps(['h2-only'], 'tls.http1,tls.http2'))).toEqual({ 'tls.http1': 'fail', 'tls.http2': 'pass' });
  });

  it('do not count a refusal as mTLS when even the configured certificate gets no answer', async () => {
    const r = await runOverHttps(['h2-only'], 'tls.mtls-no-client-cert');
    expect(r.results[0]?.status).toBe('fail');
    expect(r.results[0]?.detail).toMatch(/configured client certificate gets no answer/);
  });

  it('skip the mTLS checks when no client certificate is given', async () => {
    const r = await runOverHttps(['mtls-optional'], 'tls.mtls-*', false);
    expect(r.results.map((x) => [x.status, x.detail])).toEqual([
      ['skip', 'no client certificate given (--cert), mTLS not tested'],
      ['skip', 'no client certificate given (--cert), mTLS not tested'],
      ['skip', 'no client certificate given (--cert), mTLS not tested'],
    ]);
  });
});

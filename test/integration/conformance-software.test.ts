/**
 * Runs the independent conformance harness (conformance/) against our proxy on the
 * software keystore: over plain HTTP like `npm start`, and over HTTPS with HTTP/2 and mTLS.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runConformance, type ConformanceReport } from '../../conformance/run.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function startSoftwareProxy(server: Record<string, unknown>, pki?: TestPki): Promise<RunningProxy> {
  const fx: SoftwareFixture = await createSoftwareFixture();
  cleanups.push(() => fx.cleanup());
  const config = parseConfig(softwareConfig(fx.keystorePath, fx.kekHex, { server: { host: '127.0.0.1', port: 0, ...server } }), 'c.yaml');
  const proxy = await startProxy({ config, file: 'c.yaml', configDir: pki?.dir ?? fx.dir }, { logger: pino({ level: 'silent' }) });
  cleanups.push(() => proxy.close());
  return proxy;
}

function failures(report: ConformanceReport): string[] {
  return report.results.filter((r) => r.status === 'fail').map((r) => `${r.id}: ${r.detail ?? ''}`);
}

describe('conformance harness against the software keystore', () => {
  it('passes every MUST check over HTTP (the demo setup)', async () => {
    const proxy = await startSoftwareProxy({});
    const report = await runConformance({ endpoint: proxy.url });
    expect(failures(report)).toEqual([]);
    expect(report.summary.conformant).toBe(true);
    expect(report.summary.passed).toBeGreaterThan(80);
  }, 120_000);

  it('passes every check over HTTPS with HTTP/2 and mTLS, including the TLS group', async () => {
    const pki = createTestPki();
    cleanups.push(() => pki.cleanup());
    const proxy = await startSoftwareProxy(
      { tls: { cert: pki.serverCert, key: pki.serverKey, mtls: { clientCa: pki.caCert, clientSubjectCn: 'cks.kms.us-east-1.amazonaws.com' } } },
      pki,
    );
    const report = await runConformance({
      endpoint: `https://localhost:${proxy.listener.address.port}`,
      tls: { ca: readFileSync(pki.caCert, 'utf8'), cert: readFileSync(pki.clientCert, 'utf8'), key: readFileSync(pki.clientKey, 'utf8') },
    });
    expect(failures(report)).toEqual([]);
    const tlsChecks = report.results.filter((r) => r.group === 'tls');
    expect(tlsChecks.length).toBeGreaterThanOrEqual(7);
    expect(tlsChecks.every((r) => r.status === 'pass')).toBe(true);
  }, 120_000);
});

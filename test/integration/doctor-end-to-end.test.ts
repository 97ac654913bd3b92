import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import type { CheckGroup, CheckResult } from '../../src/diagnostics/check-result.ts';
import { runDoctor, type DoctorOptions } from '../../src/diagnostics/run-doctor.ts';
import { startProxy, type RunningProxy } from '../../src/server/start-proxy.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { DEMO_PREFIX } from '../support/xks-client.ts';
import { createBrokenPki, type BrokenPki } from '../unit/diagnostics/support/broken-pki.ts';

let pki: BrokenPki;
let fx: SoftwareFixture;
let proxy: RunningProxy;
let endpoint: string;
const proxyLog: string[] = [];

/** A config like the proxy's, with `change` applied to its only key store. */
function doctorConfig(name: string, change: (ks: Record<string, unknown>) => void = () => {}): string {
  const raw = softwareConfig(fx.keystorePath, fx.kekHex) as { keyStores: Array<Record<string, unknown>> };
  change(raw.keyStores[0]!);
  const file = join(fx.dir, `${name}.yaml`);
  writeFileSync(file, stringify(raw));
  return file;
}

beforeAll(async () => {
  pki = createBrokenPki();
  fx = await createSoftwareFixture();
  const raw = softwareConfig(fx.keystorePath, fx.kekHex, { server: { host: '127.0.0.1', port: 0, tls: { cert: pki.fullChain, key: pki.leafKey } } });
  const sink = new Writable({
    write(chunk, _enc, done) {
      proxyLog.push(String(chunk));
      done();
    },
  });
  proxy = await startProxy({ config: parseConfig(raw, 'proxy.yaml'), file: 'proxy.yaml', configDir: fx.dir }, { logger: pino({ level: 'info' }, sink) });
  endpoint = `https://localhost:${proxy.listener.address.port}`;
});
afterAll(async () => {
  await proxy?.close();
  await fx?.cleanup();
  pki?.cleanup();
});

const E2E_ONLY: CheckGroup[] = ['tls', 'credentials', 'latency', 'clock'];

async function doctor(configPath: string, extra: Partial<DoctorOptions> = {}) {
  const report = await runDoctor({ configPath, endpoint, caFiles: [pki.rootCert], skip: E2E_ONLY, env: {}, keys: ['foo'], ...extra });
  const line = (id: string): CheckResult => {
    const found = report.checks.find((c) => c.id === id);
    if (found === undefined) throw new Error(`no ${id} line in ${JSON.stringify(report.checks, null, 1)}`);
    return found;
  };
  return { report, line };
}

const lastLogFor = (status: number) => JSON.parse(proxyLog.filter((l) => l.includes('"xks request"') && l.includes(`"status":${status}`)).at(-1) ?? '{}') as Record<string, unknown>;

describe('doctor end to end through the public endpoint', () => {
  it('sends a signed GetHealthStatus and an Encrypt/Decrypt round trip as KMS does', async () => {
    const { line, report } = await doctor(doctorConfig('good'));
    const health = line('e2e.health');
    // On a loaded 2-core CI machine the TLS handshake alone can pass KMS's 250 ms, which
    // the doctor rightly reports as a latency warning; anything else must be ok.
    if (health.level === 'warn') expect(health.message).toMatch(/GetHealthStatus worked but took \d+ ms/);
    else expect(health).toMatchObject({ level: 'ok', message: expect.stringContaining('keystore.json=ACTIVE') });
    expect(line('e2e.crypto')).toMatchObject({ level: expect.stringMatching(/^(ok|warn)$/), subject: expect.stringContaining('key foo') });
    expect(report.checks.filter((c) => c.level === 'fail')).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('fails with INVALID_CREDENTIALS when the signing clock is 10 minutes off, and the proxy logs the skew', async () => {
    const { line } = await doctor(doctorConfig('skew'), { signingClock: () => new Date(Date.now() - 10 * 60_000) });
    expect(line('e2e.health')).toMatchObject({ level: 'fail', kmsState: 'INVALID_CREDENTIALS' });
    expect(line('e2e.health').message).toContain('AuthenticationFailedException');
    expect(line('e2e.health').fix).toContain('clocks');
    expect(String(lastLogFor(401).reason)).toMatch(/^sigv4 date-out-of-window: .* (599|600|601) s in the past/);
  });

  it('fails with INVALID_CREDENTIALS when KMS would hold a different secret', async () => {
    const config = doctorConfig('wrong-secret', (ks) => {
      ks.credentials = [{ accessKeyId: 'BETWEEN2TENAND3TENCHARACTERS', secretAccessKey: 'ThisIsNotTheSecretTheProxyHasButItIsLongEnough0' }];
    });
    const { line } = await doctor(config);
    expect(line('e2e.health').kmsState).toBe('INVALID_CREDENTIALS');
    expect(String(lastLogFor(401).reason)).toMatch(/^sigv4 signature-mismatch/);
  });

  it('fails with XKS_PROXY_INVALID_CONFIGURATION for a URI path the proxy does not serve, and the proxy logs both prefixes', async () => {
    const { line } = await doctor(doctorConfig('wrong-prefix', (ks) => (ks.prefix = 'wrong/prefix')));
    expect(line('e2e.health')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_INVALID_CONFIGURATION' });
    expect(line('e2e.health').message).toContain('InvalidUriPathException');
    const log = lastLogFor(404);
    expect(String(log.reason)).toContain('"wrong/prefix"');
    expect(String(log.reason)).toContain(JSON.stringify(DEMO_PREFIX));
  });

  it('takes the clock sample for the clock check from the endpoint answer', async () => {
    const report = await runDoctor({ configPath: doctorConfig('clock'), endpoint, caFiles: [pki.rootCert], skip: ['tls', 'credentials', 'keys', 'latency'], env: {}, ntpSynchronized: async () => undefined });
    const clock = report.checks.find((c) => c.id === 'clock.skew');
    expect(clock?.level).toBe('ok');
    expect(clock?.message).toContain(endpoint);
  });

  it('refuses an endpoint with a path, since KMS takes the path from XksProxyUriPath', async () => {
    const { line } = await doctor(doctorConfig('path'), { endpoint: `${endpoint}/${DEMO_PREFIX}` });
    expect(line('config.endpoint').level).toBe('fail');
  });
});

describe('doctor end to end against broken endpoints', () => {
  it('reports XKS_PROXY_INVALID_RESPONSE when something else answers on the endpoint', async () => {
    const other = https.createServer({ cert: readFileSync(pki.fullChain), key: readFileSync(pki.leafKey) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>Welcome to nginx!</html>');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const { line } = await doctor(doctorConfig('other'), { endpoint: `https://localhost:${(other.address() as AddressInfo).port}` });
      expect(line('e2e.health')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_INVALID_RESPONSE' });
      expect(line('e2e.health').message).toContain('Welcome to nginx');
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('reports XKS_PROXY_NOT_REACHABLE when nothing listens', async () => {
    const { line } = await doctor(doctorConfig('closed'), { endpoint: 'https://127.0.0.1:1' });
    expect(line('e2e.health')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_NOT_REACHABLE' });
  });

  it('reports the TLS refusal when the endpoint certificate is not trusted', async () => {
    const { line } = await doctor(doctorConfig('untrusted'), { caFiles: [] });
    expect(line('e2e.health')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION' });
  });
});

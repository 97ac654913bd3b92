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
import { fetchStatus } from '../../src/cli/status-command.ts';
import { runDoctor, type DoctorOptions } from '../../src/diagnostics/run-doctor.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';
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
  const raw = softwareConfig(fx.keystorePath, fx.kekHex, {
    server: { host: '127.0.0.1', port: 0, statusEndpoint: true, tls: { cert: pki.fullChain, key: pki.leafKey } },
  });
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

const lastLogFor = (status: number) =>
  JSON.parse(proxyLog.filter((l) => l.includes('"xks request"') && l.includes(`"status":${status}`)).at(-1) ?? '{}') as Record<string, unknown>;

describe('doctor end to end through the public endpoint', () => {
  it('sends a signed GetHealthStatus and an Encrypt/Decrypt round trip as KMS does', async () => {
    const { line, report } = await doctor(doctorConfig('good'));
    const health = line('e2e.health');
    // On a loaded 2-core CI machine the TLS handshake alone can pass KMS's 250 ms, which
    // the doctor rightly reports as a latency warning; anything else must be ok.
    // elapsedMs has one decimal ("took 334.1 ms").
    if (health.level === 'warn') expect(health.message).toMatch(/GetHealthStatus worked but took \d+(\.\d)? ms/);
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

  it('fails with INVALID_CREDENTIALS when KMS would hold a different secret, names its kmsRequestId (on the 401 log line too) and prints the reason the proxy recorded', async () => {
    const config = doctorConfig('wrong-secret', (ks) => {
      ks.credentials = [{ accessKeyId: 'BETWEEN2TENAND3TENCHARACTERS', secretAccessKey: 'ThisIsNotTheSecretTheProxyHasButItIsLongEnough0' }];
    });
    const readStatus = () => fetchStatus(new URL(`https://127.0.0.1:${proxy.listener.address.port}/status`), {});
    const { line } = await doctor(config, { readStatus });
    const health = line('e2e.health');
    expect(health.kmsState).toBe('INVALID_CREDENTIALS');
    const id = /kmsRequestId (xks-proxy-doctor-[0-9a-f-]{36})/.exec(health.message)?.[1];
    expect(id).toBeDefined();
    const logged = lastLogFor(401);
    expect(logged.kmsRequestId).toBe(id);
    expect(String(logged.reason)).toMatch(/^sigv4 signature-mismatch/);
    expect(health.message).toContain(`the proxy logged the reason: ${String(logged.reason)}`);
  });

  it('without the status view, tells which log line to read by its kmsRequestId', async () => {
    const config = doctorConfig('wrong-secret-no-status', (ks) => {
      ks.credentials = [{ accessKeyId: 'BETWEEN2TENAND3TENCHARACTERS', secretAccessKey: 'ThisIsNotTheSecretTheProxyHasButItIsLongEnough0' }];
    });
    const { line } = await doctor(config, { readStatus: () => Promise.reject(new Error('no status view')) });
    const id = /kmsRequestId (xks-proxy-doctor-[0-9a-f-]{36})/.exec(line('e2e.health').message)?.[1];
    expect(line('e2e.health').fix).toContain(`log line with kmsRequestId ${id}`);
    expect(lastLogFor(401).kmsRequestId).toBe(id);
  });

  it('fails with XKS_PROXY_INVALID_CONFIGURATION for a URI path the proxy does not serve, and the proxy logs both prefixes', async () => {
    const { line } = await doctor(doctorConfig('wrong-prefix', (ks) => (ks.prefix = 'wrong/prefix')));
    expect(line('e2e.health')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_INVALID_CONFIGURATION' });
    expect(line('e2e.health').message).toContain('InvalidUriPathException');
    const log = lastLogFor(404);
    expect(String(log.reason)).toContain('"wrong/prefix"');
    expect(String(log.reason)).toContain(JSON.stringify(DEMO_PREFIX));
  });

  it('does not call the clock ok by comparing it with the proxy itself (the endpoint Date header)', async () => {
    const report = await runDoctor({
      configPath: doctorConfig('clock'),
      endpoint,
      caFiles: [pki.rootCert],
      skip: ['tls', 'credentials', 'keys', 'latency'],
      env: {},
      ntpSynchronized: async () => undefined,
    });
    const clock = report.checks.find((c) => c.id === 'clock.skew');
    expect(clock?.level).toBe('skip');
    expect(clock?.message).toContain('not checked: no independent time reference');
    expect(clock?.message).not.toContain(endpoint);
  });

  it('says a named key that KMS would refuse is why Encrypt/Decrypt were not tested, instead of asking for --key', async () => {
    const { line, report } = await doctor(doctorConfig('named-bad-key'), { keys: ['encrypt_only_key'] });
    expect(line('keys.key').level).toBe('fail');
    expect(line('e2e.crypto').level).toBe('skip');
    expect(line('e2e.crypto').message).toContain('none of the keys given with --key (encrypt_only_key)');
    expect(line('e2e.crypto').message).not.toContain('pass --key');
    expect(report.ok).toBe(false);
  });

  it('fails an endpoint given as an IP address: XksProxyUriEndpoint must be a DNS name', async () => {
    const ipEndpoint = `https://127.0.0.1:${proxy.listener.address.port}`;
    const { line, report } = await doctor(doctorConfig('ip'), { endpoint: ipEndpoint, skip: ['credentials', 'latency', 'clock'] });
    expect(line('config.endpoint')).toMatchObject({ level: 'fail', message: expect.stringContaining('must be a DNS name') });
    const endpointHostname = report.checks.find((c) => c.id === 'tls.hostname' && c.subject.startsWith('endpoint'));
    expect(endpointHostname?.level).toBe('fail');
    expect(endpointHostname?.message).toContain('must be a DNS name');
    expect(endpointHostname?.fix).not.toContain('DNS:127.0.0.1');
    expect(report.ok).toBe(false);
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

describe('doctor end to end through an mTLS endpoint', () => {
  let mtlsPki: TestPki;
  let mtlsProxy: RunningProxy;
  let mtlsEndpoint: string;

  beforeAll(async () => {
    mtlsPki = createTestPki();
    const raw = softwareConfig(fx.keystorePath, fx.kekHex, {
      server: {
        host: '127.0.0.1',
        port: 0,
        tls: { cert: mtlsPki.serverCert, key: mtlsPki.serverKey, mtls: { clientCa: mtlsPki.caCert, clientSubjectCn: 'cks.kms.us-east-1.amazonaws.com' } },
      },
    });
    mtlsProxy = await startProxy({ config: parseConfig(raw, 'mtls.yaml'), file: 'mtls.yaml', configDir: fx.dir }, { logger: pino({ level: 'silent' }) });
    mtlsEndpoint = `https://localhost:${mtlsProxy.listener.address.port}`;
  });
  afterAll(async () => {
    await mtlsProxy?.close();
    mtlsPki?.cleanup();
  });

  const mtlsDoctor = (extra: Partial<DoctorOptions>) =>
    doctor(doctorConfig('mtls-client'), { endpoint: mtlsEndpoint, caFiles: [mtlsPki.caCert], skip: ['credentials', 'latency', 'clock'], ...extra });

  it('uses --client-cert for the end-to-end calls too, so GetHealthStatus and Encrypt/Decrypt go through', async () => {
    const { line, report } = await mtlsDoctor({ clientCert: mtlsPki.clientCert, clientKey: mtlsPki.clientKey });
    expect(line('e2e.health').level).toMatch(/^(ok|warn)$/);
    expect(line('e2e.crypto').level).toMatch(/^(ok|warn)$/);
    const endpointHandshake = report.checks.find((c) => c.id === 'tls.handshake' && c.subject.startsWith('endpoint'));
    expect(endpointHandshake?.message).toContain('with the client certificate given');
  });

  it('says "this endpoint requires a client certificate" when none was given, instead of blaming the endpoint', async () => {
    const { line, report } = await mtlsDoctor({});
    expect(line('e2e.health').level).toBe('skip');
    expect(line('e2e.health').message).toContain('this endpoint requires a client certificate');
    expect(line('e2e.health').message).toContain('--client-cert');
    const endpointHandshake = report.checks.find((c) => c.id === 'tls.handshake' && c.subject.startsWith('endpoint'));
    expect(endpointHandshake?.message).toContain('this endpoint requires a client certificate');
    expect(report.checks.find((c) => c.id === 'tls.protocol' && c.subject.startsWith('endpoint'))?.level).toBe('ok');
  });

  it('fails when the endpoint refuses the client certificate given (wrong subject)', async () => {
    const { line } = await mtlsDoctor({ clientCert: mtlsPki.wrongSubjectCert, clientKey: mtlsPki.wrongSubjectKey });
    expect(line('e2e.health')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION' });
    expect(line('e2e.health').message).toContain('refused the one given with --client-cert');
  });
});

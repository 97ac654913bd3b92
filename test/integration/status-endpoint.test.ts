import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStatus } from '../../src/cli/status-command.ts';
import { statusRoutes } from '../../src/diagnostics/status-routes.ts';
import type { StatusReport } from '../../src/diagnostics/status-report.ts';
import { createApp } from '../../src/server/app.ts';
import { startListener, type RunningListener } from '../../src/server/listener.ts';
import { StatusTracker } from '../../src/server/status-tracker.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';
import { createBrokenPki, type BrokenPki } from '../unit/diagnostics/support/broken-pki.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
let pki: BrokenPki;
let fx: SoftwareFixture;
let listener: RunningListener;
let root: Hono;
let base: string;
let agent: Agent;
const proxyLog: string[] = [];

beforeAll(async () => {
  pki = createBrokenPki();
  fx = await createSoftwareFixture({
    rawConfig: (path, kek) => {
      const raw = softwareConfig(path, kek, { server: { host: '127.0.0.1', port: 0, tls: { cert: pki.fullChain, key: pki.leafKey } } }) as {
        keyStores: Array<{ credentials: Array<Record<string, string>> }>;
      };
      raw.keyStores[0]!.credentials[0]!.createdAt = '2024-01-01';
      return raw;
    },
  });
  const sink = new Writable({
    write(chunk, _enc, done) {
      proxyLog.push(String(chunk));
      done();
    },
  });
  // Wired as start-proxy.ts will wire it: the tracker observes the app, /status is mounted first.
  const tracker = new StatusTracker((prefix) => fx.tenants.get(prefix) !== undefined);
  const app = createApp({
    tenants: fx.tenants,
    logger: pino({ level: 'info' }, sink),
    bodyLimitBytes: 64 * 1024,
    requestTimeoutMs: 2000,
    observers: [tracker.observe],
  });
  root = new Hono();
  root.route('/', statusRoutes(tracker, fx.tenants, { current: () => ({ config: fx.config, configDir: fx.dir }), token: 'status-token-for-tests-0123456789' }));
  root.route('/', app);
  listener = await startListener(root, fx.config.server, { logger: pino({ level: 'silent' }), configDir: fx.dir });
  base = `https://localhost:${listener.address.port}`;
  agent = new Agent({ connect: { ca: readFileSync(pki.rootCert) } });
});
afterAll(async () => {
  await agent?.close();
  await listener?.close();
  await fx?.cleanup();
  pki?.cleanup();
});

async function kmsCall(path: string, body: string, date?: Date): Promise<number> {
  const headers = signXks(path, body, { host: `localhost:${listener.address.port}`, ...(date ? { date } : {}) });
  const res = await request(`${base}${path}`, { method: 'POST', headers, body, dispatcher: agent });
  await res.body.dump();
  return res.statusCode;
}

const status = () => fetchStatus(new URL(`${base}/status`), {});
const store = (r: StatusReport) => r.keyStores.find((k) => k.prefix === DEMO_PREFIX)!;
const HEALTH_BODY = JSON.stringify({ requestMetadata: { kmsRequestId: 'r-1', kmsOperation: 'KmsHealthCheck' } });

describe('status view of a running proxy', () => {
  it('says KMS never reached a key store before any request, with certificate, credentials and key managers', async () => {
    const report = await status();
    const ks = store(report);
    expect(ks.verdict).toMatch(/^No request has reached this key store/);
    expect(ks.lastHealthCheck).toBeNull();
    expect(ks.ekmFleet).toEqual([expect.objectContaining({ id: 'keystore.json', healthStatus: 'ACTIVE' })]);
    expect(ks.credentials).toEqual([
      expect.objectContaining({ accessKeyId: DEMO_CREDENTIAL.accessKeyId, createdAt: '2024-01-01', lastUsedAt: null, requests: 0 }),
    ]);
    expect(ks.credentials[0]!.ageDays).toBeGreaterThan(300);
    expect(report.certificate?.subject).toContain('CN=xks.doctor.test');
    expect(report.certificate?.daysLeft).toBeGreaterThanOrEqual(88);
  });

  it('records a signed GetHealthStatus from KMS and the credential it used', async () => {
    expect(await kmsCall(xksPath(DEMO_PREFIX, 'health'), HEALTH_BODY)).toBe(200);
    const ks = store(await status());
    expect(ks.lastHealthCheck).toMatchObject({ status: 200, kmsOperation: 'KmsHealthCheck' });
    expect(ks.credentials[0]!.lastUsedAt).not.toBeNull();
    expect(ks.verdict).toMatch(/^KMS reaches this key store/);
  });

  it('shows a request signed with a skewed date as refused, with the skew from the log reason', async () => {
    expect(await kmsCall(xksPath(DEMO_PREFIX, 'health'), HEALTH_BODY, new Date(Date.now() - 10 * 60_000))).toBe(401);
    const logged = proxyLog.filter((l) => l.includes('"status":401')).at(-1)!;
    expect(JSON.parse(logged).reason).toMatch(/^sigv4 date-out-of-window: x-amz-date \d{8}T\d{6}Z is (599|600|601) s in the past/);
    const ks = store(await status());
    const error = ks.errors.find((e) => e.errorName === 'AuthenticationFailedException');
    expect(error).toMatchObject({ count: 1, status: 401, operation: 'health' });
    expect(error?.reason).toContain('s in the past');
    expect(ks.verdict).toMatch(/refused with AuthenticationFailedException \(sigv4 date-out-of-window/);
  });

  it('lists requests for a prefix nobody configured', async () => {
    const body = JSON.stringify({ requestMetadata: requestMetadata('Encrypt') });
    expect(await kmsCall(xksPath('typo/prefix', 'metadata'), body)).toBe(404);
    const report = await status();
    expect(report.unknownPrefixes).toEqual([expect.objectContaining({ prefix: 'typo/prefix', count: 1 })]);
    expect(store(report).requests.error).toBe(1);
  });

  it('refuses clients that are not on this host, and loopback clients that forward for someone else', async () => {
    const remote = await root.request('/status', {}, { incoming: { socket: { remoteAddress: '10.1.2.3' } } });
    expect(remote.status).toBe(403);
    const forwarded = await request(`${base}/status`, { dispatcher: agent, headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(forwarded.statusCode).toBe(403);
    await forwarded.body.dump();
    const withToken = await root.request(
      '/status',
      { headers: { authorization: 'Bearer status-token-for-tests-0123456789' } },
      { incoming: { socket: { remoteAddress: '10.1.2.3' } } },
    );
    expect(withToken.status).toBe(200);
    const wrongToken = await root.request('/status', { headers: { authorization: 'Bearer nope' } }, { incoming: { socket: { remoteAddress: '10.1.2.3' } } });
    expect(wrongToken.status).toBe(403);
  });

  it('prints the view readably with xks-proxy status', async () => {
    const entry =
      "const { statusCommand } = await import('./src/cli/status-command.ts'); await statusCommand().parseAsync(process.argv.slice(1), { from: 'user' });";
    const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', entry, '--', '--url', base],
        { cwd: REPO, timeout: 60_000 },
        (error, stdout) => resolve({ code: error ? 1 : 0, stdout }),
      );
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`key store "${DEMO_PREFIX}"`);
    expect(out.stdout).toMatch(/last GetHealthStatus: .* HTTP 401 AuthenticationFailedException: sigv4 date-out-of-window/);
    expect(out.stdout).toMatch(/AuthenticationFailedException x1, last .* on health/);
    expect(out.stdout).toContain('"typo/prefix" x1');
    expect(out.stdout).toMatch(/BETWEEN2TENAND3TENCHARACTERS {2}created 2024-01-01/);
  });

  it('tells the operator to enable the endpoint when the proxy does not serve it', async () => {
    const plain = await startListener(
      createApp({ tenants: fx.tenants, logger: pino({ level: 'silent' }), bodyLimitBytes: 65536, requestTimeoutMs: 2000 }),
      { ...fx.config.server, tls: undefined },
      { logger: pino({ level: 'silent' }), configDir: fx.dir },
    );
    try {
      await expect(fetchStatus(new URL(`http://127.0.0.1:${plain.address.port}/status`), {})).rejects.toThrow(/server\.statusEndpoint: true/);
    } finally {
      await plain.close();
    }
  });
});

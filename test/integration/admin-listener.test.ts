/**
 * Issue 21 items 1 and 2: the admin listener (config `admin:`) serves /ping, /ready and
 * /status on plain loopback HTTP, apart from the XKS listener's mTLS, for the image's
 * HEALTHCHECK and `xks-proxy status`; under `serve --workers 2` the primary serves it and
 * answers for both workers together.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { runCli, startServing, type ServingProcess } from '../support/cli-process.ts';
import { makeTempDir } from '../support/software-keystore-fixture.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX, healthOnNewConnection } from '../support/xks-client.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = http
      .createServer()
      .once('error', reject)
      .listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
  });
}

function get(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
      })
      .on('error', reject);
  });
}

async function writeConfig(dir: string, lines: string[]): Promise<string> {
  const kek = randomBytes(32).toString('hex');
  await ensureDemoKeystore(join(dir, 'keystore.json'), { kek });
  const file = join(dir, 'config.yaml');
  await writeFile(
    file,
    [
      ...lines,
      'logging: { level: info, pretty: false }',
      'keyStores:',
      `  - prefix: ${DEMO_PREFIX}`,
      '    credentials:',
      `      - { accessKeyId: ${DEMO_CREDENTIAL.accessKeyId}, secretAccessKey: ${DEMO_CREDENTIAL.secretAccessKey} }`,
      `    provider: { type: software, path: keystore.json, kek: ${kek} }`,
      '',
    ].join('\n'),
  );
  return file;
}

/** The image's HEALTHCHECK command, run as Docker would, with XKS_HEALTHCHECK_URL set. */
async function dockerHealthcheck(url: string): Promise<number> {
  const dockerfile = await readFile(join(REPO, 'Dockerfile'), 'utf8');
  const cmd = JSON.parse(/HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])/.exec(dockerfile)![1]!) as string[];
  return new Promise((resolve) => {
    execFile(process.execPath, cmd.slice(1), { env: { PATH: process.env.PATH, XKS_HEALTHCHECK_URL: url }, timeout: 10_000 }, (e) =>
      resolve(e === null ? 0 : typeof e.code === 'number' ? e.code : 1),
    );
  });
}

describe('admin listener with mTLS on the XKS listener (serve, one process)', () => {
  let pki: TestPki;
  let dir: string;
  let cleanup: () => Promise<void>;
  let proxy: ServingProcess;
  let config: string;
  let adminPort: number;

  beforeAll(async () => {
    pki = createTestPki();
    ({ dir, cleanup } = await makeTempDir());
    adminPort = await freePort();
    config = await writeConfig(dir, [
      'server:',
      '  host: 127.0.0.1',
      '  port: 0',
      `  tls: { cert: ${pki.serverCert}, key: ${pki.serverKey}, mtls: { clientCa: ${pki.caCert}, clientSubjectCn: cks.kms.us-east-1.amazonaws.com } }`,
      `admin: { host: 127.0.0.1, port: ${adminPort} }`,
    ]);
    proxy = await startServing(['serve', '--config', config], {}, 60_000);
  }, 90_000);

  afterAll(async () => {
    if (proxy?.child.exitCode === null) await proxy.stop();
    pki?.cleanup();
    await cleanup?.();
  });

  it('the XKS port refuses /ping without the client certificate only AWS holds', async () => {
    const outcome = await new Promise<string>((resolve) => {
      https
        .get(`${proxy.url}/ping`, { rejectUnauthorized: false, agent: false }, (res) => resolve(`HTTP ${res.statusCode}`))
        .on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
    expect(outcome).toMatch(/^error /);
  });

  it('answers /ping, /ready and /status on the admin port without a certificate', async () => {
    const base = `http://127.0.0.1:${adminPort}`;
    expect(await get(`${base}/ping`)).toEqual({ status: 200, json: { status: 'ok' } });
    const ready = await get(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json['ready']).toBe(true);
    const status = await get(`${base}/status`);
    expect(status.status).toBe(200);
    expect((status.json['keyStores'] as Array<{ prefix: string }>)[0]!.prefix).toBe(DEMO_PREFIX);
  });

  it('`xks-proxy status` finds the admin listener from the config', async () => {
    const r = await runCli(['status', '--config', config]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`key store "${DEMO_PREFIX}"`);
  });

  it('without an admin section, `xks-proxy status` says the listener needs a client certificate and what to do', async () => {
    const port = new URL(proxy.url).port;
    const noAdmin = join(dir, 'no-admin.yaml');
    const text = (await readFile(config, 'utf8')).replace(/^admin: .*$/m, '').replace('port: 0', `port: ${port}`);
    await writeFile(noAdmin, text.replace(/^server:/m, 'server:\n  statusEndpoint: true'));
    const r = await runCli(['status', '--config', noAdmin]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('the listener requires a client certificate (server.tls.mtls); add an `admin:` section');
  });

  it("the image's HEALTHCHECK passes against its default URL's admin port, and fails on the mTLS port", async () => {
    const dockerfile = await readFile(join(REPO, 'Dockerfile'), 'utf8');
    const defaultUrl = /XKS_HEALTHCHECK_URL=(\S+)/.exec(dockerfile)![1]!;
    expect(defaultUrl).toBe('http://127.0.0.1:9480/ping');
    expect(await dockerHealthcheck(defaultUrl.replace(':9480', `:${adminPort}`))).toBe(0);
    expect(await dockerHealthcheck(`${proxy.url}/ping`)).not.toBe(0);
  }, 30_000);
});

describe('admin listener under serve --workers 2', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let proxy: ServingProcess;
  let config: string;
  let adminPort: number;

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir());
    adminPort = await freePort();
    config = await writeConfig(dir, [
      'server: { host: 127.0.0.1, port: 0 }',
      `admin: { host: 127.0.0.1, port: ${adminPort} }`,
      'rateLimit: { requestsPerSecond: 1000, burst: 500 }',
    ]);
    proxy = await startServing(['serve', '--config', config, '--workers', '2'], {}, 90_000);
  }, 120_000);

  afterAll(async () => {
    if (proxy?.child.exitCode === null) await proxy.stop();
    await cleanup?.();
  });

  const health = (): Promise<number> => healthOnNewConnection(proxy.url);

  it('`xks-proxy status` shows the requests of both workers, the same on every call', async () => {
    const SENT = 8;
    for (let i = 0; i < SENT; i++) expect(await health()).toBe(200);
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runCli(['status', '--config', config, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { keyStores: Array<{ requests: { ok: number } }>; workers: Array<{ worker: number; requests: number }> };
      expect(report.workers.map((w) => w.worker)).toEqual([0, 1]);
      // Connections are handed out in turn: both workers served some of them.
      expect(report.workers.every((w) => w.requests > 0)).toBe(true);
      seen.push(report.keyStores[0]!.requests.ok);
    }
    expect(seen).toEqual([SENT, SENT, SENT]);
    const text = await runCli(['status', '--config', config]);
    expect(text.stdout).toMatch(/^workers: 2, totals over all of them: 0 \(\d+ requests\), 1 \(\d+ requests\)$/m);
    // The configured limit, not one worker's half of it.
    expect(text.stdout).toContain('rate limits: proxy-wide 1000/s burst 500 (for all 2 workers together; each admits its share)');
  }, 60_000);

  it('/ready answers for both workers', async () => {
    const ready = await get(`http://127.0.0.1:${adminPort}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json['ready']).toBe(true);
    expect((ready.json['workers'] as Array<{ worker: number; ready: boolean }>).map((w) => [w.worker, w.ready])).toEqual([
      [0, true],
      [1, true],
    ]);
  });
});

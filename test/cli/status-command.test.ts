import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { runCli, startServing, type ServingProcess } from '../support/cli-process.ts';
import { DEMO_CREDENTIAL, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

let dir: string;
let proxy: ServingProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xks-status-'));
  const kek = randomBytes(32).toString('hex');
  await ensureDemoKeystore(join(dir, 'keystore.json'), { kek });
  await writeFile(
    join(dir, 'xks.yaml'),
    [
      'server: { host: 127.0.0.1, port: 0, statusEndpoint: true }',
      'logging: { pretty: false }',
      'keyStores:',
      '  - prefix: tenant',
      '    credentials:',
      `      - { accessKeyId: ${DEMO_CREDENTIAL.accessKeyId}, secretAccessKey: ${DEMO_CREDENTIAL.secretAccessKey}, createdAt: 2026-01-01 }`,
      `    provider: { type: software, path: keystore.json, kek: ${kek} }`,
      '',
    ].join('\n'),
  );
  proxy = await startServing(['serve', '--config', join(dir, 'xks.yaml'), '--workers', '1']);
}, 60_000);
afterAll(async () => {
  await proxy?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('xks-proxy status against a running proxy (server.statusEndpoint: true)', () => {
  it('shows the last GetHealthStatus from KMS and the last refused request with its reason', async () => {
    const health = xksPath('tenant', 'health');
    const body = JSON.stringify({ requestMetadata: requestMetadata('KmsHealthCheck') });
    expect((await fetch(proxy.url + health, { method: 'POST', headers: signXks(health, body, { host: new URL(proxy.url).host }), body })).status).toBe(200);
    const stale = signXks(health, body, { host: new URL(proxy.url).host, date: new Date(Date.now() - 10 * 60_000) });
    expect((await fetch(proxy.url + health, { method: 'POST', headers: stale, body })).status).toBe(401);

    const { code, stdout } = await runCli(['status', '--url', `${proxy.url}/status`, '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { keyStores: Array<Record<string, any>> };
    const store = report.keyStores.find((k) => k.prefix === 'tenant')!;
    expect(JSON.stringify(store)).toMatch(/AuthenticationFailedException/);
    expect(JSON.stringify(store)).toMatch(/date-out-of-window/);
    expect(JSON.stringify(store)).toMatch(/KmsHealthCheck|lastHealth/i);
    expect(JSON.stringify(store)).not.toContain(DEMO_CREDENTIAL.secretAccessKey);
  });
});

describe('xks-proxy status --token', () => {
  /** A stand-in status server on loopback that records the Authorization header it got. */
  async function recordingServer(): Promise<{ url: string; seen: () => string | undefined; close: () => void }> {
    const { createServer } = await import('node:http');
    let seen: string | undefined;
    const server = createServer((req, res) => {
      seen = req.headers.authorization;
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"recorded"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    return { url: `http://127.0.0.1:${port}/status`, seen: () => seen, close: () => server.close() };
  }

  it('refuses the token itself on the command line, where shell history and ps would keep it', async () => {
    const { code, stderr } = await runCli(['status', '--url', 'http://127.0.0.1:9/status', '--token', 'raw-token-value-0123456789']);
    expect(code).toBe(1);
    expect(stderr).toContain('--token takes a secret reference (env:NAME or file:PATH)');
    expect(stderr).not.toContain('raw-token-value-0123456789');
  });

  it('sends the token read from file: or env: as a bearer token', async () => {
    const srv = await recordingServer();
    try {
      await writeFile(join(dir, 'status-token'), 'token-from-file-0123456789\n', { mode: 0o600 });
      await runCli(['status', '--url', srv.url, '--token', `file:${join(dir, 'status-token')}`]);
      expect(srv.seen()).toBe('Bearer token-from-file-0123456789');
      await runCli(['status', '--url', srv.url, '--token', 'env:XKS_TEST_STATUS_TOKEN'], { XKS_TEST_STATUS_TOKEN: 'token-from-env-0123456789' });
      expect(srv.seen()).toBe('Bearer token-from-env-0123456789');
    } finally {
      srv.close();
    }
  });
});

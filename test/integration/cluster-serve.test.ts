/**
 * `xks-proxy serve --workers 2` as a real process: one "listening" line for the whole
 * cluster, both workers serving signed requests on the shared port, keystore changes
 * reaching every worker, SIGHUP not killing workers, a dead worker replaced in its slot, and
 * SIGTERM stopping them all with 0.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { runCli, startServing, type ServingProcess } from '../support/cli-process.ts';
import { makeTempDir } from '../support/software-keystore-fixture.ts';
import { b64, DEMO_CREDENTIAL, DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

let dir: string;
let cleanup: () => Promise<void>;
let configPath: string;
let proxy: ServingProcess;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir());
  const kek = randomBytes(32).toString('hex');
  await writeFile(join(dir, 'keystore.kek'), `${kek}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'sigv4-secret'), `${DEMO_CREDENTIAL.secretAccessKey}\n`, { mode: 0o600 });
  await ensureDemoKeystore(join(dir, 'keystore.json'), { kek });
  configPath = join(dir, 'config.yaml');
  await writeFile(
    configPath,
    [
      'server: { host: 127.0.0.1, port: 0 }',
      'logging: { level: info, pretty: false }',
      'keyStores:',
      `  - prefix: ${DEMO_PREFIX}`,
      '    credentials:',
      `      - { accessKeyId: ${DEMO_CREDENTIAL.accessKeyId}, secretAccessKey: "file:sigv4-secret" }`,
      '    provider: { type: software, path: keystore.json, kek: "file:keystore.kek" }',
      '',
    ].join('\n'),
  );
  proxy = await startServing(['serve', '--config', configPath, '--port', '0', '--workers', '2'], {}, 90_000);
}, 120_000);

afterAll(async () => {
  if (proxy?.child.exitCode === null) await proxy.stop();
  await cleanup?.();
});

/** One signed XKS call on a new TCP connection (the cluster hands out connections in turn). */
function post(op: 'health' | 'encrypt' | 'decrypt', body: Record<string, unknown>): Promise<{ status: number; json: Record<string, any> }> {
  const path = xksPath(DEMO_PREFIX, op);
  const text = JSON.stringify(body);
  const headers = signXks(path, text);
  const url = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path, headers, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) as Record<string, any> }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

const aad = b64('cluster test context');
const encryptBody = (plaintext: string) => ({
  requestMetadata: requestMetadata('Encrypt'),
  plaintext: b64(plaintext),
  encryptionAlgorithm: 'AES_GCM',
  additionalAuthenticatedData: aad,
  ciphertextDataIntegrityValueAlgorithm: 'SHA_256',
});

/** pid of every worker that logged a finished XKS request so far. */
function servingPids(): Set<number> {
  const pids = new Set<number>();
  for (const line of proxy.output().split('\n')) {
    if (!line.includes('"msg":"xks request"')) continue;
    pids.add((JSON.parse(line) as { pid: number }).pid);
  }
  return pids;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

describe('serve --workers 2', () => {
  it('prints "xks-proxy listening" once, from the primary, with the shared url', async () => {
    const workerLines = () =>
      proxy
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"xks-proxy worker listening"'));
    // The workers' own lines are written asynchronously: wait for both.
    expect(await waitFor(async () => workerLines().length === 2, 5_000)).toBe(true);
    const lines = proxy
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"xks-proxy listening"'));
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as { url: string; workers: number; pid: number };
    expect(line).toMatchObject({ url: proxy.url, workers: 2, pid: proxy.child.pid });
  });

  it('serves signed requests from both workers, and a ciphertext from one decrypts on the other', async () => {
    const roundTrips = [];
    for (let i = 0; i < 6; i++) {
      const enc = await post('encrypt', encryptBody(`secret ${i}`));
      expect(enc.status).toBe(200);
      const dec = await post('decrypt', {
        requestMetadata: requestMetadata('Decrypt'),
        encryptionAlgorithm: 'AES_GCM',
        additionalAuthenticatedData: aad,
        ciphertext: enc.json.ciphertext,
        ciphertextMetadata: enc.json.ciphertextMetadata,
        initializationVector: enc.json.initializationVector,
        authenticationTag: enc.json.authenticationTag,
      });
      roundTrips.push([dec.status, Buffer.from(String(dec.json.plaintext), 'base64').toString()]);
    }
    expect(roundTrips).toEqual(Array.from({ length: 6 }, (_, i) => [200, `secret ${i}`]));
    // Give the asynchronous log a moment to reach the pipe.
    expect(await waitFor(async () => servingPids().size === 2, 5_000)).toBe(true);
    expect(servingPids().has(proxy.child.pid!)).toBe(false);
  });

  it('applies a key disabled with the CLI on every worker', async () => {
    const disabled = await runCli(['keys', 'disable', 'foo', '--config', configPath, '--prefix', DEMO_PREFIX]);
    expect(disabled.code, disabled.stderr).toBe(0);
    // Each worker re-reads the keystore file within about a second; four fresh connections
    // in a row reach both workers.
    const allRefuse = await waitFor(async () => {
      const statuses = await Promise.all([0, 1, 2, 3].map(() => post('encrypt', encryptBody('after disable')).then((r) => r.json.errorName)));
      return statuses.every((s) => s === 'InvalidStateException');
    }, 10_000);
    expect(allRefuse).toBe(true);
    expect((await runCli(['keys', 'enable', 'foo', '--config', configPath, '--prefix', DEMO_PREFIX])).code).toBe(0);
  });

  it('forwards SIGHUP to the workers, which keep serving', async () => {
    const before = new Set(servingPids());
    proxy.child.kill('SIGHUP');
    expect(await waitFor(async () => proxy.output().includes('SIGHUP: forwarding to every worker'), 5_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    const health = await post('health', { requestMetadata: { kmsRequestId: 'h', kmsOperation: 'KmsHealthCheck' } });
    expect(health.status).toBe(200);
    expect(proxy.output()).not.toContain('worker died unexpectedly');
    for (const pid of before) expect(() => process.kill(pid, 0)).not.toThrow();
  });

  it('replaces a worker that dies with one in the same slot, and keeps serving', async () => {
    const workerLine = (pid: number) =>
      proxy
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"xks-proxy worker listening"'))
        .map((l) => JSON.parse(l) as { pid: number; worker: number })
        .find((l) => l.pid === pid);
    const victim = [...servingPids()][0]!;
    const slot = workerLine(victim)!.worker;
    process.kill(victim, 'SIGKILL');
    expect(await waitFor(async () => proxy.output().includes('"msg":"replacement worker listening"'), 30_000)).toBe(true);
    const died = proxy
      .output()
      .split('\n')
      .find((l) => l.includes('worker died unexpectedly; starting a replacement'));
    expect(JSON.parse(died!)).toMatchObject({ workerPid: victim, slot, signal: 'SIGKILL' });
    const replacement = JSON.parse(
      proxy
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"replacement worker listening"'))!,
    ) as { workerPid: number };
    expect(workerLine(replacement.workerPid)?.worker).toBe(slot);
    const health = await post('health', { requestMetadata: { kmsRequestId: 'h2', kmsOperation: 'KmsHealthCheck' } });
    expect(health.status).toBe(200);
  });

  it('stops every worker and exits 0 on SIGTERM', async () => {
    const workers = [...servingPids()];
    expect(await proxy.stop()).toBe(0);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  });
});

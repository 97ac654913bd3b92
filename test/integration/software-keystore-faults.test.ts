/**
 * Faults of the software keystore file under a running proxy process (issue 15, item 3):
 * a FIFO in place of the file (a stand-in for a hung network file system), SIGTERM while
 * it is there, and the exit path with a read really stuck in a libuv thread. And item 8:
 * SIGHUP after fixing the secret file the keystore's KEK reference names.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { addKey, changeKeystore } from '../../src/providers/software/software-keystore.ts';
import { startProxyProcess, type ProxyProcess } from '../support/proxy-process.ts';
import { decryptRequestBody, DEMO_PREFIX, encryptRequestBody, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** KMS's budget for a call; the child proxy gets it as server.requestTimeoutMs. */
const BUDGET_MS = 250;
/** What a request may take on two shared cores: the budget plus scheduling slack. */
const ANSWER_WITHIN_MS = 1_000;

let proxy: ProxyProcess | undefined;
afterEach(async () => {
  await proxy?.stop(0);
  proxy = undefined;
});

/** A signed POST to the child proxy; status, JSON body and time taken. */
async function call(p: ProxyProcess, path: string, body: unknown) {
  const text = JSON.stringify(body);
  const headers = signXks(path, text, { host: new URL(p.url).host });
  delete headers['content-length'];
  const started = performance.now();
  const res = await fetch(`${p.url}${path}`, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, json: (await res.json()) as Record<string, any>, ms: performance.now() - started };
}

async function roundTrip(p: ProxyProcess, keyId: string) {
  const enc = await call(p, xksPath(DEMO_PREFIX, 'encrypt', keyId), encryptRequestBody('fifo test'));
  expect(enc.status, JSON.stringify(enc.json)).toBe(200);
  const dec = await call(p, xksPath(DEMO_PREFIX, 'decrypt', keyId), decryptRequestBody(enc.json));
  expect(dec.status, JSON.stringify(dec.json)).toBe(200);
  expect(Buffer.from(dec.json.plaintext, 'base64').toString()).toBe('fifo test');
  return Math.max(enc.ms, dec.ms);
}

async function healthStatus(p: ProxyProcess): Promise<string> {
  const r = await call(p, xksPath(DEMO_PREFIX, 'health'), { requestMetadata: requestMetadata('KmsHealthCheck') });
  expect(r.status).toBe(200);
  return r.json.ekmFleetDetails[0].healthStatus as string;
}

/** Whether a log line matching `pattern` has arrived (lines are written in batches, so poll this). */
async function logged(p: ProxyProcess, pattern: RegExp): Promise<boolean> {
  return p.output().some((l) => pattern.test(l));
}

/** Polls `get` until it returns `want` (at most `ms`); returns the last value. */
async function until<T>(get: () => Promise<T>, want: T, ms = 5_000): Promise<T> {
  const started = Date.now();
  let v = await get();
  while (v !== want && Date.now() - started < ms) {
    await new Promise((r) => setTimeout(r, 100));
    v = await get();
  }
  return v;
}

describe('software keystore file replaced by a FIFO under a running proxy', () => {
  it('keeps answering from the last good keys, reports DEGRADED, and picks the restored file up', async () => {
    proxy = await startProxyProcess({ requestTimeoutMs: BUDGET_MS });
    const p = proxy;
    await roundTrip(p, 'foo');
    expect(await healthStatus(p)).toBe('ACTIVE');

    // Prepare the file that comes back later: the same keystore plus one new key.
    const restored = join(p.dir, 'restored.json');
    await copyFile(p.keystorePath, restored);
    await changeKeystore(restored, { kek: p.kek }, (f, c) => addKey(f, c, 'picked_up', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true }));

    await rename(p.keystorePath, join(p.dir, 'saved.json'));
    execFileSync('mkfifo', ['-m', '600', p.keystorePath]);
    // The background check (once a second) meets the FIFO; health says so at once
    // although the health cache keeps results for 30 s by default.
    expect(await until(() => healthStatus(p), 'DEGRADED')).toBe('DEGRADED');
    // `serve` runs one worker per core, each with its own refresher and health cache: give
    // the others their one-second check too before asking whoever answers.
    await new Promise((r) => setTimeout(r, 1_500));
    for (let i = 0; i < 4; i++) expect(await healthStatus(p)).toBe('DEGRADED');
    for (let i = 0; i < 4; i++) {
      const ready = await fetch(`${p.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ready: true, keyStores: [{ ekm: [{ healthStatus: 'DEGRADED' }] }] });
    }
    for (let i = 0; i < 5; i++) expect(await roundTrip(p, 'foo')).toBeLessThan(ANSWER_WITHIN_MS);
    expect(await until(() => logged(p, /is not a regular file \(a FIFO\).*serving the last good keys/), true)).toBe(true);

    await rm(p.keystorePath);
    await rename(restored, p.keystorePath);
    // A key that only the restored file has: the miss makes the proxy look at the file.
    await roundTrip(p, 'picked_up');
    expect(await until(() => healthStatus(p), 'ACTIVE')).toBe('ACTIVE');
    expect(await until(() => logged(p, /keystore readable again/), true)).toBe(true);
  });

  it('exits promptly with code 0 on SIGTERM while the FIFO is in place', async () => {
    proxy = await startProxyProcess({ requestTimeoutMs: BUDGET_MS });
    const p = proxy;
    await rename(p.keystorePath, join(p.dir, 'saved.json'));
    execFileSync('mkfifo', ['-m', '600', p.keystorePath]);
    expect(await until(() => healthStatus(p), 'DEGRADED')).toBe('DEGRADED');
    await roundTrip(p, 'foo');
    const started = Date.now();
    p.signal('SIGTERM');
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
    const result = await Promise.race([p.exited, timeout]);
    expect(result).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(p.output().join('\n')).toContain('shutdown complete');
  });
});

describe('exit with a file read stuck in a libuv thread', () => {
  /** Runs the child; resolves with how it ended, or 'hung' after `ms` (then kills it). */
  async function runChild(mode: 'marked' | 'unmarked', ms: number) {
    const dir = await mkdtemp(join(tmpdir(), 'xks-stuck-'));
    const fifo = join(dir, 'hung');
    execFileSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/stuck-read-exit-child.ts', fifo, mode], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // 'close', not 'exit': the output must have been read to the end.
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('close', (code, signal) => r({ code, signal })));
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([ended, new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), ms)))]);
    clearTimeout(timer);
    if (result === 'hung') {
      child.kill('SIGKILL');
      await ended;
    }
    await rm(dir, { recursive: true, force: true });
    return { result, out };
  }

  it('process.exit alone hangs on the stuck thread; with the read recorded as stuck the process ends', async () => {
    // The fault itself, on real parts: exit joins libuv's pool threads and one is blocked.
    const plain = await runChild('unmarked', 6_000);
    expect(plain.out).toContain('"msg":"exiting"');
    expect(plain.result).toBe('hung');
    // The proxy's exit path knows about the stuck read and does not wait for it.
    const marked = await runChild('marked', 15_000);
    expect(marked.result).toEqual({ code: null, signal: 'SIGKILL' });
    expect(marked.out).toContain('file reads are stuck in the kernel');
  }, 40_000);
});

describe('SIGHUP re-reads the secret a key store references (item 8)', () => {
  it('a wrong KEK file fixed, then SIGHUP: the proxy opens the keystore with the new secret', async () => {
    const kek = randomBytes(32).toString('hex');
    const wrong = randomBytes(32).toString('hex');
    proxy = await startProxyProcess({ requestTimeoutMs: BUDGET_MS, kek, kekRef: 'file:keystore.kek', files: { 'keystore.kek': `${wrong}\n` } });
    const p = proxy;
    const refused = await call(p, xksPath(DEMO_PREFIX, 'encrypt'), encryptRequestBody('x'));
    expect(refused.status).toBe(500);
    expect(await healthStatus(p)).toBe('UNAVAILABLE');
    expect(await until(() => logged(p, /wrong kek for keystore file/), true)).toBe(true);

    // The config file is untouched; only the secret file it names changes.
    await writeFile(join(p.dir, 'keystore.kek'), `${kek}\n`, { mode: 0o600 });
    p.signal('SIGHUP');
    const reloaded = async () => (p.output().some((l) => l.includes('"msg":"config reloaded"')) ? 'yes' : 'no');
    expect(await until(reloaded, 'yes', 15_000)).toBe('yes');
    expect(p.output().find((l) => l.includes('"msg":"config reloaded"'))).toContain(`"rebuilt":["${DEMO_PREFIX}"]`);
    // Every worker reloads; poll until whichever answers has the new key store.
    const ok = async () => (await call(p, xksPath(DEMO_PREFIX, 'encrypt'), encryptRequestBody('x'))).status;
    expect(await until(ok, 200, 15_000)).toBe(200);
    for (let i = 0; i < 4; i++) await roundTrip(p, 'foo');
    expect(await until(() => healthStatus(p), 'ACTIVE')).toBe('ACTIVE');
  }, 60_000);

  it('a reload that changes nothing keeps the key store (no rebuild when the secret is the same)', async () => {
    proxy = await startProxyProcess({ requestTimeoutMs: BUDGET_MS });
    const p = proxy;
    p.signal('SIGHUP');
    const reloaded = async () => (p.output().some((l) => l.includes('"msg":"config reloaded"')) ? 'yes' : 'no');
    expect(await until(reloaded, 'yes', 15_000)).toBe('yes');
    expect(p.output().find((l) => l.includes('"msg":"config reloaded"'))).toContain(`"kept":["${DEMO_PREFIX}"]`);
  }, 60_000);
});

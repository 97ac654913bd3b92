/**
 * Shared pieces of the ops integration tests: a temp dir with a real software keystore
 * and a config file, signed XKS calls over a real socket, and a bounded load loop.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { onTestFinished } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { startServing, type ServingProcess } from '../support/cli-process.ts';
import { b64, DEMO_CREDENTIAL, DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

/** A second credential (spec formats) for rotation tests. */
export const SECOND_CREDENTIAL = {
  accessKeyId: 'ROTATEDKEY2345ABCDEFGHIJ',
  secretAccessKey: 'AnotherSecretThatIsLongEnoughForTheSpec0123456789abcdefXYZ',
};

/** A temp dir holding a software keystore with the demo keys. */
export interface OpsDir {
  dir: string;
  configFile: string;
  keystorePath: string;
  kekHex: string;
  /** Writes the config atomically (a watcher never sees half a file). */
  writeConfig(config: unknown): Promise<void>;
  /** Another keystore file in the same dir. */
  addKeystore(name: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** Creates the dir and its keystore (raw KEK: no scrypt cost). */
export async function createOpsDir(): Promise<OpsDir> {
  const dir = await mkdtemp(join(tmpdir(), 'xks-ops-'));
  const kekHex = randomBytes(32).toString('hex');
  const keystorePath = join(dir, 'keystore.json');
  await ensureDemoKeystore(keystorePath, { kek: kekHex });
  const configFile = join(dir, 'xks-proxy.yaml');
  return {
    dir,
    configFile,
    keystorePath,
    kekHex,
    writeConfig: async (config) => {
      const tmp = `${configFile}.tmp-${process.pid}`;
      await writeFile(tmp, JSON.stringify(config, null, 2));
      await rename(tmp, configFile);
    },
    addKeystore: async (name) => {
      const path = join(dir, `${name}.json`);
      await ensureDemoKeystore(path, { kek: kekHex });
      return path;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Creates an ops dir that is removed when the calling test finishes, pass or fail.
 * Vitest runs onTestFinished hooks in reverse order, so a process started later in the
 * test is stopped before its dir goes away.
 */
export async function createOpsDirForTest(): Promise<OpsDir> {
  const d = await createOpsDir();
  onTestFinished(() => d.cleanup());
  return d;
}

/** Starts `xks-proxy <args>` as a child process that is stopped when the calling test finishes. */
export async function startServingForTest(args: string[]): Promise<ServingProcess> {
  const proc = await startServing(args);
  onTestFinished(async () => {
    await proc.stop();
  });
  return proc;
}

/** An in-process proxy and the JSON log lines it has written so far. */
export interface ProxyWithLogs {
  proxy: RunningProxy;
  logs: Array<Record<string, unknown>>;
}

/**
 * Starts an in-process proxy on `config` (as if loaded from the dir's config file) with its
 * log captured; it is closed when the calling test finishes.
 */
export async function startProxyForTest(d: OpsDir, config: Record<string, unknown>): Promise<ProxyWithLogs> {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({ write: (c, _e, cb) => (logs.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) });
  const loaded = { config: parseConfig(config, d.configFile), file: d.configFile, configDir: d.dir };
  const proxy = await startProxy(loaded, { logger: createLogger({ level: 'info', destination }) });
  onTestFinished(() => proxy.close());
  return { proxy, logs };
}

/** A key store entry of a config over a keystore file. */
export function keyStoreEntry(prefix: string, keystorePath: string, kekHex: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    prefix,
    credentials: [{ accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: DEMO_CREDENTIAL.secretAccessKey, createdAt: '2026-01-01' }],
    provider: { type: 'software', path: keystorePath, kek: kekHex },
    ...extra,
  };
}

/** A config with the demo key store; `extra` adds or overrides top-level sections. */
export function demoConfig(d: OpsDir, extra: Record<string, unknown> = {}, keyStoreExtra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0, requestTimeoutMs: 2000 },
    logging: { level: 'info', pretty: false },
    keyStores: [keyStoreEntry(DEMO_PREFIX, d.keystorePath, d.kekHex, keyStoreExtra)],
    ...extra,
  };
}

/** The answer to one XKS call. */
export interface XksAnswer {
  status: number;
  json: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** The body of an Encrypt request. */
export function encryptBody(plaintext = 'hello', md: Record<string, unknown> = {}): string {
  return JSON.stringify({ requestMetadata: requestMetadata('Encrypt', md), plaintext: b64(plaintext), encryptionAlgorithm: 'AES_GCM' });
}

/** The body of a GetHealthStatus request. */
export function healthBody(): string {
  return JSON.stringify({ requestMetadata: { kmsRequestId: 'health-1', kmsOperation: 'KmsHealthCheck' } });
}

/** Sends a signed POST over a keep-alive HTTP/1.1 connection. */
export function xksCall(
  baseUrl: string,
  path: string,
  body: string,
  opts: { accessKeyId?: string; secretAccessKey?: string; agent?: http.Agent; ca?: Buffer } = {},
): Promise<XksAnswer> {
  const url = new URL(baseUrl);
  const headers = signXks(path, body, { host: url.host, accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey });
  const tls = url.protocol === 'https:';
  const request = tls ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const options = {
      host: url.hostname,
      port: url.port,
      path,
      method: 'POST',
      headers,
      timeout: 10_000,
      ...(tls ? { ca: opts.ca, agent: false as const } : { agent: opts.agent ?? agent }),
    };
    const req = request(options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: Record<string, unknown>;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = { unparsed: text };
        }
        resolve({ status: res.statusCode ?? 0, json, headers: res.headers });
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Signed encrypt with the demo key `foo` on a prefix. */
export function encryptCall(
  baseUrl: string,
  prefix = DEMO_PREFIX,
  opts: Parameters<typeof xksCall>[3] = {},
  keyId = 'foo',
  md: Record<string, unknown> = {},
): Promise<XksAnswer> {
  return xksCall(baseUrl, xksPath(prefix, 'encrypt', keyId), encryptBody('payload', md), opts);
}

/**
 * A signed call whose body is sent in two parts: the headers and the first half now, the
 * rest on `finish()`. In between, the request is in flight on the server (its handler has
 * started and is reading the body), which makes reload and shutdown timing deterministic.
 */
export async function startSlowCall(baseUrl: string, path: string, body: string): Promise<{ finish(): Promise<XksAnswer> }> {
  const url = new URL(baseUrl);
  const headers = { ...signXks(path, body, { host: url.host }), 'content-length': String(Buffer.byteLength(body)) };
  const req = http.request({ host: url.hostname, port: url.port, path, method: 'POST', headers, agent: false });
  const answer = new Promise<XksAnswer>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || '{}') as Record<string, unknown>, headers: res.headers }));
    });
    req.on('error', reject);
  });
  answer.catch(() => {});
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  req.flushHeaders();
  // Give the server time to parse the headers and start the handler.
  await new Promise((r) => setTimeout(r, 200));
  return {
    finish: () => {
      req.end(body.slice(half));
      return answer;
    },
  };
}

/** What a load loop saw. */
export interface LoadResult {
  ok: number;
  failures: Array<{ status: number; body: unknown }>;
}

/**
 * Runs `concurrency` loops of calls until `stop()` says so or `maxRequests` were sent,
 * and counts answers. Bounded in requests and, through the caller's stop, in time.
 */
export function runLoad(
  call: () => Promise<XksAnswer>,
  opts: { concurrency: number; maxRequests: number; stop: () => boolean },
): { done: Promise<LoadResult>; sent: () => number } {
  const result: LoadResult = { ok: 0, failures: [] };
  let sent = 0;
  const loop = async () => {
    while (!opts.stop() && sent < opts.maxRequests) {
      sent++;
      try {
        const a = await call();
        if (a.status === 200) result.ok++;
        else result.failures.push({ status: a.status, body: a.json });
      } catch (e) {
        result.failures.push({ status: 0, body: (e as Error).message });
      }
    }
  };
  const done = Promise.all(Array.from({ length: opts.concurrency }, loop)).then(() => result);
  return { done, sent: () => sent };
}

/** Resolves when `predicate` holds, polling every 25 ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Parsed JSON log lines of a process's output. */
export function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

export { DEMO_CREDENTIAL, DEMO_PREFIX, xksPath };

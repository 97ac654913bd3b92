/**
 * Starts OUR proxy as a real child process (`xks-proxy serve` on port 0) over a software
 * keystore with the demo keys in a temp dir, for tests that need a second, independent
 * proxy (e.g. the upstream of an upstream key store).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ensureDemoKeystore } from '../../src/providers/software/software-demo-setup.ts';
import { DEMO_CREDENTIAL, DEMO_PREFIX } from './xks-client.ts';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** What the child proxy serves. */
export interface ProxyProcessOptions {
  prefix?: string;
  accessKeyId?: string;
  /** The SigV4 secret; given to the child through an environment variable, not the config file. */
  secretAccessKey?: string;
  region?: string;
  /** server.requestTimeoutMs of the child. */
  requestTimeoutMs?: number;
  /** server.tls of the child (absolute PEM paths), e.g. with mtls to require a client certificate. */
  tls?: { cert: string; key: string; mtls?: { clientCa: string; clientSubjectCn: string } };
  /** Another checkout to run the proxy from (e.g. an older commit, for before/after numbers). */
  repoDir?: string;
  /** More `server` settings of the child (e.g. limits). */
  server?: Record<string, unknown>;
  /** How long to wait for "xks-proxy listening"; default 20 s (two shared cores). */
  startTimeoutMs?: number;
  /** The keystore's raw KEK (hex or base64); default a random one. */
  kek?: string;
  /**
   * The provider's `kek` secret reference; default `env:XKS_TEST_KEK` (holding `kek`). A
   * relative `file:` reference is relative to the temp dir (the config's directory).
   */
  kekRef?: string;
  /** Files to write into the temp dir (mode 0600) before the proxy starts, by name. */
  files?: Record<string, string>;
}

/** A running child proxy. */
export interface ProxyProcess {
  /** Base URL, e.g. http://127.0.0.1:41234 (https with `tls`) */
  url: string;
  port: number;
  pid: number;
  dir: string;
  /** The keystore file the child serves, and its raw KEK. */
  keystorePath: string;
  kek: string;
  /** Resolves when the child has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal to the child. */
  signal(sig: NodeJS.Signals): void;
  /** Every stdout/stderr line so far (JSON log lines), for assertions and failure messages. */
  output(): string[];
  /** SIGTERM, then SIGKILL after `graceMs`; removes the temp dir. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `node --import tsx src/cli/main.ts serve --config <tmp>/config.yaml --port 0`. */
export async function startProxyProcess(opts: ProxyProcessOptions = {}): Promise<ProxyProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'xks-proc-'));
  const keystorePath = join(dir, 'keystore.json');
  const kek = opts.kek ?? randomBytes(32).toString('hex');
  let child: ChildProcess | undefined;
  try {
    await ensureDemoKeystore(keystorePath, { kek });
    for (const [name, text] of Object.entries(opts.files ?? {})) await writeFile(join(dir, name), text, { mode: 0o600 });
    const config = {
      server: {
        host: '127.0.0.1',
        port: 0,
        requestTimeoutMs: opts.requestTimeoutMs ?? 2_000,
        ...(opts.tls === undefined ? {} : { tls: opts.tls }),
        ...opts.server,
      },
      logging: { level: 'info', pretty: false },
      keyStores: [
        {
          prefix: opts.prefix ?? DEMO_PREFIX,
          region: opts.region ?? 'us-east-1',
          credentials: [{ accessKeyId: opts.accessKeyId ?? DEMO_CREDENTIAL.accessKeyId, secretAccessKey: 'env:XKS_TEST_SIGV4_SECRET' }],
          provider: { type: 'software', path: keystorePath, kek: opts.kekRef ?? 'env:XKS_TEST_KEK' },
        },
      ],
    };
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, stringify(config), { mode: 0o600 });
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', configPath, '--port', '0'], {
      cwd: opts.repoDir ?? REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        XKS_TEST_SIGV4_SECRET: opts.secretAccessKey ?? DEMO_CREDENTIAL.secretAccessKey,
        XKS_TEST_KEK: kek,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return await waitUntilListening(child, dir, opts.startTimeoutMs ?? 20_000, { keystorePath, kek });
  } catch (e) {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

function waitUntilListening(child: ChildProcess, dir: string, timeoutMs: number, keystore: { keystorePath: string; kek: string }): Promise<ProxyProcess> {
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal })),
  );
  const collect = (stream: NodeJS.ReadableStream | null, onLine?: (line: string) => void) => {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        onLine?.(line);
      }
    });
  };

  let stopped = false;
  const stop = async (graceMs = 3_000) => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    }
  };

  return new Promise<ProxyProcess>((resolveStart, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stop(0).finally(() => reject(new Error(`proxy process ${why}; output:\n${lines.slice(-20).join('\n')}`)));
    };
    const timer = setTimeout(() => fail(`did not log "xks-proxy listening" within ${timeoutMs} ms`), timeoutMs);
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited early (code ${code}, signal ${signal})`);
    child.once('exit', onEarlyExit);
    collect(child.stderr);
    collect(child.stdout, (line) => {
      let entry: { msg?: unknown; url?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.msg !== 'xks-proxy listening' || typeof entry.url !== 'string') return;
      clearTimeout(timer);
      child.off('exit', onEarlyExit);
      const url = entry.url;
      resolveStart({
        url,
        port: Number(new URL(url).port),
        pid: child.pid!,
        dir,
        ...keystore,
        exited,
        signal: (sig) => child.kill(sig),
        output: () => [...lines],
        stop,
      });
    });
  });
}

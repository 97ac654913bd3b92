/**
 * Runs a local PyKMIP server (python3-pykmip 0.10) as a child process, for tests and the
 * KMIP demo. Measured quirks it works around: the server hangs when its port is taken (so
 * pick a free port first), it forks helper processes (so it runs in its own process group
 * and is stopped through that group), and it takes seconds to exit on SIGTERM (so stop
 * escalates to SIGKILL after a short grace period; timings in docs/kmip.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import type { KmipPkiFiles } from './pykmip-certificates.ts';

/** How to run one PyKMIP server. */
export interface PykmipServerOptions {
  /** Directory for its config file, log and policy directory. */
  dir: string;
  port: number;
  pki: KmipPkiFiles;
  /** SQLite file of its objects; two servers given the same file share their keys. */
  databasePath: string;
  /** Time allowed to start accepting TLS connections (default 20 s). */
  startTimeoutMs?: number;
}

/** A free TCP port on 127.0.0.1 (PyKMIP hangs instead of failing when its port is taken). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Resolves when a mutual-TLS handshake with the server succeeds; rejects at the deadline. */
export async function waitForKmipTls(port: number, pki: KmipPkiFiles, deadline: number, isAlive: () => boolean = () => true): Promise<void> {
  const [ca, cert, key] = await Promise.all([readFile(pki.caCert), readFile(pki.clientCert), readFile(pki.clientKey)]);
  for (;;) {
    if (!isAlive()) throw new Error('the PyKMIP process exited before accepting connections');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca, cert, key, servername: 'localhost', minVersion: 'TLSv1.2' });
      const timer = setTimeout(() => done(false), 2_000);
      function done(result: boolean): void {
        clearTimeout(timer);
        socket.destroy();
        resolve(result);
      }
      socket.once('secureConnect', () => done(true));
      socket.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`PyKMIP did not accept TLS connections on port ${port} in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function configText(options: PykmipServerOptions, policyDir: string): string {
  return [
    '[server]',
    'hostname=127.0.0.1',
    `port=${options.port}`,
    `certificate_path=${options.pki.serverCert}`,
    `key_path=${options.pki.serverKey}`,
    `ca_path=${options.pki.caCert}`,
    'auth_suite=TLS1.2',
    `policy_path=${policyDir}`,
    'enable_tls_client_auth=True',
    'logging_level=INFO',
    `database_path=${options.databasePath}`,
    '',
  ].join('\n');
}

/** A running PyKMIP server process. */
export class PykmipServer {
  #exited = false;
  readonly #exitPromise: Promise<void>;
  readonly #killOnExit = (): void => this.#signalGroup('SIGKILL');
  readonly #child: ChildProcess;

  private constructor(
    child: ChildProcess,
    readonly port: number,
    readonly logPath: string,
  ) {
    this.#child = child;
    this.#exitPromise = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      this.#exited = true;
      process.removeListener('exit', this.#killOnExit);
    });
    // If our own process ends first, do not leave the server and its helpers behind.
    process.once('exit', this.#killOnExit);
  }

  /** Writes the config and starts the server; resolves once it completes a TLS handshake. */
  static async start(options: PykmipServerOptions): Promise<PykmipServer> {
    const policyDir = join(options.dir, 'policies');
    await mkdir(policyDir, { recursive: true });
    const configPath = join(options.dir, `pykmip-${options.port}.conf`);
    const logPath = join(options.dir, `pykmip-${options.port}.log`);
    await writeFile(configPath, configText(options, policyDir));
    const out = await open(join(options.dir, `pykmip-${options.port}.out`), 'a');
    let child: ChildProcess;
    try {
      child = spawn('/usr/bin/python3', ['-m', 'kmip.services.server.server', '-f', configPath, '-l', logPath], {
        detached: true,
        stdio: ['ignore', out.fd, out.fd],
        env: { ...process.env, PYTHONWARNINGS: 'ignore' },
      });
    } finally {
      await out.close();
    }
    const server = new PykmipServer(child, options.port, logPath);
    try {
      await waitForKmipTls(options.port, options.pki, Date.now() + (options.startTimeoutMs ?? 20_000), () => !server.#exited);
    } catch (e) {
      server.kill();
      const log = await readFile(logPath, 'utf8').catch(() => '');
      throw new Error(`${(e as Error).message}\n${log.split('\n').slice(-15).join('\n')}`);
    }
    return server;
  }

  /** Process id (also the process group id of the server and its helpers). */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** True until the server process has exited. */
  get running(): boolean {
    return !this.#exited;
  }

  /** Kills the server and its helper processes at once (a crash, for restart tests). */
  kill(): void {
    this.#signalGroup('SIGKILL');
  }

  /** Freezes the server (SIGSTOP): it keeps its port but answers nothing, like a hung key manager. */
  suspend(): void {
    this.#signalGroup('SIGSTOP');
  }

  /** Lets a suspended server run again (SIGCONT). */
  resume(): void {
    this.#signalGroup('SIGCONT');
  }

  /** Asks the server to stop, then kills it after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 1_000): Promise<void> {
    if (this.#exited) return;
    this.#signalGroup('SIGTERM');
    const timer = setTimeout(() => this.#signalGroup('SIGKILL'), graceMs);
    await this.#exitPromise;
    clearTimeout(timer);
    // The helper processes share the group; make sure none outlives the server.
    this.#signalGroup('SIGKILL');
  }

  /** Resolves when the server process has exited. */
  exited$(): Promise<void> {
    return this.#exitPromise;
  }

  #signalGroup(signal: NodeJS.Signals): void {
    const pid = this.#child.pid;
    if (pid === undefined) return;
    try {
      // Negative pid: the whole process group this server leads (detached: true).
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }
}

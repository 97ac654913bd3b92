/**
 * Multi-core serving with node:cluster: the primary forks N workers that each run the
 * whole proxy (startProxy) on one shared listening socket; the primary only supervises.
 *
 * State across workers: every worker builds its own key stores from the same config. The
 * software keystore file is the source of truth, and each worker re-reads it when it
 * changes (see software-provider.ts), so a key created, rotated or disabled with the CLI
 * reaches every worker within the provider's reload check (1 s). Deep health results are
 * cached per worker (each worker runs its own canary check at most once per
 * health.cacheSeconds), which multiplies canary operations by N and nothing else.
 * Credentials are read at start; a SIGHUP sent to the primary is forwarded to every
 * worker, so a reload reaches all of them.
 */
import cluster, { type Worker } from 'node:cluster';
import type { DestinationStream, Logger } from 'pino';
import type { LoadedConfig } from '../config/load-config.ts';
import { createLogger } from '../observability/logger.ts';
import { BatchedLogDestination } from '../observability/batched-destination.ts';
import { workerSlot } from '../ops/worker-slot.ts';
import { resolveSecretRef } from '../config-values/secret-ref.ts';
import { startAdminServer } from './admin-server.ts';
import { answerAdminQueries, clusterAdminViews } from './admin-views.ts';
import type { RunningProxy } from './start-proxy.ts';

/** What `serve --workers N` passes to the primary and to each worker. */
export interface ClusterServeOptions {
  workers: number;
  port?: number;
  host?: string;
}

/** A worker tells the primary where it serves once its listener is up. */
interface ListeningMessage {
  type: 'xks-proxy:worker-listening';
  url: string;
  pid: number;
}

/** The one line test harnesses and operators wait for; the primary prints it once. */
const LISTENING_MSG = 'xks-proxy listening';
/** What a worker's own copy of that line is renamed to. */
const WORKER_LISTENING_MSG = 'xks-proxy worker listening';
/** Largest write that a pipe keeps whole when several processes share it (Linux PIPE_BUF). */
const PIPE_ATOMIC_WRITE_BYTES = 4096;
/**
 * Extra time a worker gets after its drain window (shutdown.drainTimeoutMs) to close the
 * audit log, metrics listener and key providers before the primary kills it.
 */
const STOP_GRACE_MS = 7_000;
/** More unexpected worker exits than this within the window means a crash loop: give up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

function isListeningMessage(m: unknown): m is ListeningMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'xks-proxy:worker-listening';
}

/**
 * The primary: forks the workers, prints "xks-proxy listening" once all of them listen,
 * replaces a worker that dies unexpectedly, forwards SIGHUP, and on SIGTERM / SIGINT stops
 * every worker and exits 0 (1 if a worker had to be killed or failed to start).
 */
export async function runClusterPrimary(loaded: LoadedConfig, options: ClusterServeOptions): Promise<void> {
  const primary = new ClusterPrimary(loaded, options, createLogger(loaded.config.logging));
  cluster.on('exit', (worker, exitCode, signal) => primary.onWorkerExit(worker, exitCode, signal));
  process.once('SIGTERM', () => primary.stopAll('SIGTERM', 0));
  process.once('SIGINT', () => primary.stopAll('SIGINT', 0));
  // Reload is per worker (each holds its own credentials and key stores): pass it on.
  process.on('SIGHUP', () => primary.forwardReload());
  if (!(await primary.startAdmin())) return;
  primary.startWorkers();
}

/** The primary's view of its workers, and what it does when one starts, dies or must stop. */
class ClusterPrimary {
  readonly #loaded: LoadedConfig;
  readonly #options: ClusterServeOptions;
  readonly #logger: Logger;
  /** URL each worker (by cluster worker id) reported once its listener was up. */
  readonly #listening = new Map<number, string>();
  /**
   * Each worker has a stable slot 0..N-1 (a replacement takes over the slot of the worker it
   * replaces), for per-worker resources such as audit files and metrics ports (ops/worker-slot.ts).
   */
  readonly #slots = new Map<number, number>();
  /** When workers died unexpectedly, oldest first, within RESTART_WINDOW_MS. */
  readonly #unexpectedExits: number[] = [];
  /** All workers listened once and the primary said so. */
  #announced = false;
  #stopping = false;
  /** A worker had to be killed or stopped with an error: the primary exits 1. */
  #failed = false;

  constructor(loaded: LoadedConfig, options: ClusterServeOptions, logger: Logger) {
    this.#loaded = loaded;
    this.#options = options;
    this.#logger = logger;
  }

  /** Starts the admin listener, when configured; false (and the process exiting 1) if it cannot. */
  async startAdmin(): Promise<boolean> {
    // The admin listener is the primary's: /status and /ready ask every worker and combine.
    const admin = this.#loaded.config.admin;
    if (admin === undefined) return true;
    try {
      const token = admin.token === undefined ? undefined : resolveSecretRef(admin.token, 'admin.token', process.env, this.#loaded.configDir);
      const bySlot = (w: Worker): number | undefined => this.#slots.get(w.id);
      await startAdminServer(clusterAdminViews(bySlot), { host: admin.host, port: admin.port, token, logger: this.#logger });
      return true;
    } catch (e) {
      this.#logger.error({ err: (e as Error).message, host: admin.host, port: admin.port }, 'the admin listener could not start');
      this.#exit(1);
      return false;
    }
  }

  startWorkers(): void {
    this.#logger.info({ workers: this.#options.workers, pid: process.pid }, 'starting workers');
    for (let slot = 0; slot < this.#options.workers; slot++) this.#fork(slot);
  }

  /** A worker exited: expected while stopping; otherwise replaced, unless it never started or they keep dying. */
  onWorkerExit(worker: Worker, exitCode: number, signal: string): void {
    this.#listening.delete(worker.id);
    const slot = this.#slots.get(worker.id) ?? 0;
    this.#slots.delete(worker.id);
    if (this.#stopping) return;
    if (!this.#announced) {
      // A worker that cannot start (port taken, key manager config wrong) will not start on
      // a retry either: fail like the single-process serve does, and say so.
      this.#logger.error({ workerPid: worker.process.pid, exitCode, signal }, 'a worker failed to start; stopping');
      return this.stopAll('worker failed to start', 1);
    }
    if (this.#crashLoop(Date.now())) {
      this.#logger.error({ restarts: this.#unexpectedExits.length, windowMs: RESTART_WINDOW_MS }, 'workers keep dying; stopping');
      return this.stopAll('crash loop', 1);
    }
    this.#logger.error({ workerPid: worker.process.pid, slot, exitCode, signal }, 'worker died unexpectedly; starting a replacement');
    this.#fork(slot);
  }

  /** SIGHUP: every live worker reloads its own config. */
  forwardReload(): void {
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    this.#logger.info({ workers: workers.length }, 'SIGHUP: forwarding to every worker');
    for (const w of workers) w.process.kill('SIGHUP');
  }

  /**
   * Sends every worker SIGTERM, kills those still running after their drain window and
   * STOP_GRACE_MS, and exits with `code` (1 if a worker failed to stop cleanly). Once only.
   */
  stopAll(reason: string, code: number): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#logger.info({ reason, workers: Object.keys(cluster.workers ?? {}).length }, 'shutting down');
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (alive.length === 0) return this.#exit(code);
    let left = alive.length;
    const killTimer = setTimeout(() => this.#killStragglers(alive), this.#loaded.config.shutdown.drainTimeoutMs + STOP_GRACE_MS);
    for (const w of alive) {
      w.once('exit', (exitCode, signal) => {
        // A worker still starting has no handler yet and dies of the SIGTERM itself: also fine.
        if (exitCode !== 0 && signal !== 'SIGTERM') {
          this.#failed = true;
          this.#logger.warn({ workerPid: w.process.pid, exitCode, signal }, 'worker stopped with an error');
        }
        if (--left === 0) {
          clearTimeout(killTimer);
          this.#exit(this.#failed ? 1 : code);
        }
      });
      w.process.kill('SIGTERM');
    }
  }

  #killStragglers(workers: readonly Worker[]): void {
    for (const w of workers) {
      if (!w.isDead()) {
        this.#logger.error({ workerPid: w.process.pid }, 'worker did not stop in time; killing it');
        this.#failed = true;
        w.process.kill('SIGKILL');
      }
    }
  }

  /** Counts an unexpected exit at `now`: true when more than MAX_RESTARTS fell within the window. */
  #crashLoop(now: number): boolean {
    const exits = this.#unexpectedExits;
    exits.push(now);
    while (exits.length > 0 && exits[0]! < now - RESTART_WINDOW_MS) exits.shift();
    return exits.length > MAX_RESTARTS;
  }

  #fork(slot: number): void {
    const { workers } = this.#options;
    const worker = cluster.fork({ XKS_PROXY_WORKER_SLOT: String(slot), XKS_PROXY_WORKERS: String(workers) });
    this.#slots.set(worker.id, slot);
    worker.on('message', (m: unknown) => {
      if (!isListeningMessage(m)) return;
      this.#listening.set(worker.id, m.url);
      if (!this.#announced && this.#listening.size === workers) {
        this.#announced = true;
        this.#logger.info({ url: m.url, workers, config: this.#loaded.file, pid: process.pid }, LISTENING_MSG);
      } else if (this.#announced) {
        this.#logger.info({ workerPid: m.pid }, 'replacement worker listening');
      }
    });
  }

  #exit(code: number): void {
    this.#logger.flush(() => process.exit(code));
  }
}

/** How a worker serves: `serveUntilSignal` of the serve command (passed in to avoid an import cycle). */
export type ServeInProcess = (loaded: LoadedConfig, options: { port?: number; host?: string; logger: Logger }) => Promise<RunningProxy>;

/**
 * A worker: the whole proxy, served exactly as `serve --workers 1` serves it (same signal
 * handling: SIGTERM / SIGINT stop it cleanly), with every log line tagged with the worker
 * id and pid. It reports its URL to the primary, and stops if the primary goes away (IPC
 * channel closed) so that no orphan keeps serving.
 */
export async function runClusterWorker(loaded: LoadedConfig, options: ClusterServeOptions, serve: ServeInProcess): Promise<RunningProxy> {
  // `worker` is the slot (0..N-1): the number in the worker's audit file name and metrics port.
  const logger = workerLogger(loaded).child({ worker: workerSlot() ?? 0, pid: process.pid });
  let proxy: RunningProxy;
  try {
    proxy = await serve(loaded, { port: options.port, host: options.host, logger });
  } catch (e) {
    // The primary sees the exit code and stops; the IPC channel would keep us alive otherwise.
    process.stderr.write(`error: worker ${process.pid} could not start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  process.once('disconnect', () => {
    logger.warn('the cluster primary went away; stopping');
    process.kill(process.pid, 'SIGTERM');
  });
  // The primary forwards SIGHUP (reload). With no listener of ours, SIGHUP would end the
  // worker: signal-exit (via proper-lockfile) re-raises a signal nobody else listens to.
  process.on('SIGHUP', () => logger.debug('SIGHUP received'));
  answerAdminQueries(proxy.adminViews);
  const message: ListeningMessage = { type: 'xks-proxy:worker-listening', url: proxy.url, pid: process.pid };
  process.send?.(message);
  return proxy;
}

/**
 * The worker's logger. JSON output goes through a stream that (1) renames startProxy's
 * "xks-proxy listening" line, which the primary prints once for all workers, and (2)
 * writes at most PIPE_BUF bytes at a time, so lines from several workers sharing one
 * stdout pipe never interleave mid-line. Pretty output (a terminal) is left as it is.
 */
function workerLogger(loaded: LoadedConfig): Logger {
  const { logging } = loaded.config;
  if (logging.pretty ?? Boolean(process.stdout.isTTY)) return createLogger(logging);
  const out = new BatchedLogDestination({ fd: 1, maxWriteBytes: PIPE_ATOMIC_WRITE_BYTES });
  const marker = `"msg":"${LISTENING_MSG}"`;
  const destination: DestinationStream & { flush: (cb?: (err?: Error) => void) => void } = {
    write(line: string) {
      out.write(line.includes(marker) ? line.replace(marker, `"msg":"${WORKER_LISTENING_MSG}"`) : line);
    },
    flush(cb) {
      out.flush(cb);
    },
  };
  return createLogger({ ...logging, destination });
}

import { writeSync } from 'node:fs';
import type { Logger } from 'pino';
import type { RunningProxy } from '../composition/start-proxy.ts';
import { flushAllLogDestinationsSync } from '../observability/batched-destination.ts';
import { stuckIoCount } from '../observability/stuck-io.ts';

/** Longest wait for the log to flush before exiting. */
const FLUSH_TIMEOUT_MS = 2_000;

/**
 * Flushes the (asynchronous) log, then exits with `code`. process.exit() joins libuv's
 * pool threads, so with a file read stuck in the kernel (a hung network file system) it
 * would never return: then the process ends itself with SIGKILL instead, after saying why.
 */
export function flushAndExit(logger: Logger, code: number): void {
  const exit = () => {
    if (stuckIoCount() > 0) process.kill(process.pid, 'SIGKILL');
    process.exit(code);
  };
  const stuck = stuckIoCount();
  if (stuck > 0) {
    // SIGKILL skips the 'exit' event that writes pending log lines, and the log stream may
    // have a write in flight that SIGKILL cuts off: the reason also goes to stderr
    // synchronously, and pending lines are written now as far as the stream allows.
    const message = 'file reads are stuck in the kernel (a hung file system?); ending the process with SIGKILL, a normal exit would wait for them for ever';
    logger.error({ stuckReads: stuck, exitCode: code }, message);
    flushAllLogDestinationsSync();
    try {
      writeSync(2, `${JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, stuckReads: stuck, exitCode: code, msg: message })}\n`);
    } catch {
      // stderr closed: nothing more can be said
    }
    process.kill(process.pid, 'SIGKILL');
  }
  setTimeout(exit, FLUSH_TIMEOUT_MS).unref();
  try {
    logger.flush(exit);
  } catch {
    exit();
  }
}

/**
 * Process signals of a serving proxy: SIGTERM and SIGINT shut it down gracefully and exit
 * 0 (what ECS, Kubernetes and systemd send before killing), SIGHUP reloads the config
 * file. A second SIGTERM during shutdown changes nothing: the drain bound still holds.
 */
export function installSignalHandlers(proxy: RunningProxy): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    proxy.logger.info({ signal }, 'signal received; shutting down');
    proxy.shutdown().then(
      () => flushAndExit(proxy.logger, 0),
      (e: unknown) => {
        proxy.logger.error({ err: (e as Error).message }, 'shutdown failed');
        flushAndExit(proxy.logger, 1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    if (stopping) return;
    void proxy.reload('SIGHUP');
  });
}

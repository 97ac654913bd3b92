import type { RunningProxy } from '../server/start-proxy.ts';

/** Longest wait for the log to flush before exiting. */
const FLUSH_TIMEOUT_MS = 2_000;

/** Flushes the (asynchronous) log, then exits with `code`. */
function flushAndExit(proxy: RunningProxy, code: number): void {
  const exit = () => process.exit(code);
  setTimeout(exit, FLUSH_TIMEOUT_MS).unref();
  try {
    proxy.logger.flush(exit);
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
      () => flushAndExit(proxy, 0),
      (e: unknown) => {
        proxy.logger.error({ err: (e as Error).message }, 'shutdown failed');
        flushAndExit(proxy, 1);
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

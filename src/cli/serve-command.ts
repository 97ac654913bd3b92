import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import type { Logger } from 'pino';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../config/load-config.ts';
import { checkTlsFiles } from '../config/tls-files.ts';
import { stopWhenNpmParentExits } from './parent-watch.ts';
import { installSignalHandlers } from './process-signals.ts';
import { runClusterPrimary, runClusterWorker } from '../composition/cluster.ts';
import { startProxy, type RunningProxy } from '../composition/start-proxy.ts';
import { cliAction, configOption, parsePort } from './cli-action.ts';

/** Options shared by `serve` and the demo commands. */
export interface ServeOptions {
  port?: number;
  host?: string;
  /** Use this logger instead of one built from the config (cluster workers tag theirs). */
  logger?: Logger;
}

/**
 * Starts the proxy in this process; SIGTERM / SIGINT stop it gracefully (exit code 0) and
 * SIGHUP reloads the config. Cluster workers run this too, so this applies to every worker.
 */
export async function serveUntilSignal(loaded: LoadedConfig, options: ServeOptions): Promise<RunningProxy> {
  const proxy = await startProxy(loaded, { port: options.port, host: options.host, logger: options.logger });
  installSignalHandlers(proxy);
  return proxy;
}

/** Parses a --workers value: a whole number from 1 to 256. */
export function parseWorkers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError(`use a whole number of workers from 1 to 256, not "${value}"`);
  return n;
}

/** `xks-proxy serve`: serve the key stores of a config file. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the XKS Proxy API for every key store in the config file')
    .addOption(configOption('config file (YAML or JSON)'))
    .option('-p, --port <port>', 'listen on this port instead of server.port', parsePort)
    .option('--host <address>', 'listen on this address instead of server.host')
    .option('-w, --workers <n>', 'worker processes sharing the port (1 = serve in this process)', parseWorkers, availableParallelism())
    .action(
      cliAction(async (opts: { config: string; port?: number; host?: string; workers: number }) => {
        const loaded = await loadConfigFile(opts.config);
        // Name the TLS field at fault before the listener meets OpenSSL's own text.
        const tlsProblems = checkTlsFiles(loaded.config, loaded.configDir);
        if (tlsProblems.length > 0)
          throw new ConfigError(
            loaded.file,
            tlsProblems.map((p) => `${p.field}: ${p.message}`),
          );
        const options = { port: opts.port, host: opts.host, workers: opts.workers };
        // A worker re-runs this same command line (node:cluster forks the entry script).
        if (cluster.isWorker) {
          await runClusterWorker(loaded, options, serveUntilSignal);
          return;
        }
        if (opts.workers > 1) await runClusterPrimary(loaded, options);
        else await serveUntilSignal(loaded, options);
        // The SIGTERM handlers installed above (single process or cluster primary) do the rest.
        stopWhenNpmParentExits((reason) => {
          process.stderr.write(`xks-proxy: ${reason}; shutting down\n`);
          process.kill(process.pid, 'SIGTERM');
        });
      }),
    );
}

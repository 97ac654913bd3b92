import { Command } from 'commander';
import { loadConfigFile, type LoadedConfig } from '../config/load-config.ts';
import { startProxy, type RunningProxy } from '../server/start-proxy.ts';
import { cliAction, defaultConfigPath, parsePort } from './cli-action.ts';

/** Options shared by `serve` and the demo commands. */
export interface ServeOptions {
  port?: number;
  host?: string;
}

/** Starts the proxy and stops it cleanly on SIGTERM / SIGINT (exit code 0). */
export async function serveUntilSignal(loaded: LoadedConfig, options: ServeOptions): Promise<RunningProxy> {
  const proxy = await startProxy(loaded, { port: options.port, host: options.host });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    proxy.logger.info({ signal }, 'shutting down');
    void proxy.close().then(() => {
      proxy.logger.flush?.();
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return proxy;
}

/** `xks-proxy serve`: serve the key stores of a config file. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the XKS Proxy API for every key store in the config file')
    .option('-c, --config <file>', 'config file (YAML or JSON)', defaultConfigPath())
    .option('-p, --port <port>', 'listen on this port instead of server.port', parsePort)
    .option('--host <address>', 'listen on this address instead of server.host')
    .action(
      cliAction(async (opts: { config: string; port?: number; host?: string }) => {
        const loaded = await loadConfigFile(opts.config);
        await serveUntilSignal(loaded, { port: opts.port, host: opts.host });
      }),
    );
}

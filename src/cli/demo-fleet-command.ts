import { Command } from 'commander';
import { packagePath } from '../package-root.ts';
import { cliAction, parsePort } from './cli-action.ts';
import { DEMO_WARNING } from './demo-command.ts';
import { freePortRun, startFleetDemo } from './fleet-demo.ts';

/** `xks-proxy demo-fleet`: what `npm run demo:fleet` runs. */
export function demoFleetCommand(): Command {
  return new Command('demo-fleet')
    .description('serve the demo as a fleet: PostgreSQL in data/fleet, three proxies on PORT+1..PORT+3 sharing its keys, HAProxy on PORT (all on 127.0.0.1)')
    .option('-p, --port <port>', "HAProxy's port; the proxies take the next three (0: four free ports)", parsePort, 8080)
    .option('--data-dir <dir>', "keep the fleet's state here instead of the repository's data/")
    .action(
      cliAction(async (opts: { port: number; dataDir?: string }) => {
        if (opts.port > 65535 - 3) throw new Error(`--port ${opts.port} leaves no room for the three proxies above it`);
        const say = (line: string) => process.stderr.write(`demo:fleet: ${line}\n`);
        const port = opts.port === 0 ? await freePortRun() : opts.port;
        const fleet = await startFleetDemo({ port, dataDir: opts.dataDir ?? packagePath('data'), say });
        process.stderr.write(DEMO_WARNING);
        say(`HAProxy ${fleet.url} -> ${fleet.proxies.map((p) => `${p.url} (pid ${p.child.pid})`).join(', ')}`);
        say(`PostgreSQL ${fleet.pg.cluster.url} (data in ${fleet.pg.cluster.dir})`);
        say(`config ${fleet.configPath}: try  npx xks-proxy keys rotate foo --config ${fleet.configPath}`);
        say(`                          and  npx xks-proxy status --fleet --config ${fleet.configPath}`);
        // The same line a single proxy prints, naming the balancer: scripts wait for it.
        process.stdout.write(
          `${JSON.stringify({ level: 30, time: Date.now(), msg: 'xks-proxy listening', url: fleet.url, proxies: fleet.proxies.map((p) => p.url) })}\n`,
        );
        say(`each proxy logs to ${fleet.dir}/proxy-N.log; Ctrl-C stops everything; the next start reuses the keys.`);
        let stopping = false;
        for (const [i, p] of fleet.proxies.entries()) {
          p.child.once(
            'exit',
            (code, signal) =>
              !stopping && say(`proxy ${i + 1} (port ${p.port}) exited (code ${code}, signal ${signal}); HAProxy sends its requests to the others`),
          );
        }
        fleet.haproxy.once('exit', (code) => !stopping && say(`HAProxy exited (code ${code})`));
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          say(`${signal}: stopping HAProxy, the proxies and PostgreSQL`);
          void fleet.stop().finally(() => process.exit(0));
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      }),
    );
}

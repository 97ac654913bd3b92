/**
 * The fleet demo (`npm run demo:fleet -- --port N`): a loopback PostgreSQL cluster in
 * data/fleet holding the demo keys, three proxies (child processes, `serve --workers 1`)
 * on N+1..N+3 sharing it, and HAProxy on N in front of them with a health check on
 * GET /ping. Everything local, nothing exposed beyond 127.0.0.1.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { loadConfigFile } from '../config/load-config.ts';
import { startPgDemo, type PgDemo } from '../providers/software/pg/pg-demo-setup.ts';
import { DEMO_CONFIG_PATH } from './demo-command.ts';

/** Number of proxies the demo runs. */
export const FLEET_PROXIES = 3;

/** One proxy of the demo fleet. */
export interface FleetProxy {
  port: number;
  url: string;
  child: ChildProcess;
  /** The proxy's output lines so far (JSON log lines). */
  output: string[];
}

/** A running demo fleet. */
export interface FleetDemo {
  /** The balancer's URL, http://127.0.0.1:N */
  url: string;
  configPath: string;
  dir: string;
  pg: PgDemo;
  proxies: FleetProxy[];
  haproxy: ChildProcess;
  /** Starts proxy `i` (0-based) again after it died, on its port. */
  restartProxy(i: number): Promise<FleetProxy>;
  /** Stops HAProxy, the proxies (SIGTERM, they drain) and PostgreSQL. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startFleetDemo}. */
export interface FleetDemoOptions {
  /** HAProxy's port; the proxies use port+1..port+3. */
  port: number;
  /** Where data/fleet lives (default: the repository's data/). */
  dataDir: string;
  /** fsync off in PostgreSQL, for tests. */
  throwaway?: boolean;
  /** Progress lines (default: none). */
  say?: (line: string) => void;
  /**
   * How to run `xks-proxy` for the proxies: node arguments before `serve` (default: the
   * entry point this process runs, tsx sources or the built bundle).
   */
  proxyEntry?: string[];
  /** Extra settings of the PostgreSQL store in the written config (tests use faster heartbeats). */
  storeOverrides?: Record<string, unknown>;
}

function waitForExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      res();
    });
  });
}

/** Starts one proxy of the fleet and resolves once it logs that it listens. */
function startProxy(entry: string[], configPath: string, port: number, logFile: string): Promise<FleetProxy> {
  const child = spawn(process.execPath, [...entry, 'serve', '--config', configPath, '--port', String(port), '--workers', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, XKS_PROXY_CONFIG: configPath },
  });
  const output: string[] = [];
  // Each proxy's JSON log goes to its own file in data/fleet (appended across starts).
  const log = createWriteStream(logFile, { flags: 'a' });
  child.once('exit', () => log.end());
  return new Promise((resolveStart, reject) => {
    let buffered = '';
    const timer = setTimeout(() => fail('did not start within 60 s'), 60_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`proxy on port ${port} ${why}; its last lines:\n${output.slice(-10).join('\n')}\n(log: ${logFile})`));
    };
    const onExit = (code: number | null, signal: string | null) => fail(`exited (code ${code}, signal ${signal})`);
    child.once('exit', onExit);
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        output.push(line);
        log.write(`${line}\n`);
        if (output.length > 2000) output.splice(0, 1000);
        if (line.includes('"xks-proxy listening"')) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolveStart({ port, url: `http://127.0.0.1:${port}`, child, output });
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
}

/**
 * The first of `count` consecutive free loopback ports, for `--port 0`. Chosen below the
 * ephemeral range (32768+), where the OS hands out ports to other programs meanwhile.
 */
export async function freePortRun(count = FLEET_PROXIES + 1): Promise<number> {
  const free = (p: number) =>
    new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(p, '127.0.0.1', () => s.close(() => res(true)));
    });
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * 18_000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await free(base + i);
    if (ok) return base;
  }
  throw new Error(`found no ${count} consecutive free ports on 127.0.0.1`);
}

/** HAProxy's config: round robin over the proxies, health check GET /ping, retries on a dead peer. */
export function haproxyConfig(port: number, proxyPorts: readonly number[]): string {
  return [
    '# Written by `npm run demo:fleet`; rewritten on every start.',
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 5s',
    '  # A request whose proxy died before answering goes to another one: XKS calls are',
    '  # safe to repeat (an encrypt makes a fresh ciphertext, a decrypt changes nothing).',
    '  option http-buffer-request',
    '  retries 2',
    '  retry-on conn-failure empty-response response-timeout',
    '  option redispatch 1',
    'frontend xks',
    `  bind 127.0.0.1:${port}`,
    '  default_backend proxies',
    'backend proxies',
    '  balance roundrobin',
    '  # HTTP/1.1 with a Host header: the proxy answers a bare HTTP/1.0 check with 400.',
    '  option httpchk',
    '  http-check send meth GET uri /ping ver HTTP/1.1 hdr Host localhost',
    '  http-check expect status 200',
    '  default-server inter 500ms fall 2 rise 2',
    ...proxyPorts.map((p, i) => `  server proxy${i + 1} 127.0.0.1:${p} check`),
    '',
  ].join('\n');
}

function runHaproxy(cfgPath: string, port: number): Promise<ChildProcess> {
  return new Promise((resolveStart, reject) => {
    execFile('haproxy', ['-c', '-q', '-f', cfgPath], (err, _out, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new Error(
            missing ? 'haproxy not found: install the Debian package "haproxy" (apt-get install -y haproxy)' : `haproxy rejects ${cfgPath}: ${stderr.trim()}`,
          ),
        );
        return;
      }
      const child = spawn('haproxy', ['-db', '-f', cfgPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderrText = '';
      child.stderr.on('data', (c: Buffer) => (stderrText = (stderrText + c.toString()).slice(-2000)));
      child.once('error', (e) => reject(new Error(`cannot start haproxy: ${e.message}`)));
      const early = (code: number | null) => reject(new Error(`haproxy exited at start (code ${code}): ${stderrText.trim()} (is port ${port} free?)`));
      child.once('exit', early);
      // HAProxy has no "ready" line in foreground mode; its bind happens at once or it exits.
      setTimeout(() => {
        child.off('exit', early);
        resolveStart(child);
      }, 500);
    });
  });
}

/** Starts the whole demo fleet; on a failure everything started so far is stopped. */
export async function startFleetDemo(opts: FleetDemoOptions): Promise<FleetDemo> {
  const say = opts.say ?? (() => undefined);
  const dir = resolve(opts.dataDir, 'fleet');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const demo = await loadConfigFile(DEMO_CONFIG_PATH);
  const template = demo.config.keyStores[0]!;
  if (template.provider.type !== 'software' || template.provider.passphrase === undefined)
    throw new Error('config/demo.yaml must use a software keystore with a passphrase');
  const passphrase = template.provider.passphrase;

  say(`starting PostgreSQL in ${join(dir, 'cluster')} (loopback only)`);
  const pg = await startPgDemo(join(dir, 'cluster'), { passphrase }, { throwaway: opts.throwaway });
  const proxies: FleetProxy[] = [];
  let haproxy: ChildProcess | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    haproxy?.kill('SIGTERM');
    for (const p of proxies) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all([...proxies.map((p) => waitForExit(p.child, 10_000)), ...(haproxy ? [waitForExit(haproxy, 5_000)] : [])]);
    await pg.stop().catch(() => undefined);
  };
  try {
    const configPath = join(dir, 'xks-proxy.yaml');
    const proxyPorts = Array.from({ length: FLEET_PROXIES }, (_, i) => opts.port + 1 + i);
    const config = {
      server: { host: '127.0.0.1', port: proxyPorts[0], statusEndpoint: true },
      logging: { level: 'info', pretty: false },
      keyStores: [
        {
          prefix: template.prefix,
          region: template.region,
          credentials: template.credentials,
          provider: {
            type: 'software',
            passphrase,
            store: { postgres: { url: pg.cluster.url, schema: pg.store.schema, heartbeatSeconds: 2, liveSeconds: 6, ...opts.storeOverrides } },
          },
        },
      ],
    };
    await writeFile(
      configPath,
      `# Written by \`npm run demo:fleet\` on every start: the three proxies serve this config.\n# DEMO ONLY: public test-client credentials, a passphrase in clear, a trust-auth database.\n${stringify(config)}`,
      { mode: 0o600 },
    );
    say(`starting ${FLEET_PROXIES} proxies on ports ${proxyPorts.join(', ')}`);
    const logOf = (i: number) => join(dir, `proxy-${i + 1}.log`);
    // By default the same entry point this process runs (tsx sources or the built bundle).
    const entry = opts.proxyEntry ?? [...process.execArgv, process.argv[1]!];
    proxies.push(...(await Promise.all(proxyPorts.map((p, i) => startProxy(entry, configPath, p, logOf(i))))));
    const cfgPath = join(dir, 'haproxy.cfg');
    await writeFile(cfgPath, haproxyConfig(opts.port, proxyPorts));
    say(`starting HAProxy on port ${opts.port}`);
    haproxy = await runHaproxy(cfgPath, opts.port);
    return {
      url: `http://127.0.0.1:${opts.port}`,
      configPath,
      dir,
      pg,
      proxies,
      haproxy,
      restartProxy: async (i: number) => {
        const p = await startProxy(entry, configPath, proxyPorts[i]!, logOf(i));
        proxies[i] = p;
        return p;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

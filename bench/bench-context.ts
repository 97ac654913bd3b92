/**
 * What the phases of one `npm run bench` run share, passed to each phase explicitly: the
 * options, the private temp dir, the table rows measured so far, the servers running now
 * (each started on first use, all stopped at the end), the fixtures and the signed
 * workloads prepared for them.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchOptions } from './bench-options.ts';
import type { CeilingResult } from './ceilings/request-mix.ts';
import { runClosedLoop, type ClosedLoopOptions } from './closed-loop.ts';
import { createSoftHsmBench, type SoftHsmBench } from './fixtures/softhsm-fixture.ts';
import { BENCH_TENANT, createSoftwareFixture, type ProxyFixture } from './fixtures/software-fixture.ts';
import { createSoftwarePgFixture } from './fixtures/software-pg-fixture.ts';
import { combineRounds, runInterleaved, type RoundPlan, type RoundResult, type RoundTarget } from './interleaved.ts';
import type { OpenLoopOptions } from './open-loop.ts';
import { row, type Row } from './report.ts';
import { REPO_DIR, startServer, type ServerProcess, type ServerSpec } from './server-process.ts';
import { XksWorkload, type PreparedRequest, type XksTarget } from './xks-workload.ts';

const run = promisify(execFile);

/** A target of an interleaved group, with what its table row needs besides the rounds. */
export interface GroupTarget extends RoundTarget {
  note?: string;
  peakRssBytes(): number | null;
}

/** A running work-ceiling server and the signed requests for it. */
export interface StartedWorkCeiling {
  server: ServerProcess;
  workload: XksWorkload;
}

export class BenchContext {
  /** One table row per target, in the order measured; the JSON's `targets`. */
  readonly rows: [string, Row][] = [];
  /** Closed-loop settings of a single run (the scaling target). */
  readonly closed: ClosedLoopOptions;
  /** Targets compared by a ratio run in interleaved rounds (bench/interleaved.ts). */
  readonly roundPlan: RoundPlan;
  /** Open-loop settings of the fixed-rate runs and the soak. */
  readonly open: OpenLoopOptions;
  /** The bare Hono server the proxy's ratios are taken against. */
  readonly baselineServer: () => Promise<ServerProcess>;
  /** The proxy with the software keystore in a file, one worker. */
  readonly softwareServer: () => Promise<ServerProcess>;
  /** The proxy with the software keystore in PostgreSQL, one worker. */
  readonly softwarePgServer: () => Promise<ServerProcess>;
  readonly #running: ServerProcess[] = [];
  readonly #workloads = new Map<ServerProcess, XksWorkload>();
  #software: ProxyFixture | undefined;
  #softwarePg: Awaited<ReturnType<typeof createSoftwarePgFixture>> | undefined;
  #hsm: SoftHsmBench | string | undefined;

  private constructor(
    readonly opts: BenchOptions,
    /** Fixtures, configs and server logs of this run. */
    readonly dir: string,
    /** When the run started (the log's clock and the total time). */
    readonly started: number,
  ) {
    this.closed = { connections: opts.connections, durationS: opts.closedS, warmupS: opts.closedWarmupS };
    this.roundPlan = { rounds: opts.rounds, totalS: opts.closedS, firstWarmupS: opts.closedWarmupS, laterWarmupS: 0.5 };
    this.open = { rate: opts.rate, durationS: opts.openS, warmupS: opts.openWarmupS, connections: 64 };
    this.baselineServer = this.lazy(async () => ({
      name: 'baseline',
      script: 'bench/servers/baseline-server.ts',
      args: [],
      logDir: dir,
      readyMsg: 'bench server listening',
    }));
    this.softwareServer = this.lazy(async () => this.proxySpec('software', await this.softwareFixture(), 1));
    this.softwarePgServer = this.lazy(async () => this.proxySpec('software-pg', await this.softwarePgFixture(), 1));
  }

  /** A run with its own temp dir. */
  static async create(opts: BenchOptions): Promise<BenchContext> {
    const dir = await mkdtemp(join(tmpdir(), 'xks-bench-'));
    return new BenchContext(opts, dir, Date.now());
  }

  /** Progress on stderr, with the seconds since the start. */
  readonly log = (line: string): void => {
    process.stderr.write(`[bench ${((Date.now() - this.started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
  };

  /** True when the target runs (every target unless --only names others). */
  want(target: string): boolean {
    return this.opts.only === undefined || this.opts.only.has(target);
  }

  /** A server started on first use (the same one on later calls) and stopped by `stopAll`. */
  lazy(spec: () => Promise<ServerSpec>): () => Promise<ServerProcess> {
    let server: Promise<ServerProcess> | undefined;
    return () => {
      server ??= spec().then(async (s) => {
        this.log(`starting ${s.name}`);
        const p = await startServer(s);
        this.#running.push(p);
        return p;
      });
      return server;
    };
  }

  async stop(server: ServerProcess): Promise<void> {
    const code = await server.stop();
    this.#running.splice(this.#running.indexOf(server), 1);
    if (code !== 0) this.log(`warning: ${server.name} exited with ${code}; see its log`);
  }

  /** Stops every server running now. */
  async stopAll(): Promise<void> {
    for (const s of [...this.#running]) await this.stop(s);
  }

  /**
   * The proxy as the container image runs it: the esbuild bundle (`npm run build`, made
   * fresh for every bench run) with plain node and source maps, not the sources through tsx.
   */
  proxySpec(name: string, fixture: ProxyFixture, workers: number, env: NodeJS.ProcessEnv = {}): ServerSpec {
    return {
      name,
      script: 'dist/xks-proxy.mjs',
      nodeArgs: ['--enable-source-maps'],
      args: ['serve', '--config', fixture.configPath, '--workers', String(workers)],
      env,
      logDir: this.dir,
      readyMsg: 'xks-proxy listening',
    };
  }

  /** The software keystore file and proxy config, made on first use. */
  async softwareFixture(): Promise<ProxyFixture> {
    return (this.#software ??= await createSoftwareFixture(await this.subdir('software'), this.opts.logLevel));
  }

  /** The keystore in a PostgreSQL cluster of this run, made on first use. */
  async softwarePgFixture(): Promise<ProxyFixture> {
    return (this.#softwarePg ??= await createSoftwarePgFixture(await this.subdir('software-pg'), this.opts.logLevel));
  }

  /** The SoftHSM2 token, made on first use; a string says why it could not be. */
  async softHsm(): Promise<SoftHsmBench | string> {
    return (this.#hsm ??= await createSoftHsmBench(await this.subdir('softhsm'), this.opts.logLevel, this.opts.sessions).catch(
      (e: Error) => `SoftHSM2 setup failed: ${e.message}`,
    ));
  }

  /** The signed requests for a proxy server, prepared once per server. */
  async workload(server: ServerProcess, fixture: ProxyFixture): Promise<XksWorkload> {
    let w = this.#workloads.get(server);
    if (w === undefined) {
      w = await this.preparedWorkload(fixture.target(server.url));
      this.#workloads.set(server, w);
    }
    return w;
  }

  /** Signed requests for a target, with a real ciphertext from one encrypt through it. */
  async preparedWorkload(target: XksTarget): Promise<XksWorkload> {
    const w = new XksWorkload(target, { plaintextBytes: this.opts.plaintextBytes, aadBytes: this.opts.aadBytes });
    await w.prepare();
    return w;
  }

  /**
   * Starts the work-ceiling server (bench/servers/work-ceiling-server.ts) with the given
   * cipher and prepares the same signed requests the proxy targets get.
   */
  async startWorkCeiling(cipher: 'software' | 'pkcs11', env: NodeJS.ProcessEnv): Promise<StartedWorkCeiling> {
    const name = cipher === 'software' ? 'work-ceiling' : 'pkcs11-work-ceiling';
    this.log(`starting ${name}`);
    const server = await startServer({
      name,
      script: 'bench/servers/work-ceiling-server.ts',
      args: ['0', BENCH_TENANT.region, BENCH_TENANT.accessKeyId, cipher, String(this.opts.sessions)],
      env: { ...env, XKS_BENCH_SIGV4_SECRET: BENCH_TENANT.secret },
      logDir: this.dir,
      readyMsg: 'bench server listening',
    });
    this.#running.push(server);
    return { server, workload: await this.preparedWorkload({ url: server.url, ...BENCH_TENANT, keyId: 'foo' }) };
  }

  /** Runs a ceiling script in its own process and reads its result line. */
  async ceiling(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<CeilingResult> {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO_DIR,
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    const line = stdout
      .trim()
      .split('\n')
      .find((l) => l.includes('"ceiling result"'));
    if (line === undefined) throw new Error(`${script} printed no result:\n${stdout}`);
    return JSON.parse(line) as CeilingResult;
  }

  /** A closed-loop target on a running server. */
  closedLoopTarget(name: string, server: ServerProcess, requests: () => PreparedRequest[], note?: string): GroupTarget {
    return {
      name,
      note,
      peakRssBytes: () => server.sample().peakRssBytes,
      run: (durationS, warmupS) => runClosedLoop(server, requests, { connections: this.opts.connections, durationS, warmupS }),
    };
  }

  /** Runs a group in interleaved rounds, adds a row per target, and returns every target's rounds. */
  async runGroup(group: GroupTarget[]): Promise<Map<string, RoundResult[]>> {
    const results = await runInterleaved(group, this.roundPlan, this.log);
    for (const target of group) this.rows.push([target.name, row(combineRounds(results.get(target.name)!), target.peakRssBytes(), target.note)]);
    return results;
  }

  /** A directory of this run's temp dir, made if needed. */
  async subdir(name: string): Promise<string> {
    const d = join(this.dir, name);
    await mkdir(d, { recursive: true });
    return d;
  }

  /** Stops what is still running, removes the fixtures and (unless --keep) the temp dir. */
  async cleanup(): Promise<void> {
    for (const s of [...this.#running]) await this.stop(s).catch(() => undefined);
    if (typeof this.#hsm === 'object') await this.#hsm.cleanup();
    await this.#softwarePg?.pg.stop().catch(() => undefined);
    if (this.opts.keep) this.log(`kept ${this.dir} (server logs and configs)`);
    else await rm(this.dir, { recursive: true, force: true });
  }
}

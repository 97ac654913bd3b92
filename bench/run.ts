/**
 * `npm run bench`: the proxy's throughput and latency as ratios to ceilings measured in the
 * same run (the machines are shared and noisy, so only ratios within one run mean much).
 * Servers run as child processes; this process only generates load and reads /proc.
 * See docs/performance.md for the method and the latest numbers.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseBenchOptions, type BenchOptions } from './bench-options.ts';
import type { CeilingResult } from './ceilings/request-mix.ts';
import { runClosedLoop } from './closed-loop.ts';
import { combineRounds, roundRatios, runInterleaved, type RoundPlan, type RoundResult, type RoundTarget } from './interleaved.ts';
import { createSoftHsmBench, type SoftHsmBench } from './fixtures/softhsm-fixture.ts';
import { BENCH_TENANT, createSoftwareFixture, type ProxyFixture } from './fixtures/software-fixture.ts';
import { createSoftwarePgFixture } from './fixtures/software-pg-fixture.ts';
import { runOpenLoop, type OpenLoopResult } from './open-loop.ts';
import { handlerLatency, type HandlerLatency } from './handler-latency.ts';
import { formatTable, measured, row, type Row } from './report.ts';
import { REPO_DIR, startServer, type ServerProcess, type ServerSpec } from './server-process.ts';
import { baselineRequests, XksWorkload, type PreparedRequest, type XksTarget } from './xks-workload.ts';

const run = promisify(execFile);
const opts = (() => {
  try {
    return parseBenchOptions(process.argv.slice(2));
  } catch (e) {
    // A mistyped option is the user's error: say what is wrong, no stack trace.
    process.stderr.write(`npm run bench: ${(e as Error).message} (see --help)\n`);
    process.exit(2);
  }
})();
const want = (target: string) => opts.only === undefined || opts.only.has(target);
const dir = await mkdtemp(join(tmpdir(), 'xks-bench-'));
const started = Date.now();
const loadStart = loadavg();
const rows: [string, Row][] = [];
const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

/** A server started on first use and stopped by `stopAll`. */
const running: ServerProcess[] = [];
function lazy(spec: () => Promise<ServerSpec>): () => Promise<ServerProcess> {
  let server: Promise<ServerProcess> | undefined;
  return () => {
    server ??= spec().then(async (s) => {
      log(`starting ${s.name}`);
      const p = await startServer(s);
      running.push(p);
      return p;
    });
    return server;
  };
}
async function stop(server: ServerProcess): Promise<void> {
  const code = await server.stop();
  running.splice(running.indexOf(server), 1);
  if (code !== 0) log(`warning: ${server.name} exited with ${code}; see its log`);
}

/**
 * The proxy as the container image runs it: the esbuild bundle (`npm run build`, made
 * fresh for every bench run) with plain node and source maps, not the sources through tsx.
 */
function proxySpec(name: string, fixture: ProxyFixture, workers: number, env: NodeJS.ProcessEnv = {}): ServerSpec {
  return {
    name,
    script: 'dist/xks-proxy.mjs',
    nodeArgs: ['--enable-source-maps'],
    args: ['serve', '--config', fixture.configPath, '--workers', String(workers)],
    env,
    logDir: dir,
    readyMsg: 'xks-proxy listening',
  };
}
await run('npm', ['run', 'build'], { cwd: REPO_DIR });

/** Every ratio the bench reports, as [numerator target, denominator target]. */
const RATIOS = {
  software_rps_ratio: ['software', 'baseline'],
  softhsm_ratio: ['softhsm', 'pkcs11-ceiling'],
  work_ceiling_ratio: ['work-ceiling', 'baseline'],
  software_vs_work_ceiling: ['software', 'work-ceiling'],
  // The keys in PostgreSQL instead of a file: the hot path serves from memory either way.
  software_pg_vs_file: ['software-pg', 'software'],
  pkcs11_work_ceiling_ratio: ['pkcs11-work-ceiling', 'pkcs11-ceiling'],
  softhsm_vs_work_ceiling: ['softhsm', 'pkcs11-work-ceiling'],
} as const satisfies Record<string, readonly [string, string]>;

const closed = { connections: opts.connections, durationS: opts.closedS, warmupS: opts.closedWarmupS };
// Targets compared by a ratio run in interleaved rounds (bench/interleaved.ts).
const roundPlan: RoundPlan = { rounds: opts.rounds, totalS: opts.closedS, firstWarmupS: opts.closedWarmupS, laterWarmupS: 0.5 };
const open = { rate: opts.rate, durationS: opts.openS, warmupS: opts.openWarmupS, connections: 64 };

let software: ProxyFixture | undefined;
const softwareFixture = async () => (software ??= await createSoftwareFixture(await subdir('software'), opts.logLevel));
const baselineServer = lazy(async () => ({
  name: 'baseline',
  script: 'bench/servers/baseline-server.ts',
  args: [],
  logDir: dir,
  readyMsg: 'bench server listening',
}));
const softwareServer = lazy(async () => proxySpec('software', await softwareFixture(), 1));
let softwarePg: Awaited<ReturnType<typeof createSoftwarePgFixture>> | undefined;
const softwarePgFixture = async () => (softwarePg ??= await createSoftwarePgFixture(await subdir('software-pg'), opts.logLevel));
const softwarePgServer = lazy(async () => proxySpec('software-pg', await softwarePgFixture(), 1));
const workloads = new Map<ServerProcess, XksWorkload>();
async function workload(server: ServerProcess, fixture: ProxyFixture): Promise<XksWorkload> {
  let w = workloads.get(server);
  if (w === undefined) {
    w = await preparedWorkload(fixture.target(server.url));
    workloads.set(server, w);
  }
  return w;
}

/** Signed requests for a target, with a real ciphertext from one encrypt through it. */
async function preparedWorkload(target: XksTarget): Promise<XksWorkload> {
  const w = new XksWorkload(target, { plaintextBytes: opts.plaintextBytes, aadBytes: opts.aadBytes });
  await w.prepare();
  return w;
}

const json: Record<string, unknown> = {};
let hsm: SoftHsmBench | string | undefined;
try {
  // 1. What the load generator itself can drive: a no-op node:http server.
  if (want('client-check')) {
    const noop = await lazy(async () => ({
      name: 'noop',
      script: 'bench/servers/noop-server.ts',
      args: [],
      logDir: dir,
      readyMsg: 'bench server listening',
    }))();
    log('client check: closed loop against a no-op server');
    const r = await runClosedLoop(noop, () => baselineRequests(noop.url), closed);
    rows.push(['no-op server (client check)', row(r, noop.sample().peakRssBytes)]);
    await stop(noop);
  }

  // 2. Closed loop, in interleaved rounds: the bare Hono baseline, the work ceiling and the
  // proxy with the software keystore.
  const softwareGroup: GroupTarget[] = [];
  let softwareCeiling: StartedWorkCeiling | undefined;
  if (want('baseline')) {
    const s = await baselineServer();
    softwareGroup.push(closedLoopTarget('baseline', s, () => baselineRequests(s.url)));
  }
  if (want('work-ceiling')) {
    softwareCeiling = await startWorkCeiling('software', {});
    const { server, workload: w } = softwareCeiling;
    softwareGroup.push(closedLoopTarget('work-ceiling', server, () => w.requests(), 'bare Hono + SigV4 + AES-GCM, same requests'));
  }
  if (want('software')) {
    const s = await softwareServer();
    const w = await workload(s, await softwareFixture());
    softwareGroup.push(closedLoopTarget('software', s, () => w.requests(), '1 worker'));
  }
  if (want('software-pg')) {
    const s = await softwarePgServer();
    const w = await workload(s, await softwarePgFixture());
    softwareGroup.push(closedLoopTarget('software-pg', s, () => w.requests(), '1 worker, keys in PostgreSQL'));
  }
  const softwareRounds = await runGroup(softwareGroup);
  if (softwareCeiling !== undefined) await stop(softwareCeiling.server);

  // 3. Open loop at a fixed rate against both, back to back.
  const fixed: Record<string, OpenLoopResult> = {};
  let softwareHandler: HandlerLatency | null = null;
  if (want('fixed-rate')) {
    const b = await baselineServer();
    log(`baseline: ${opts.rate} req/s for ${opts.openS} s`);
    fixed.baseline = await runOpenLoop(b, () => baselineRequests(b.url), open);
    rows.push([`baseline @ ${opts.rate}/s`, row({ ...fixed.baseline, rps: fixed.baseline.achievedRps }, b.sample().peakRssBytes)]);
    const s = await softwareServer();
    const w = await workload(s, await softwareFixture());
    log(`software: ${opts.rate} req/s for ${opts.openS} s`);
    fixed.software = await runOpenLoop(s, () => w.requests(), open);
    await new Promise((resolve) => setTimeout(resolve, 200)); // log lines are written up to 10 ms late
    softwareHandler = handlerLatency(s.logFile, fixed.software.measuredFromMs, fixed.software.measuredToMs);
    rows.push([`software @ ${opts.rate}/s`, row({ ...fixed.software, rps: fixed.software.achievedRps }, s.sample().peakRssBytes)]);
  }
  for (const s of [...running]) await stop(s);

  // 4. Crypto ceiling: AES-GCM in the same request mix, in its own process.
  if (want('crypto-ceiling')) {
    log('crypto ceiling');
    const c = await ceiling('bench/ceilings/crypto-ceiling.ts', [String(opts.ceilingS), String(opts.plaintextBytes), String(opts.aadBytes)], {});
    rows.push(['crypto-ceiling', row(c, c.peakRssBytes, 'node:crypto AES-256-GCM, same request mix')]);
  }

  // 5. PKCS#11 on SoftHSM2: through the proxy, and pkcs11js directly on the same token.
  if (want('softhsm') || want('pkcs11-ceiling') || want('pkcs11-work-ceiling')) {
    hsm = await createSoftHsmBench(await subdir('softhsm'), opts.logLevel, opts.sessions).catch((e: Error) => `SoftHSM2 setup failed: ${e.message}`);
    if (typeof hsm === 'string') log(`PKCS#11 targets skipped: ${hsm}`);
  }
  // The proxy on the token, the work ceiling on the token and the bare pkcs11js loop, in
  // interleaved rounds like the software targets.
  let hsmRounds = new Map<string, RoundResult[]>();
  if (typeof hsm === 'string' || hsm === undefined) {
    for (const name of ['softhsm', 'pkcs11-ceiling', 'pkcs11-work-ceiling']) if (want(name)) rows.push([name, { skipped: `provider not available (${hsm})` }]);
  } else {
    const fixture = hsm;
    const group: GroupTarget[] = [];
    let hsmCeiling: StartedWorkCeiling | undefined;
    if (want('softhsm')) {
      const s = await lazy(async () => proxySpec('softhsm', fixture, 1, fixture.proxyEnv))();
      const w = await workload(s, fixture);
      group.push(closedLoopTarget('softhsm', s, () => w.requests(), `${fixture.sessions} sessions`));
    }
    if (want('pkcs11-work-ceiling')) {
      hsmCeiling = await startWorkCeiling('pkcs11', fixture.ceilingEnv);
      const { server, workload: w } = hsmCeiling;
      group.push(closedLoopTarget('pkcs11-work-ceiling', server, () => w.requests(), `bare Hono + SigV4 + pkcs11js AES-GCM, ${fixture.sessions} sessions`));
    }
    if (want('pkcs11-ceiling')) {
      let peak = 0;
      group.push({
        name: 'pkcs11-ceiling',
        note: `pkcs11js direct, ${fixture.sessions} sessions, same request mix`,
        peakRssBytes: () => peak,
        // A fresh process per round (it warms up for 1 s itself); the same token and sessions count.
        run: async (durationS) => {
          const c = await ceiling(
            'bench/ceilings/pkcs11-ceiling.ts',
            [String(durationS), String(fixture.sessions), String(opts.plaintextBytes), String(opts.aadBytes)],
            fixture.ceilingEnv,
          );
          peak = Math.max(peak, c.peakRssBytes);
          return c;
        },
      });
    }
    hsmRounds = await runGroup(group);
    if (hsmCeiling !== undefined) await stop(hsmCeiling.server);
    for (const s of [...running]) await stop(s);
  }

  // 6. Scaling: the software target with one worker per core.
  let scaling: Record<string, unknown> | null = null;
  if (want('scaling')) {
    const one = rows.find(([n]) => n === 'software')?.[1];
    if (opts.workers < 2) scaling = { skipped: 'one core: nothing to scale' };
    else {
      const s = await lazy(async () => proxySpec(`software-${opts.workers}-workers`, await softwareFixture(), opts.workers))();
      const w = await workload(s, await softwareFixture());
      log(`software with ${opts.workers} workers: closed loop`);
      const r = row(await runClosedLoop(s, () => w.requests(), closed), s.sample().peakRssBytes, `${opts.workers} workers (RSS: all processes)`);
      rows.push([`software x${opts.workers} workers`, r]);
      await stop(s);
      scaling = {
        workers: [1, opts.workers],
        software_rps: [measured(one) ? one.rps : null, r.rps],
        speedup: measured(one) ? round2(r.rps / one.rps) : null,
      };
    }
  }

  // 7. Optional soak: RSS over a long steady run at the fixed rate.
  const soak = opts.soakS > 0 ? await runSoak(opts) : null;

  const get = (name: string) => rows.find(([n]) => n === name)?.[1];
  const rps = (name: string) => {
    const r = get(name);
    return measured(r) ? r.rps : null;
  };
  const ratio = (a: number | null, b: number | null) => (a === null || b === null ? null : round2(a / b));
  const ratioOf = (name: keyof typeof RATIOS) => ratio(rps(RATIOS[name][0]), rps(RATIOS[name][1]));
  const targetRounds = new Map([...softwareRounds, ...hsmRounds]);
  const baselineP99 = fixed.baseline ? round3(fixed.baseline.p99Ms) : null;
  const softwareP99 = fixed.software ? round3(fixed.software.p99Ms) : null;
  Object.assign(json, {
    baseline_rps: rps('baseline'),
    software_rps: rps('software'),
    software_pg_rps: rps('software-pg'),
    software_pg_vs_file: ratioOf('software_pg_vs_file'),
    softhsm_rps: rps('softhsm'),
    baseline_p99_ms_at_1800: opts.rate === 1800 ? baselineP99 : null,
    software_p99_ms_at_1800: opts.rate === 1800 ? softwareP99 : null,
    software_rps_ratio: ratioOf('software_rps_ratio'),
    softhsm_ratio: ratioOf('softhsm_ratio'),
    // The work ceiling does only what every XKS proxy must (SigV4, JSON, Base64, AES-GCM):
    // its ratio to the baseline bounds software_rps_ratio for any design on this stack.
    work_ceiling_rps: rps('work-ceiling'),
    work_ceiling_ratio: ratioOf('work_ceiling_ratio'),
    software_vs_work_ceiling: ratioOf('software_vs_work_ceiling'),
    // The same with the token: its ratio to the pkcs11js loop bounds softhsm_ratio.
    pkcs11_work_ceiling_rps: rps('pkcs11-work-ceiling'),
    pkcs11_work_ceiling_ratio: ratioOf('pkcs11_work_ceiling_ratio'),
    softhsm_vs_work_ceiling: ratioOf('softhsm_vs_work_ceiling'),
    crypto_ceiling_rps: rps('crypto-ceiling'),
    pkcs11_ceiling_rps: rps('pkcs11-ceiling'),
    client_check_rps: rps('no-op server (client check)'),
    fixed_rate: Object.fromEntries(Object.entries(fixed).map(([k, v]) => [k, fixedRateJson(v)])),
    // The proxy's own latency (its log's latencyMs) in the software fixed-rate run.
    software_handler_at_rate: softwareHandler,
    // Each ratio round by round (the same moments of the machine for both sides).
    rounds: {
      count: opts.rounds,
      ...Object.fromEntries(Object.entries(RATIOS).map(([name, [a, b]]) => [name, ratioRounds(targetRounds.get(a), targetRounds.get(b))])),
    },
    scaling,
    soak,
    targets: Object.fromEntries(rows),
  });
  json.goals = goals(json, fixed);
} finally {
  for (const s of [...running]) await stop(s).catch(() => undefined);
  if (typeof hsm === 'object') await hsm.cleanup();
  await softwarePg?.pg.stop().catch(() => undefined);
  if (opts.keep) log(`kept ${dir} (server logs and configs)`);
  else await rm(dir, { recursive: true, force: true });
}

const report = {
  generated_at: new Date().toISOString(),
  mode: opts.mode,
  machine: {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    kernel: release(),
    loadavg_start: loadStart.map(round2),
    loadavg_end: loadavg().map(round2),
  },
  settings: {
    closed_loop: {
      tool: 'autocannon 9',
      connections: opts.connections,
      duration_s: opts.closedS,
      warmup_s: opts.closedWarmupS,
      rounds: opts.rounds,
      later_round_warmup_s: roundPlan.laterWarmupS,
    },
    fixed_rate: { tool: 'undici Pool, hdr histogram (us)', rate: opts.rate, duration_s: opts.openS, warmup_s: opts.openWarmupS, connections: open.connections },
    payload: { plaintext_bytes: opts.plaintextBytes, aad_bytes: opts.aadBytes, mix: 'alternating Encrypt (with CDIV) and Decrypt' },
    proxy_log_level: opts.logLevel,
    pkcs11_sessions: opts.sessions,
  },
  ...json,
};
const outFile = resolve(REPO_DIR, opts.out);
await mkdir(dirname(outFile), { recursive: true });
await writeFile(outFile, `${JSON.stringify(report, null, 2)}\n`);

console.log(
  `\nxks-proxy benchmark (${opts.mode}; ${report.machine.cpus} x ${report.machine.cpu_model}; node ${process.version}; load ${loadStart.map((n) => n.toFixed(1)).join(' ')})\n`,
);
console.log(formatTable(rows));
console.log('');
for (const line of goalLines(json)) console.log(line);
if (typeof json.work_ceiling_ratio === 'number') {
  console.log(
    `\nwork ceiling (bare Hono + SigV4 + JSON + AES-GCM, nothing else): ${String(json.work_ceiling_rps)} req/s = ${json.work_ceiling_ratio}${roundSpread('work_ceiling_ratio')} of baseline, ` +
      `the most software_rps_ratio can be for any proxy doing this work on this stack; software = ${typeof json.software_vs_work_ceiling === 'number' ? json.software_vs_work_ceiling : '-'}${roundSpread('software_vs_work_ceiling')} of it`,
  );
}
if (typeof json.pkcs11_work_ceiling_ratio === 'number') {
  console.log(
    `pkcs11 work ceiling (the same with the token): ${String(json.pkcs11_work_ceiling_rps)} req/s = ${json.pkcs11_work_ceiling_ratio}${roundSpread('pkcs11_work_ceiling_ratio')} of the pkcs11js loop, ` +
      `the most softhsm_ratio can be; softhsm = ${typeof json.softhsm_vs_work_ceiling === 'number' ? json.softhsm_vs_work_ceiling : '-'}${roundSpread('softhsm_vs_work_ceiling')} of it`,
  );
}
const handler = json.software_handler_at_rate as HandlerLatency | null | undefined;
if (handler) {
  console.log(
    `\nsoftware @ ${opts.rate}/s as the proxy logged it (handler only, ${handler.requests} requests): p50 ${handler.p50_ms} ms, p99 ${handler.p99_ms} ms, p99.9 ${handler.p999_ms} ms, max ${handler.max_ms} ms`,
  );
}
console.log(`\nwrote ${outFile} in ${((Date.now() - started) / 1000).toFixed(0)} s`);

/** A target of an interleaved group, with what its table row needs besides the rounds. */
interface GroupTarget extends RoundTarget {
  note?: string;
  peakRssBytes(): number | null;
}

/** A closed-loop target on a running server. */
function closedLoopTarget(name: string, server: ServerProcess, requests: () => PreparedRequest[], note?: string): GroupTarget {
  return {
    name,
    note,
    peakRssBytes: () => server.sample().peakRssBytes,
    run: (durationS, warmupS) => runClosedLoop(server, requests, { connections: opts.connections, durationS, warmupS }),
  };
}

/** Runs a group in interleaved rounds, adds a row per target, and returns every target's rounds. */
async function runGroup(group: GroupTarget[]): Promise<Map<string, RoundResult[]>> {
  const results = await runInterleaved(group, roundPlan, log);
  for (const target of group) rows.push([target.name, row(combineRounds(results.get(target.name)!), target.peakRssBytes(), target.note)]);
  return results;
}

/** A running work-ceiling server and the signed requests for it. */
interface StartedWorkCeiling {
  server: ServerProcess;
  workload: XksWorkload;
}

/**
 * Starts the work-ceiling server (bench/servers/work-ceiling-server.ts) with the given
 * cipher and prepares the same signed requests the proxy targets get.
 */
async function startWorkCeiling(cipher: 'software' | 'pkcs11', env: NodeJS.ProcessEnv): Promise<StartedWorkCeiling> {
  const name = cipher === 'software' ? 'work-ceiling' : 'pkcs11-work-ceiling';
  log(`starting ${name}`);
  const server = await startServer({
    name,
    script: 'bench/servers/work-ceiling-server.ts',
    args: ['0', BENCH_TENANT.region, BENCH_TENANT.accessKeyId, cipher, String(opts.sessions)],
    env: { ...env, XKS_BENCH_SIGV4_SECRET: BENCH_TENANT.secret },
    logDir: dir,
    readyMsg: 'bench server listening',
  });
  running.push(server);
  return { server, workload: await preparedWorkload({ url: server.url, ...BENCH_TENANT, keyId: 'foo' }) };
}

async function subdir(name: string): Promise<string> {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  return d;
}

async function ceiling(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<CeilingResult> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_DIR, env: { ...process.env, ...env }, timeout: 120_000 });
  const line = stdout
    .trim()
    .split('\n')
    .find((l) => l.includes('"ceiling result"'));
  if (line === undefined) throw new Error(`${script} printed no result:\n${stdout}`);
  return JSON.parse(line) as CeilingResult;
}

async function runSoak(o: BenchOptions): Promise<Record<string, unknown>> {
  const s = await lazy(async () => proxySpec('software-soak', await softwareFixture(), 1))();
  const w = await workload(s, await softwareFixture());
  log(`soak: ${o.rate} req/s for ${o.soakS} s against the software target, RSS every 5 s`);
  const samples: { t: number; rss: number }[] = [];
  const t0 = Date.now();
  const timer = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rss: s.sample().rssBytes }), 5000);
  const r = await runOpenLoop(s, () => w.requests(), { ...open, durationS: o.soakS });
  clearInterval(timer);
  rows.push([`software soak ${o.soakS} s @ ${o.rate}/s`, row({ ...r, rps: r.achievedRps }, s.sample().peakRssBytes)]);
  await stop(s);
  // RSS grows while the JIT, pools and buffers warm up; growth is measured from 10% in.
  const warm = samples.find((x) => x.t >= o.soakS * 0.1) ?? samples[0];
  const end = samples[samples.length - 1];
  if (warm === undefined || end === undefined) return { skipped: 'run too short to sample' };
  return {
    duration_s: o.soakS,
    rate: o.rate,
    errors: r.errors,
    p99_ms: round3(r.p99Ms),
    rss_mb_after_warmup: round1(warm.rss / 1024 / 1024),
    rss_mb_end: round1(end.rss / 1024 / 1024),
    rss_mb_max: round1(Math.max(...samples.map((x) => x.rss)) / 1024 / 1024),
    rss_growth_pct: round1(((end.rss - warm.rss) / warm.rss) * 100),
    rss_samples_mb: samples.map((x) => round1(x.rss / 1024 / 1024)),
  };
}

function ratioRounds(numerator: RoundResult[] | undefined, denominator: RoundResult[] | undefined): number[] | null {
  return numerator === undefined || denominator === undefined ? null : roundRatios(numerator, denominator);
}

function fixedRateJson(r: OpenLoopResult): Record<string, number> {
  return {
    rate: r.rate,
    sent: r.sent,
    achieved_rps: Math.round(r.achievedRps),
    p50_ms: round3(r.p50Ms),
    p99_ms: round3(r.p99Ms),
    p999_ms: round3(r.p999Ms),
    max_ms: round3(r.maxMs),
    errors: r.errors,
    send_lag_p99_ms: round3(r.sendLagP99Ms),
    p99_from_schedule_ms: round3(r.p99FromScheduleMs),
    server_cpu_cores: round3(r.serverCpuCores),
    client_cpu_cores: round3(r.clientCpuCores),
  };
}

/** The targets, each with the measured value and whether it was met (null: not measured). */
function goals(
  j: Record<string, unknown>,
  fixed: Record<string, OpenLoopResult>,
): Record<string, { value: number | null; target: string; met: boolean | null }> {
  const num = (k: string) => (typeof j[k] === 'number' ? j[k] : null);
  const delta = fixed.baseline && fixed.software ? round3(fixed.software.p99Ms - fixed.baseline.p99Ms) : null;
  const errs = fixed.baseline && fixed.software ? fixed.baseline.errors + fixed.software.errors : null;
  const soak = j.soak as { rss_growth_pct?: number } | null;
  const growth = soak?.rss_growth_pct ?? null;
  const check = (value: number | null, ok: (v: number) => boolean, target: string) => ({ value, target, met: value === null ? null : ok(value) });
  return {
    software_rps_ratio: check(num('software_rps_ratio'), (v) => v >= 0.7, '>= 0.70 of baseline req/s'),
    p99_delta_ms_at_rate: check(delta, (v) => v <= 2, `software p99 <= baseline p99 + 2 ms at ${opts.rate} req/s`),
    errors_at_rate: check(errs, (v) => v === 0, `0 errors at ${opts.rate} req/s`),
    softhsm_ratio: check(num('softhsm_ratio'), (v) => v >= 0.7, '>= 0.70 of the direct pkcs11js loop'),
    soak_rss_growth_pct: check(growth, (v) => v < 10, '< 10% RSS growth over the soak run'),
  };
}

function goalLines(j: Record<string, unknown>): string[] {
  const g = j.goals as Record<string, { value: number | null; target: string; met: boolean | null }>;
  return Object.entries(g).map(
    ([name, { value, target, met }]) =>
      `${met === null ? 'not measured' : met ? 'MET    ' : 'NOT MET'}  ${name} = ${value ?? '-'}${roundSpread(name)}  (${target})`,
  );
}

/** " (rounds a-b)" for a ratio measured in interleaved rounds: how much the machine moved; '' otherwise. */
function roundSpread(ratio: string): string {
  const perRound = (json.rounds as Record<string, number[] | null> | undefined)?.[ratio];
  return Array.isArray(perRound) && perRound.length > 1 ? ` (rounds ${Math.min(...perRound)}-${Math.max(...perRound)})` : '';
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

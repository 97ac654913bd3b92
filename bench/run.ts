/**
 * `npm run bench`: the proxy's throughput and latency as ratios to ceilings measured in the
 * same run (the machines are shared and noisy, so only ratios within one run mean much).
 * Servers run as child processes; this process only generates load and reads /proc.
 * See docs/performance.md for the method and the latest numbers.
 *
 * One function per phase, in the order they run, each given the run's BenchContext
 * (bench/bench-context.ts: options, rows, servers, fixtures). Where the lists are:
 * the ratios in RATIOS below; the targets compared by a ratio in softwareRatioRounds() and
 * pkcs11RatioRounds(); the JSON's keys in resultsJson(); target names for --only in
 * bench-options.ts.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { BenchContext, type GroupTarget, type StartedWorkCeiling } from './bench-context.ts';
import { parseBenchOptions, type BenchOptions } from './bench-options.ts';
import { runClosedLoop } from './closed-loop.ts';
import { roundRatios, type RoundResult } from './interleaved.ts';
import { runOpenLoop, type OpenLoopResult } from './open-loop.ts';
import { handlerLatency, type HandlerLatency } from './handler-latency.ts';
import { formatTable, measured, row } from './report.ts';
import { REPO_DIR } from './server-process.ts';
import { baselineRequests } from './xks-workload.ts';

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

const run = promisify(execFile);
const opts = parseOptionsOrExit(process.argv.slice(2));
const bench = await BenchContext.create(opts);
const loadStart = loadavg();
await run('npm', ['run', 'build'], { cwd: REPO_DIR });
let json: Record<string, unknown>;
try {
  json = await measureAll(bench);
} finally {
  await bench.cleanup();
}
const report = benchReport(bench, json, loadStart);
const outFile = resolve(REPO_DIR, opts.out);
await mkdir(dirname(outFile), { recursive: true });
await writeFile(outFile, `${JSON.stringify(report, null, 2)}\n`);
printSummary(bench, report, loadStart, outFile);

function parseOptionsOrExit(argv: string[]): BenchOptions {
  try {
    return parseBenchOptions(argv);
  } catch (e) {
    // A mistyped option is the user's error: say what is wrong, no stack trace.
    process.stderr.write(`npm run bench: ${(e as Error).message} (see --help)\n`);
    process.exit(2);
  }
}

/** Every phase in order; the results as the JSON report's measured part. */
async function measureAll(b: BenchContext): Promise<Record<string, unknown>> {
  await clientCheck(b);
  const softwareRounds = await softwareRatioRounds(b);
  const fixed = await fixedRate(b);
  // The closed-loop and fixed-rate servers are done with.
  await b.stopAll();
  await cryptoCeiling(b);
  const hsmRounds = await pkcs11RatioRounds(b);
  const scaling = await scalingRun(b);
  const soak = b.opts.soakS > 0 ? await soakRun(b) : null;
  return resultsJson(b, { rounds: new Map([...softwareRounds, ...hsmRounds]), fixed, scaling, soak });
}

/** 1. What the load generator itself can drive: a no-op node:http server. */
async function clientCheck(b: BenchContext): Promise<void> {
  if (!b.want('client-check')) return;
  const noop = await b.lazy(async () => ({
    name: 'noop',
    script: 'bench/servers/noop-server.ts',
    args: [],
    logDir: b.dir,
    readyMsg: 'bench server listening',
  }))();
  b.log('client check: closed loop against a no-op server');
  const r = await runClosedLoop(noop, () => baselineRequests(noop.url), b.closed);
  b.rows.push(['no-op server (client check)', row(r, noop.sample().peakRssBytes)]);
  await b.stop(noop);
}

/**
 * 2. Closed loop, in interleaved rounds: the bare Hono baseline, the work ceiling and the
 * proxy with the software keystore (file and PostgreSQL). The baseline and proxy servers
 * stay up for the fixed-rate phase.
 */
async function softwareRatioRounds(b: BenchContext): Promise<Map<string, RoundResult[]>> {
  const group: GroupTarget[] = [];
  let ceiling: StartedWorkCeiling | undefined;
  if (b.want('baseline')) {
    const s = await b.baselineServer();
    group.push(b.closedLoopTarget('baseline', s, () => baselineRequests(s.url)));
  }
  if (b.want('work-ceiling')) {
    ceiling = await b.startWorkCeiling('software', {});
    const { server, workload: w } = ceiling;
    group.push(b.closedLoopTarget('work-ceiling', server, () => w.requests(), 'bare Hono + SigV4 + AES-GCM, same requests'));
  }
  if (b.want('software')) {
    const s = await b.softwareServer();
    const w = await b.workload(s, await b.softwareFixture());
    group.push(b.closedLoopTarget('software', s, () => w.requests(), '1 worker'));
  }
  if (b.want('software-pg')) {
    const s = await b.softwarePgServer();
    const w = await b.workload(s, await b.softwarePgFixture());
    group.push(b.closedLoopTarget('software-pg', s, () => w.requests(), '1 worker, keys in PostgreSQL'));
  }
  const rounds = await b.runGroup(group);
  if (ceiling !== undefined) await b.stop(ceiling.server);
  return rounds;
}

/** Open-loop results at the fixed rate, and the proxy's own view of its latency in them. */
interface FixedRate {
  /** By target: `baseline` and `software` (none when the phase did not run). */
  runs: Record<string, OpenLoopResult>;
  /** The proxy's own latency (its log's latencyMs) in the software run. */
  softwareHandler: HandlerLatency | null;
}

/** 3. Open loop at a fixed rate against the baseline and the software proxy, back to back. */
async function fixedRate(b: BenchContext): Promise<FixedRate> {
  const runs: Record<string, OpenLoopResult> = {};
  if (!b.want('fixed-rate')) return { runs, softwareHandler: null };
  const { rate, openS } = b.opts;
  const base = await b.baselineServer();
  b.log(`baseline: ${rate} req/s for ${openS} s`);
  runs.baseline = await runOpenLoop(base, () => baselineRequests(base.url), b.open);
  b.rows.push([`baseline @ ${rate}/s`, row({ ...runs.baseline, rps: runs.baseline.achievedRps }, base.sample().peakRssBytes)]);
  const s = await b.softwareServer();
  const w = await b.workload(s, await b.softwareFixture());
  b.log(`software: ${rate} req/s for ${openS} s`);
  runs.software = await runOpenLoop(s, () => w.requests(), b.open);
  await new Promise((resolve) => setTimeout(resolve, 200)); // log lines are written up to 10 ms late
  const softwareHandler = handlerLatency(s.logFile, runs.software.measuredFromMs, runs.software.measuredToMs);
  b.rows.push([`software @ ${rate}/s`, row({ ...runs.software, rps: runs.software.achievedRps }, s.sample().peakRssBytes)]);
  return { runs, softwareHandler };
}

/** 4. Crypto ceiling: AES-GCM in the same request mix, in its own process. */
async function cryptoCeiling(b: BenchContext): Promise<void> {
  if (!b.want('crypto-ceiling')) return;
  b.log('crypto ceiling');
  const { ceilingS, plaintextBytes, aadBytes } = b.opts;
  const c = await b.ceiling('bench/ceilings/crypto-ceiling.ts', [String(ceilingS), String(plaintextBytes), String(aadBytes)], {});
  b.rows.push(['crypto-ceiling', row(c, c.peakRssBytes, 'node:crypto AES-256-GCM, same request mix')]);
}

/**
 * 5. PKCS#11 on SoftHSM2, in interleaved rounds like the software targets: the proxy on the
 * token, the work ceiling on the token and the bare pkcs11js loop on the same token.
 */
async function pkcs11RatioRounds(b: BenchContext): Promise<Map<string, RoundResult[]>> {
  const names = ['softhsm', 'pkcs11-ceiling', 'pkcs11-work-ceiling'];
  if (!names.some((name) => b.want(name))) return new Map();
  const hsm = await b.softHsm();
  if (typeof hsm === 'string') {
    b.log(`PKCS#11 targets skipped: ${hsm}`);
    for (const name of names) if (b.want(name)) b.rows.push([name, { skipped: `provider not available (${hsm})` }]);
    return new Map();
  }
  const group: GroupTarget[] = [];
  let ceiling: StartedWorkCeiling | undefined;
  if (b.want('softhsm')) {
    const s = await b.lazy(async () => b.proxySpec('softhsm', hsm, 1, hsm.proxyEnv))();
    const w = await b.workload(s, hsm);
    group.push(b.closedLoopTarget('softhsm', s, () => w.requests(), `${hsm.sessions} sessions`));
  }
  if (b.want('pkcs11-work-ceiling')) {
    ceiling = await b.startWorkCeiling('pkcs11', hsm.ceilingEnv);
    const { server, workload: w } = ceiling;
    group.push(b.closedLoopTarget('pkcs11-work-ceiling', server, () => w.requests(), `bare Hono + SigV4 + pkcs11js AES-GCM, ${hsm.sessions} sessions`));
  }
  if (b.want('pkcs11-ceiling')) {
    let peak = 0;
    group.push({
      name: 'pkcs11-ceiling',
      note: `pkcs11js direct, ${hsm.sessions} sessions, same request mix`,
      peakRssBytes: () => peak,
      // A fresh process per round (it warms up for 1 s itself); the same token and sessions count.
      run: async (durationS) => {
        const c = await b.ceiling(
          'bench/ceilings/pkcs11-ceiling.ts',
          [String(durationS), String(hsm.sessions), String(b.opts.plaintextBytes), String(b.opts.aadBytes)],
          hsm.ceilingEnv,
        );
        peak = Math.max(peak, c.peakRssBytes);
        return c;
      },
    });
  }
  const rounds = await b.runGroup(group);
  if (ceiling !== undefined) await b.stop(ceiling.server);
  await b.stopAll();
  return rounds;
}

/** 6. Scaling: the software target with one worker per core, against its one-worker row. */
async function scalingRun(b: BenchContext): Promise<Record<string, unknown> | null> {
  if (!b.want('scaling')) return null;
  const { workers } = b.opts;
  if (workers < 2) return { skipped: 'one core: nothing to scale' };
  const one = b.rows.find(([n]) => n === 'software')?.[1];
  const s = await b.lazy(async () => b.proxySpec(`software-${workers}-workers`, await b.softwareFixture(), workers))();
  const w = await b.workload(s, await b.softwareFixture());
  b.log(`software with ${workers} workers: closed loop`);
  const r = row(await runClosedLoop(s, () => w.requests(), b.closed), s.sample().peakRssBytes, `${workers} workers (RSS: all processes)`);
  b.rows.push([`software x${workers} workers`, r]);
  await b.stop(s);
  return {
    workers: [1, workers],
    software_rps: [measured(one) ? one.rps : null, r.rps],
    speedup: measured(one) ? round2(r.rps / one.rps) : null,
  };
}

/** 7. Optional soak: RSS over a long steady run at the fixed rate. */
async function soakRun(b: BenchContext): Promise<Record<string, unknown>> {
  const { rate, soakS } = b.opts;
  const s = await b.lazy(async () => b.proxySpec('software-soak', await b.softwareFixture(), 1))();
  const w = await b.workload(s, await b.softwareFixture());
  b.log(`soak: ${rate} req/s for ${soakS} s against the software target, RSS every 5 s`);
  const samples: { t: number; rss: number }[] = [];
  const t0 = Date.now();
  const timer = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, rss: s.sample().rssBytes }), 5000);
  const r = await runOpenLoop(s, () => w.requests(), { ...b.open, durationS: soakS });
  clearInterval(timer);
  b.rows.push([`software soak ${soakS} s @ ${rate}/s`, row({ ...r, rps: r.achievedRps }, s.sample().peakRssBytes)]);
  await b.stop(s);
  // RSS grows while the JIT, pools and buffers warm up; growth is measured from 10% in.
  const warm = samples.find((x) => x.t >= soakS * 0.1) ?? samples[0];
  const end = samples[samples.length - 1];
  if (warm === undefined || end === undefined) return { skipped: 'run too short to sample' };
  return {
    duration_s: soakS,
    rate,
    errors: r.errors,
    p99_ms: round3(r.p99Ms),
    rss_mb_after_warmup: round1(warm.rss / 1024 / 1024),
    rss_mb_end: round1(end.rss / 1024 / 1024),
    rss_mb_max: round1(Math.max(...samples.map((x) => x.rss)) / 1024 / 1024),
    rss_growth_pct: round1(((end.rss - warm.rss) / warm.rss) * 100),
    rss_samples_mb: samples.map((x) => round1(x.rss / 1024 / 1024)),
  };
}

/** What the phases measured besides the table rows. */
interface Measured {
  /** Every interleaved target's rounds, by target name. */
  rounds: Map<string, RoundResult[]>;
  fixed: FixedRate;
  scaling: Record<string, unknown> | null;
  soak: Record<string, unknown> | null;
}

/** The measured part of the JSON report: rates, ratios (overall and round by round), fixed-rate latencies, goals. */
function resultsJson(b: BenchContext, m: Measured): Record<string, unknown> {
  const { opts, rows } = b;
  const fixed = m.fixed.runs;
  const get = (name: string) => rows.find(([n]) => n === name)?.[1];
  const rps = (name: string) => {
    const r = get(name);
    return measured(r) ? r.rps : null;
  };
  const ratio = (a: number | null, c: number | null) => (a === null || c === null ? null : round2(a / c));
  const ratioOf = (name: keyof typeof RATIOS) => ratio(rps(RATIOS[name][0]), rps(RATIOS[name][1]));
  const baselineP99 = fixed.baseline ? round3(fixed.baseline.p99Ms) : null;
  const softwareP99 = fixed.software ? round3(fixed.software.p99Ms) : null;
  const json: Record<string, unknown> = {
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
    software_handler_at_rate: m.fixed.softwareHandler,
    // Each ratio round by round (the same moments of the machine for both sides).
    rounds: {
      count: opts.rounds,
      ...Object.fromEntries(Object.entries(RATIOS).map(([name, [num, den]]) => [name, ratioRounds(m.rounds.get(num), m.rounds.get(den))])),
    },
    scaling: m.scaling,
    soak: m.soak,
    targets: Object.fromEntries(rows),
  };
  json.goals = goals(json, fixed, opts.rate);
  json.retired_goals = retiredGoals(json);
  return json;
}

/** The whole JSON report: when, on what machine, with which settings, and what was measured. */
function benchReport(b: BenchContext, results: Record<string, unknown>, loadAtStart: number[]) {
  const { opts } = b;
  return {
    generated_at: new Date().toISOString(),
    mode: opts.mode,
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? 'unknown',
      memory_gb: Math.round(totalmem() / 1024 ** 3),
      node: process.version,
      kernel: release(),
      loadavg_start: loadAtStart.map(round2),
      loadavg_end: loadavg().map(round2),
    },
    settings: {
      closed_loop: {
        tool: 'autocannon 9',
        connections: opts.connections,
        duration_s: opts.closedS,
        warmup_s: opts.closedWarmupS,
        rounds: opts.rounds,
        later_round_warmup_s: b.roundPlan.laterWarmupS,
      },
      fixed_rate: {
        tool: 'undici Pool, hdr histogram (us)',
        rate: opts.rate,
        duration_s: opts.openS,
        warmup_s: opts.openWarmupS,
        connections: b.open.connections,
      },
      payload: { plaintext_bytes: opts.plaintextBytes, aad_bytes: opts.aadBytes, mix: 'alternating Encrypt (with CDIV) and Decrypt' },
      proxy_log_level: opts.logLevel,
      pkcs11_sessions: opts.sessions,
    },
    ...results,
  };
}

/** The table, the goals and the ceilings' lines on stdout. */
function printSummary(b: BenchContext, r: ReturnType<typeof benchReport>, loadAtStart: number[], outFile: string): void {
  const { opts } = b;
  const j: Record<string, unknown> = r;
  console.log(
    `\nxks-proxy benchmark (${opts.mode}; ${r.machine.cpus} x ${r.machine.cpu_model}; node ${process.version}; load ${loadAtStart.map((n) => n.toFixed(1)).join(' ')})\n`,
  );
  console.log(formatTable(b.rows));
  console.log('');
  for (const line of goalLines(j)) console.log(line);
  if (typeof j.work_ceiling_ratio === 'number') {
    console.log(
      `\nwork ceiling (bare Hono + SigV4 + JSON + AES-GCM, nothing else): ${String(j.work_ceiling_rps)} req/s = ${j.work_ceiling_ratio}${roundSpread(j, 'work_ceiling_ratio')} of baseline, ` +
        `the most software_rps_ratio can be for any proxy doing this work on this stack; software = ${typeof j.software_vs_work_ceiling === 'number' ? j.software_vs_work_ceiling : '-'}${roundSpread(j, 'software_vs_work_ceiling')} of it`,
    );
  }
  if (typeof j.pkcs11_work_ceiling_ratio === 'number') {
    console.log(
      `pkcs11 work ceiling (the same with the token): ${String(j.pkcs11_work_ceiling_rps)} req/s = ${j.pkcs11_work_ceiling_ratio}${roundSpread(j, 'pkcs11_work_ceiling_ratio')} of the pkcs11js loop, ` +
        `the most softhsm_ratio can be; softhsm = ${typeof j.softhsm_vs_work_ceiling === 'number' ? j.softhsm_vs_work_ceiling : '-'}${roundSpread(j, 'softhsm_vs_work_ceiling')} of it`,
    );
  }
  const handler = j.software_handler_at_rate as HandlerLatency | null | undefined;
  if (handler) {
    console.log(
      `\nsoftware @ ${opts.rate}/s as the proxy logged it (handler only, ${handler.requests} requests): p50 ${handler.p50_ms} ms, p99 ${handler.p99_ms} ms, p99.9 ${handler.p999_ms} ms, max ${handler.max_ms} ms`,
    );
  }
  console.log(`\nwrote ${outFile} in ${((Date.now() - b.started) / 1000).toFixed(0)} s`);
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

type Goal = { value: number | null; target: string; met: boolean | null };

/**
 * The targets of issue 22 (against the work ceilings), each with the measured value and
 * whether it was met (null: not measured). The ratios are the means over the interleaved
 * rounds; the console adds each round's spread.
 */
function goals(j: Record<string, unknown>, fixed: Record<string, OpenLoopResult>, rate: number): Record<string, Goal> {
  const num = (k: string) => (typeof j[k] === 'number' ? j[k] : null);
  const delta = fixed.baseline && fixed.software ? round3(fixed.software.p99Ms - fixed.baseline.p99Ms) : null;
  const errs = fixed.baseline && fixed.software ? fixed.baseline.errors + fixed.software.errors : null;
  const soak = j.soak as { rss_growth_pct?: number; errors?: number } | null;
  const check = (value: number | null, ok: (v: number) => boolean, target: string): Goal => ({ value, target, met: value === null ? null : ok(value) });
  return {
    software_vs_work_ceiling: check(num('software_vs_work_ceiling'), (v) => v >= 0.85, '>= 0.85 of the software work ceiling req/s'),
    softhsm_vs_work_ceiling: check(num('softhsm_vs_work_ceiling'), (v) => v >= 0.85, '>= 0.85 of the pkcs11 work ceiling req/s'),
    p99_delta_ms_at_rate: check(delta, (v) => v <= 2, `software p99 <= baseline p99 + 2 ms at ${rate} req/s`),
    errors_at_rate: check(errs, (v) => v === 0, `0 errors at ${rate} req/s`),
    soak_rss_growth_pct: check(soak?.rss_growth_pct ?? null, (v) => v < 5, '< 5% RSS growth over the soak run'),
    soak_errors: check(soak?.errors ?? null, (v) => v === 0, '0 errors in the soak run'),
  };
}

/**
 * The targets of issue 7, retired by issue 22 (against a bare echo server no XKS proxy
 * on this stack can reach them, docs/performance.md): reported for comparison, not judged.
 */
function retiredGoals(j: Record<string, unknown>): Record<string, { value: number | null; target: string }> {
  const num = (k: string) => (typeof j[k] === 'number' ? j[k] : null);
  const soak = j.soak as { rss_growth_pct?: number } | null;
  return {
    software_rps_ratio: { value: num('software_rps_ratio'), target: '>= 0.70 of baseline req/s' },
    softhsm_ratio: { value: num('softhsm_ratio'), target: '>= 0.70 of the direct pkcs11js loop' },
    soak_rss_growth_pct: { value: soak?.rss_growth_pct ?? null, target: '< 10% RSS growth over the soak run' },
  };
}

function goalLines(j: Record<string, unknown>): string[] {
  const g = j.goals as Record<string, Goal>;
  const retired = j.retired_goals as Record<string, { value: number | null; target: string }>;
  return [
    'issue 22 targets:',
    ...Object.entries(g).map(
      ([name, { value, target, met }]) =>
        `  ${met === null ? 'not measured' : met ? 'MET    ' : 'NOT MET'}  ${name} = ${value ?? '-'}${roundSpread(j, name)}  (${target})`,
    ),
    'issue 7 targets (retired, not judged):',
    ...Object.entries(retired).map(([name, { value, target }]) => `  retired  ${name} = ${value ?? '-'}${roundSpread(j, name)}  (was ${target})`),
  ];
}

/** " (rounds a-b)" for a ratio measured in interleaved rounds: how much the machine moved; '' otherwise. */
function roundSpread(json: Record<string, unknown>, ratio: string): string {
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

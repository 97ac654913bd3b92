/**
 * CPU per request, item by item (HTTP layer, SigV4, JSON and Base64, crypto, validation,
 * log line, metrics, seam, routing, ...), for the proxy as it ships (the esbuild bundle)
 * and optionally the software work ceiling, under the bench's closed loop.
 *
 * Method (docs/performance.md "Where the time goes"): each server runs twice per round as
 * a child process. The first run, without a profiler, gives CPU per request from /proc:
 * the whole process, and its main thread alone. The second run, with `--cpu-prof`, gives
 * the shares: every sample of the main thread in the measured window is attributed to an
 * item by its frames (mapping below; bundle frames are mapped back to src/ through the
 * bundle's source map), and the main thread's CPU per request is split by those shares.
 * What the other threads use (GC helpers, the JIT compiler, libuv) is its own row.
 * With `--compare DIR` the same is done for another checkout (its bundle is built there),
 * alternating the two trees within every round; the table gives medians over rounds.
 *
 * `--concurrent` runs the subjects at the same time instead (each with its own load and
 * connections): on a machine shared with other jobs the sides then see the same moments,
 * at the price of competing with each other for the cores.
 *
 * Run: npx tsx bench/cost-breakdown.ts [--rounds 3] [--seconds 8] [--warmup 3]
 *        [--connections 32] [--compare ../other-checkout] [--ceiling] [--concurrent]
 *        [--top 0] [--keep] [--alloc] [--promises]
 *
 * `--alloc` measures bytes allocated per request instead of CPU: V8's sampling heap
 * profiler (512-byte interval, objects later collected kept; bench/alloc-sampler.mjs) over
 * the measured window, every sampled byte attributed to the first frame of ours (src/, or
 * a package, or node's own module when nothing of ours is on the stack), self and inclusive.
 *
 * `--promises` counts the promises made per request instead (with the hook on, one per
 * await too; bench/promise-counter.mjs), with a sample of where they are made: an async
 * layer gained or lost shows there, where CPU time on a shared machine would not.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import autocannon from 'autocannon';
import { BENCH_TENANT, createSoftwareFixture, type ProxyFixture } from './fixtures/software-fixture.ts';
import { createSoftHsmBench, type SoftHsmBench } from './fixtures/softhsm-fixture.ts';
import { REPO_DIR, startServer, type ServerProcess, type ServerSpec } from './server-process.ts';
import { XksWorkload, type XksTarget } from './xks-workload.ts';

const USAGE = `npx tsx bench/cost-breakdown.ts [options]
  --rounds N        rounds, each server measured once per round (default 3)
  --seconds N       measured seconds per run (default 8); --warmup N seconds before it (default 3)
  --connections N   closed-loop connections (default 32)
  --ceiling         also measure the work ceiling (the software one, or the pkcs11 one with --softhsm)
  --softhsm         the proxy on a SoftHSM2 token (PKCS#11 provider) instead of the software keystore
  --compare DIR     also measure another checkout (its bundle is built there), alternating
  --concurrent      run the compared servers at the same time instead of one after another
  --alloc           bytes allocated per request instead of CPU
  --promises        promises (and awaits) made per request instead of CPU, with where they are made
  --top N           also list the N heaviest functions
  --node-args=".."  extra Node/V8 options for every measured server, e.g. --node-args="--single-threaded-gc"
  --keep            keep the temp dir (profiles, server logs)
See docs/performance.md ("CPU per request, item by item").
`;

const OPTIONS = {
  rounds: { type: 'string', default: '3' },
  seconds: { type: 'string', default: '8' },
  warmup: { type: 'string', default: '3' },
  connections: { type: 'string', default: '32' },
  compare: { type: 'string' },
  ceiling: { type: 'boolean', default: false },
  softhsm: { type: 'boolean', default: false },
  concurrent: { type: 'boolean', default: false },
  top: { type: 'string', default: '0' },
  keep: { type: 'boolean', default: false },
  alloc: { type: 'boolean', default: false },
  promises: { type: 'boolean', default: false },
  'node-args': { type: 'string', default: '' },
  help: { type: 'boolean', default: false },
} as const;
const args = (() => {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (e) {
    // A mistyped option is the user's error: say what is wrong, no stack trace.
    process.stderr.write(`cost-breakdown: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
})();
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const rounds = Number(args.rounds);
const measureS = Number(args.seconds);
const warmupS = Number(args.warmup);
const connections = Number(args.connections);
const topN = Number(args.top);
/** Runtime options given to the proxy and the ceiling alike, so an A/B of a flag stays fair. */
const extraNodeArgs = args['node-args'].split(' ').filter((a) => a !== '');

/** The items, in the order the table prints them. */
const ITEMS = [
  'HTTP layer',
  'routing',
  'SigV4',
  'JSON + Base64',
  'validation',
  'crypto',
  'seam',
  'log line',
  'metrics + observers',
  'app glue',
  'GC',
  'other (runtime, JIT, microtasks)',
] as const;
type Item = (typeof ITEMS)[number];
const OTHER_THREADS = 'other threads (GC helpers, compiler, libuv)';

/** Source files (repo-relative) by item; the first matching rule wins. */
const FILE_RULES: Array<[RegExp, Item]> = [
  // The request record writes its own log line members (RequestRecord.jsonMembers).
  [/^src\/observability\/|^src\/xks\/request-event\.ts$/, 'log line'],
  [/^src\/ops\/metrics\/|^src\/ops\/audit\/|^src\/server\/status-tracker\.ts$/, 'metrics + observers'],
  [/^src\/auth\/|^src\/server\/sigv4-headers\.ts$/, 'SigV4'],
  [/^src\/server\/xks-path\.ts$|^src\/xks\/tenants\.ts$|^src\/ops\/reconcile-tenants\.ts$/, 'routing'],
  [/^src\/xks\/(requests|request-body)\.ts$/, 'validation'],
  [/^src\/providers\/software\/software-aes-gcm\.ts$|^src\/providers\/random-iv\.ts$|^src\/xks\/(cdiv|gcm-aad)\.ts$/, 'crypto'],
  [/^src\/xks\/|^src\/providers\//, 'seam'],
  [/^src\/ops\/(in-flight|rate-limit)\.ts$|^src\/ops\/policy\//, 'app glue'],
  [/^src\/server\/(read-body|listener|node-request)\.ts$/, 'HTTP layer'],
  [/^src\/server\//, 'app glue'],
  // The work ceiling's own handler (its encrypt/decrypt are listed by function below).
  [/^bench\/servers\/work-ceiling-server\.ts$/, 'app glue'],
];

/** Functions whose file says less than their name (file:function). */
const FUNCTION_RULES: Array<[RegExp, Item]> = [
  [/^src\/xks\/request-body\.ts:parseJsonObject$/, 'JSON + Base64'],
  [/^src\/server\/app\.ts:(requestHeaders|trimHttpWhitespace|isHttpWhitespace|authenticate)$/, 'SigV4'],
  [/^src\/server\/app\.ts:(rawRequestPath|rawQuery)$/, 'routing'],
  [/^src\/server\/app\.ts:(readRequestBody)$/, 'HTTP layer'],
  [/^src\/xks\/local-key-store\.ts:toBase64$/, 'JSON + Base64'],
  [/^bench\/servers\/work-ceiling-server\.ts:(encrypt|decrypt|softwareCipher|pkcs11Cipher)$/, 'crypto'],
  [/^bench\/servers\/work-ceiling-server\.ts:b64$/, 'JSON + Base64'],
];

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame comes from: a repo source file (with function), a package, node's own code, or V8. */
type Origin =
  | { kind: 'source'; file: string; fn: string }
  | { kind: 'package'; name: string; file: string; fn: string }
  | { kind: 'node'; module: string; fn: string }
  | { kind: 'native'; fn: string };

/** Maps a frame to its origin; bundle frames go through the bundle's source map. */
class FrameResolver {
  readonly #maps = new Map<string, SourceMap | null>();
  constructor(readonly root: string) {}

  origin(frame: CallFrame): Origin {
    const { url, functionName: fn } = frame;
    if (url === '') return { kind: 'native', fn };
    if (url.startsWith('node:')) return { kind: 'node', module: url.slice(5), fn };
    if (!url.startsWith('file://')) return { kind: 'native', fn };
    const path = fileURLToPath(url);
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
    if (pkg !== null) return { kind: 'package', name: pkg[1]!, file: pkg[2]!, fn };
    if (path.endsWith('.mjs') && path.includes('/dist/xks-proxy')) {
      const map = this.#map(path);
      const entry: { originalSource?: string } | undefined = map?.findEntry(frame.lineNumber, frame.columnNumber);
      if (entry?.originalSource !== undefined) {
        const original = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(path, '..', entry.originalSource);
        const inPkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(original);
        if (inPkg !== null) return { kind: 'package', name: inPkg[1]!, file: inPkg[2]!, fn };
        return { kind: 'source', file: relative(this.root, original), fn };
      }
    }
    return { kind: 'source', file: relative(this.root, path), fn };
  }

  #map(path: string): SourceMap | null {
    let map = this.#maps.get(path);
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        map = null;
      }
      this.#maps.set(path, map);
    }
    return map;
  }
}

/**
 * The item of one frame, or 'caller' when the frame is attributed to whoever called it:
 * node's own modules and V8 builtins do work for their caller (node:crypto for SigV4 or for
 * AES-GCM, a Buffer for Base64 or for the log line); only when no caller of ours is on the
 * stack do they count as the HTTP layer (the parser, sockets, streams) or the runtime.
 */
function itemOf(o: Origin): Item | 'caller' | 'idle' {
  switch (o.kind) {
    case 'native':
      if (o.fn === '(idle)') return 'idle';
      if (o.fn === '(garbage collector)') return 'GC';
      if (o.fn === '(program)') return 'other (runtime, JIT, microtasks)';
      return 'caller';
    case 'node':
      return 'caller';
    case 'package':
      if (o.name === 'pino' || o.name === 'sonic-boom' || o.name === 'pino-std-serializers' || o.name === 'fast-redact') return 'log line';
      if (o.name === 'hono') {
        if (/^dist\/(router|compose|hono-base)/.test(o.file) || /\/router\//.test(o.file)) return 'routing';
        if (/context\.js$/.test(o.file) && /^(json|#newResponse|newResponse)$/.test(o.fn)) return 'JSON + Base64';
        return 'HTTP layer';
      }
      if (o.name === '@hono/node-server') return 'HTTP layer';
      return 'other (runtime, JIT, microtasks)';
    case 'source': {
      const key = `${o.file}:${o.fn}`;
      for (const [re, item] of FUNCTION_RULES) if (re.test(key)) return item;
      for (const [re, item] of FILE_RULES) if (re.test(o.file)) return item;
      return 'app glue';
    }
  }
}

/** Node modules that are the HTTP layer when nothing of ours called them. */
function unclaimedNodeItem(o: Origin): Item {
  if (o.kind === 'node' && /^(internal\/process\/task_queues|internal\/timers|timers|internal\/async_hooks|internal\/process\/)/.test(o.module)) {
    return 'other (runtime, JIT, microtasks)';
  }
  if (o.kind === 'node') return 'HTTP layer';
  return 'other (runtime, JIT, microtasks)';
}

/** Special builtins by name when they are the leaf: JSON and Base64 work wherever it is called from, except the log line's own. */
function leafOverride(o: Origin, claimedBy: Item | undefined): Item | undefined {
  const jsonish = (o.kind === 'native' && /^(parse|stringify|JSONParse|JSONStringify)$/.test(o.fn)) || (o.kind === 'node' && /base64/i.test(o.fn));
  if (!jsonish) return undefined;
  return claimedBy === 'log line' ? 'log line' : 'JSON + Base64';
}

interface Attribution {
  /** Share of busy main-thread samples per item (0-1). */
  shares: Map<Item, number>;
  /** Self samples per item and function, for --top. */
  functions: Map<Item, Map<string, number>>;
  busySamples: number;
}

function attribute(profile: CpuProfile, resolver: FrameResolver, windowUs: [number, number]): Attribution {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const origins = new Map<number, Origin>();
  const originOf = (id: number) => {
    let o = origins.get(id);
    if (o === undefined) {
      o = resolver.origin(byId.get(id)!.callFrame);
      origins.set(id, o);
    }
    return o;
  };
  const memo = new Map<number, Item | 'idle'>();
  const classify = (leaf: number): Item | 'idle' => {
    const cached = memo.get(leaf);
    if (cached !== undefined) return cached;
    let claimed: Item | undefined;
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const item = itemOf(originOf(id));
      if (item === 'idle') {
        memo.set(leaf, 'idle');
        return 'idle';
      }
      if (item !== 'caller') {
        claimed = item;
        break;
      }
    }
    const leafOrigin = originOf(leaf);
    const result = leafOverride(leafOrigin, claimed) ?? claimed ?? unclaimedFrom(leaf);
    memo.set(leaf, result);
    return result;
  };
  // No frame of ours or of a package on the stack: the outermost node module decides.
  const unclaimedFrom = (leaf: number): Item => {
    let outer: Origin = originOf(leaf);
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const o = originOf(id);
      if (o.kind === 'node') outer = o;
    }
    return unclaimedNodeItem(outer);
  };

  const counts = new Map<Item, number>();
  const functions = new Map<Item, Map<string, number>>();
  let t = profile.startTime;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t - profile.startTime < windowUs[0] || t - profile.startTime > windowUs[1]) continue;
    const id = profile.samples[i]!;
    const item = classify(id);
    if (item === 'idle') continue;
    busy++;
    counts.set(item, (counts.get(item) ?? 0) + 1);
    if (topN > 0) {
      const o = originOf(id);
      const name =
        o.kind === 'source'
          ? `${o.file}:${o.fn || '(anonymous)'}`
          : o.kind === 'package'
            ? `${o.name}/${o.file}:${o.fn}`
            : o.kind === 'node'
              ? `node:${o.module}:${o.fn}`
              : o.fn;
      const fns = functions.get(item) ?? new Map<string, number>();
      fns.set(name, (fns.get(name) ?? 0) + 1);
      functions.set(item, fns);
    }
  }
  const shares = new Map<Item, number>();
  for (const item of ITEMS) shares.set(item, busy === 0 ? 0 : (counts.get(item) ?? 0) / busy);
  return { shares, functions, busySamples: busy };
}

/** CPU seconds of a process's main thread (its thread id is its pid). */
function mainThreadCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Measured {
  rps: number;
  requests: number;
  cpuUsPerReq: number;
  mainUsPerReq: number;
  errors: number;
}

/** Warm-up, then a measured closed loop; CPU from /proc around the measured part only. */
async function load(server: ServerProcess, workload: XksWorkload, onMeasureStart?: () => void): Promise<Measured> {
  await autocannon({ url: server.url, connections, duration: warmupS, requests: workload.requests() });
  onMeasureStart?.();
  const before = server.sample().cpuSeconds;
  const mainBefore = mainThreadCpuSeconds(server.pid);
  const r = await autocannon({ url: server.url, connections, duration: measureS, requests: workload.requests() });
  const cpu = server.sample().cpuSeconds - before;
  const main = mainThreadCpuSeconds(server.pid) - mainBefore;
  const requests = r['2xx'];
  return {
    rps: requests / r.duration,
    requests,
    cpuUsPerReq: (cpu * 1e6) / requests,
    mainUsPerReq: (main * 1e6) / requests,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}

/** A server to measure: the proxy bundle of a checkout, or the work ceiling. */
interface Subject {
  label: string;
  root: string;
  spec(profileDir?: string, probe?: Probe): ServerSpec;
  target(url: string): XksTarget;
}

const run = promisify(execFile);
/** PKCS#11 sessions of the proxy's pool and of the pkcs11 ceiling with --softhsm: the bench's default (bench/bench-options.ts). */
const SOFTHSM_SESSIONS = 8;
/** What to undo at the end besides the temp dir (the SoftHSM2 token). */
const cleanups: Array<() => Promise<void>> = [];
const dir = await mkdtemp(join(tmpdir(), 'xks-cost-'));
const log = (line: string) => process.stderr.write(`[cost ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const profileArgs = (d: string | undefined) => (d === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', d, '--cpu-prof-interval', '500']);

/**
 * A preload that measures over the window the bench marks with two SIGUSR2 and writes what
 * it found to `file`: the allocation sampler (`--alloc`) or the promise counter (`--promises`).
 */
interface Probe {
  kind: 'alloc' | 'promises';
  file: string;
}
const PROBES = {
  alloc: { script: 'bench/alloc-sampler.mjs', fileVar: 'XKS_ALLOC_PROFILE' },
  promises: { script: 'bench/promise-counter.mjs', fileVar: 'XKS_PROMISE_COUNT' },
} as const;
const probeArgs = (p: Probe | undefined) => (p === undefined ? [] : ['--import', pathToFileURL(join(REPO_DIR, PROBES[p.kind].script)).href]);
const probeEnv = (p: Probe | undefined) => (p === undefined ? {} : { [PROBES[p.kind].fileVar]: p.file });
const specSuffix = (profileDir: string | undefined, p: Probe | undefined) => `${profileDir === undefined ? '' : '-prof'}${p === undefined ? '' : `-${p.kind}`}`;

function proxySubject(label: string, root: string, fixture: ProxyFixture, env: NodeJS.ProcessEnv): Subject {
  return {
    label,
    root,
    spec: (profileDir, probe) => ({
      name: `${label.replace(/\W+/g, '-')}${specSuffix(profileDir, probe)}`,
      script: join(root, 'dist/xks-proxy.mjs'),
      nodeArgs: ['--enable-source-maps', ...extraNodeArgs, ...profileArgs(profileDir), ...probeArgs(probe)],
      args: ['serve', '--config', fixture.configPath, '--workers', '1'],
      env: { ...env, ...probeEnv(probe) },
      logDir: dir,
      readyMsg: 'xks-proxy listening',
    }),
    target: fixture.target,
  };
}

/** The work ceiling: the software cipher, or (`softhsm` given) pkcs11js on the bench token with the proxy's pool size. */
function ceilingSubject(softhsm: SoftHsmBench | undefined): Subject {
  const cipherArgs = softhsm === undefined ? ['software'] : ['pkcs11', String(softhsm.sessions)];
  return {
    label: softhsm === undefined ? 'work-ceiling' : 'pkcs11-work-ceiling',
    root: REPO_DIR,
    spec: (profileDir, probe) => ({
      name: `work-ceiling${specSuffix(profileDir, probe)}`,
      script: 'bench/servers/work-ceiling-server.ts',
      nodeArgs: ['--import', 'tsx', ...extraNodeArgs, ...profileArgs(profileDir), ...probeArgs(probe)],
      args: ['0', BENCH_TENANT.region, BENCH_TENANT.accessKeyId, ...cipherArgs],
      env: { XKS_BENCH_SIGV4_SECRET: BENCH_TENANT.secret, ...softhsm?.ceilingEnv, ...probeEnv(probe) },
      logDir: dir,
      readyMsg: 'bench server listening',
    }),
    target: (url) => ({ url, ...BENCH_TENANT, keyId: softhsm === undefined ? 'foo' : (softhsm.ceilingEnv.PKCS11_KEY_LABEL as string) }),
  };
}

interface RoundOut {
  measured: Measured;
  attribution: Attribution;
}

async function measureOnce(subject: Subject, round: number): Promise<RoundOut> {
  // 1. CPU per request, no profiler.
  const plain = await startServer(subject.spec());
  let measured: Measured;
  try {
    const w = new XksWorkload(subject.target(plain.url));
    await w.prepare();
    measured = await load(plain, w);
  } finally {
    await plain.stop();
  }
  // 2. The shares, with the profiler, samples from the measured window only.
  const profileDir = join(dir, `prof-${subject.label.replace(/\W+/g, '-')}-${round}`);
  await mkdir(profileDir, { recursive: true });
  const spawnedAt = performance.now();
  const profiled = await startServer(subject.spec(profileDir));
  let window: [number, number];
  try {
    const w = new XksWorkload(subject.target(profiled.url));
    await w.prepare();
    let startedAt = 0;
    await load(profiled, w, () => (startedAt = performance.now()));
    window = [(startedAt - spawnedAt) * 1000, (performance.now() - spawnedAt) * 1000];
  } finally {
    await profiled.stop();
  }
  const file = (await readdir(profileDir)).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`${subject.label}: no CPU profile written (did the server exit cleanly?)`);
  const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as CpuProfile;
  return { measured, attribution: attribute(profile, new FrameResolver(subject.root), window) };
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

interface AllocOut {
  requests: number;
  total: number;
  self: Map<string, number>;
  inclusive: Map<string, number>;
}

function frameLabel(o: Origin): string | undefined {
  if (o.kind === 'source') return `${o.file}:${o.fn || '(anonymous)'}`;
  if (o.kind === 'package') return `${o.name}/${o.file}:${o.fn || '(anonymous)'}`;
  if (o.kind === 'node') return `node:${o.module}:${o.fn || '(anonymous)'}`;
  return undefined;
}

/** Allocated bytes by the first JS frame from the leaf upwards (self) and by every frame on the stack (inclusive). */
function attributeAlloc(head: HeapNode, resolver: FrameResolver): Omit<AllocOut, 'requests'> {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, stack: string[]) => {
    const label = frameLabel(resolver.origin(node.callFrame));
    const here = label === undefined ? stack : [...stack, label];
    if (node.selfSize > 0) {
      total += node.selfSize;
      const leaf = here.at(-1) ?? `(V8) ${node.callFrame.functionName}`;
      self.set(leaf, (self.get(leaf) ?? 0) + node.selfSize);
      for (const f of new Set(here)) inclusive.set(f, (inclusive.get(f) ?? 0) + node.selfSize);
    }
    for (const c of node.children) walk(c, here);
  };
  walk(head, []);
  return { total, self, inclusive };
}

/**
 * One closed loop with a probe on during the measured part: the requests answered, and
 * what the probe wrote (JSON) once the server had written it.
 */
async function measureWithProbe(subject: Subject, probe: Probe): Promise<{ requests: number; written: unknown }> {
  const server = await startServer(subject.spec(undefined, probe));
  let requests: number;
  let written: unknown;
  try {
    const w = new XksWorkload(subject.target(server.url));
    await w.prepare();
    const m = await load(server, w, () => process.kill(server.pid, 'SIGUSR2'));
    process.kill(server.pid, 'SIGUSR2');
    requests = m.requests;
    for (let i = 0; i < 200 && written === undefined; i++) {
      try {
        written = JSON.parse(readFileSync(probe.file, 'utf8'));
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await server.stop();
  }
  if (written === undefined) throw new Error(`${subject.label}: the ${probe.kind} probe wrote nothing to ${probe.file}`);
  return { requests, written };
}

const probeFile = (subject: Subject, kind: Probe['kind'], round: number) => join(dir, `${kind}-${subject.label.replace(/\W+/g, '-')}-${round}.json`);

/** One closed loop with the allocation sampler on during the measured part. */
async function measureAlloc(subject: Subject, round: number): Promise<AllocOut> {
  const { requests, written } = await measureWithProbe(subject, { kind: 'alloc', file: probeFile(subject, 'alloc', round) });
  const profile = written as { head?: HeapNode; error?: string };
  if (profile.head === undefined) throw new Error(`${subject.label}: no heap profile (${profile.error ?? 'empty'})`);
  return { requests, ...attributeAlloc(profile.head, new FrameResolver(subject.root)) };
}

/** Promises made per request over one closed loop, and per request by sampled call site. */
interface PromiseOut {
  perRequest: number;
  sites: Map<string, number>;
}

async function measurePromises(subject: Subject, round: number): Promise<PromiseOut> {
  const { requests, written } = await measureWithProbe(subject, { kind: 'promises', file: probeFile(subject, 'promises', round) });
  const counted = written as { promises: number; sampleEvery: number; sites: Array<[string, number]> };
  return {
    perRequest: counted.promises / requests,
    sites: new Map(counted.sites.map(([site, n]) => [site, (n * counted.sampleEvery) / requests])),
  };
}

function printPromises(subject: Subject, outs: PromiseOut[], top: number): void {
  console.log(`\n${subject.label}: ${median(outs.map((o) => o.perRequest)).toFixed(2)} promises (and awaits) per request (median of ${outs.length} rounds)`);
  const sites = new Set(outs.flatMap((o) => [...o.sites.keys()]));
  const rows = [...sites].map((site) => [site, median(outs.map((o) => o.sites.get(site) ?? 0))] as const).sort((a, b) => b[1] - a[1]);
  console.log('  where they are made (sampled; per request):');
  for (const [site, n] of rows.slice(0, top)) console.log(`    ${n.toFixed(2).padStart(6)}  ${site}`);
}

function printAlloc(subject: Subject, outs: AllocOut[], top: number): void {
  const perReq = (pick: (o: AllocOut) => number) => median(outs.map((o) => pick(o) / o.requests));
  console.log(`\n${subject.label}: ${(perReq((o) => o.total) / 1024).toFixed(1)} KB allocated per request (median of ${outs.length} rounds)`);
  for (const kind of ['self', 'inclusive'] as const) {
    const names = new Set(outs.flatMap((o) => [...o[kind].keys()]));
    const rows = [...names].map((n) => [n, perReq((o) => o[kind].get(n) ?? 0)] as const).sort((a, b) => b[1] - a[1]);
    const shown = kind === 'inclusive' ? rows.filter(([n]) => n.startsWith('src/') || n.startsWith('bench/')) : rows;
    console.log(`  ${kind} (bytes per request):`);
    for (const [n, b] of shown.slice(0, top)) console.log(`    ${b.toFixed(0).padStart(7)}  ${n}`);
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Per item: median over rounds of (share x main-thread us/req); plus the other threads. */
function summarise(outs: RoundOut[]): { rows: Map<string, number>; total: number; main: number; rps: number; errors: number } {
  const rows = new Map<string, number>();
  for (const item of ITEMS) rows.set(item, median(outs.map((o) => (o.attribution.shares.get(item) ?? 0) * o.measured.mainUsPerReq)));
  rows.set(OTHER_THREADS, median(outs.map((o) => o.measured.cpuUsPerReq - o.measured.mainUsPerReq)));
  return {
    rows,
    total: median(outs.map((o) => o.measured.cpuUsPerReq)),
    main: median(outs.map((o) => o.measured.mainUsPerReq)),
    rps: median(outs.map((o) => o.measured.rps)),
    errors: outs.reduce((n, o) => n + o.measured.errors, 0),
  };
}

/**
 * Every subject measured once per round, one after the other, the order alternating between
 * rounds (so a drift in the machine's load favours no side); each subject's results in round order.
 */
async function inRounds<T>(
  subjects: Subject[],
  what: string,
  measure: (s: Subject, round: number) => Promise<T>,
  describe: (out: T) => string,
): Promise<Map<Subject, T[]>> {
  const results = new Map<Subject, T[]>(subjects.map((s) => [s, []]));
  for (let round = 0; round < rounds; round++) {
    for (const s of round % 2 === 0 ? subjects : [...subjects].reverse()) {
      log(`round ${round + 1}/${rounds}: ${s.label} (${what})`);
      const out = await measure(s, round);
      log(`  ${s.label}: ${describe(out)}`);
      results.get(s)!.push(out);
    }
  }
  return results;
}

try {
  const fixtureDir = join(dir, args.softhsm ? 'softhsm' : 'software');
  await mkdir(fixtureDir, { recursive: true });
  let softhsm: SoftHsmBench | undefined;
  if (args.softhsm) {
    // The bench's own pool size (bench/run.ts), so the proxy and the ceiling use as many sessions.
    const made = await createSoftHsmBench(fixtureDir, 'info', SOFTHSM_SESSIONS);
    if (typeof made === 'string') throw new Error(made);
    softhsm = made;
    cleanups.push(() => made.cleanup());
  }
  const fixture: ProxyFixture = softhsm ?? (await createSoftwareFixture(fixtureDir, 'info'));
  const proxyEnv = softhsm?.proxyEnv ?? {};
  const subjects: Subject[] = [];
  if (args.compare !== undefined) {
    const other = resolve(args.compare);
    log(`building ${other}`);
    await run('npm', ['run', 'build'], { cwd: other });
    subjects.push(proxySubject(`proxy ${relative(resolve(REPO_DIR, '..'), other) || other}`, other, fixture, proxyEnv));
  }
  log(`building ${REPO_DIR}`);
  await run('npm', ['run', 'build'], { cwd: REPO_DIR });
  subjects.push(proxySubject(`proxy ${relative(resolve(REPO_DIR, '..'), REPO_DIR)}`, REPO_DIR, fixture, proxyEnv));
  if (args.ceiling) subjects.push(ceilingSubject(softhsm));

  if (args.alloc) {
    const allocs = await inRounds(
      subjects,
      'allocation',
      measureAlloc,
      (out) => `${(out.total / out.requests / 1024).toFixed(1)} KB per request over ${out.requests} requests`,
    );
    for (const s of subjects) printAlloc(s, allocs.get(s)!, topN > 0 ? topN : 25);
  }
  if (args.promises) {
    const counts = await inRounds(subjects, 'promises', measurePromises, (out) => `${out.perRequest.toFixed(2)} promises per request`);
    for (const s of subjects) printPromises(s, counts.get(s)!, topN > 0 ? topN : 20);
  }
  const results = new Map<Subject, RoundOut[]>(subjects.map((s) => [s, []]));
  if (!args.alloc && !args.promises) {
    for (let round = 0; round < rounds; round++) {
      // Alternate the order every round, so a drift in the machine's load favours no side.
      const order = round % 2 === 0 ? subjects : [...subjects].reverse();
      const report = (s: Subject, out: RoundOut) => {
        log(
          `  ${s.label}: ${Math.round(out.measured.rps)} req/s, ${out.measured.cpuUsPerReq.toFixed(1)} us CPU/req (main thread ${out.measured.mainUsPerReq.toFixed(1)}), ${out.attribution.busySamples} samples`,
        );
        results.get(s)!.push(out);
      };
      if (args.concurrent) {
        // Every subject at the same time, each with its own load: on a machine shared with
        // other jobs, both sides of a comparison then see the same moments.
        log(`round ${round + 1}/${rounds}: ${subjects.map((s) => s.label).join(', ')} at once`);
        const outs = await Promise.all(order.map((s) => measureOnce(s, round)));
        order.forEach((s, i) => report(s, outs[i]!));
      } else {
        for (const s of order) {
          log(`round ${round + 1}/${rounds}: ${s.label}`);
          report(s, await measureOnce(s, round));
        }
      }
    }

    const summaries = subjects.map((s) => ({ subject: s, ...summarise(results.get(s)!) }));
    const header = ['us CPU per request', ...summaries.map((s) => s.subject.label)];
    const body: string[][] = [];
    for (const item of [...ITEMS, OTHER_THREADS]) body.push([item, ...summaries.map((s) => s.rows.get(item)!.toFixed(1))]);
    body.push(['total (process, /proc)', ...summaries.map((s) => s.total.toFixed(1))]);
    body.push(['req/s (closed loop, unprofiled)', ...summaries.map((s) => String(Math.round(s.rps)))]);
    body.push(['errors', ...summaries.map((s) => String(s.errors))]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
    console.log(`\nCPU per request by item, medians of ${rounds} rounds (${measureS} s each, ${connections} connections, alternating order)\n`);
    console.log(line(header));
    console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
    for (const r of body) console.log(line(r));
    if (topN > 0) {
      for (const s of summaries) {
        const last = results.get(s.subject)!.at(-1)!.attribution;
        console.log(`\n${s.subject.label}: top functions by self samples (last round)`);
        for (const item of ITEMS) {
          const fns = [...(last.functions.get(item) ?? new Map<string, number>()).entries()].sort((a, b) => b[1] - a[1]).slice(0, topN);
          if (fns.length === 0) continue;
          console.log(`  ${item}: ${fns.map(([f, n]) => `${f} ${((n / last.busySamples) * 100).toFixed(1)}%`).join(', ')}`);
        }
      }
    }
  }
} finally {
  for (const cleanup of cleanups) await cleanup();
  if (args.keep) log(`kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}

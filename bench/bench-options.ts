/** Command-line options of `npm run bench`, with the durations each mode uses. */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

/** Everything a benchmark run is configured with. */
export interface BenchOptions {
  mode: 'quick' | 'full';
  /** Targets to run; all by default. */
  only: Set<string> | undefined;
  closedS: number;
  closedWarmupS: number;
  /** Interleaved rounds the closed-loop targets of a ratio are split into. */
  rounds: number;
  openS: number;
  openWarmupS: number;
  ceilingS: number;
  connections: number;
  rate: number;
  /** Workers for the scaling run (default: one per core). */
  workers: number;
  plaintextBytes: number;
  aadBytes: number;
  /** logging.level of the proxy under test. */
  logLevel: string;
  /** PKCS#11 sessions in the provider's pool and loops in the ceiling. */
  sessions: number;
  /** Seconds of the steady RSS run; 0 = no soak. */
  soakS: number;
  out: string;
  /** Keep the temp dir (server logs, configs) and print where it is. */
  keep: boolean;
}

/** Every target name, in the order they run. */
export const TARGETS = [
  'client-check',
  'baseline',
  'work-ceiling',
  'software',
  'software-pg',
  'softhsm',
  'crypto-ceiling',
  'pkcs11-ceiling',
  'pkcs11-work-ceiling',
  'fixed-rate',
  'scaling',
] as const;

const HELP = `npm run bench [-- options]
  --quick             short runs (about 1.5 minutes in all)
  --soak              add a 5-minute steady run at the fixed rate and report RSS growth
  --soak-seconds N    length of the soak run instead of 300
  --only a,b          run only these: ${TARGETS.join(', ')}
  --connections N     closed-loop connections (default 32)
  --rounds N          interleaved closed-loop rounds (default 4; 2 with --quick)
  --rate N            fixed rate in requests/s (default 1800)
  --workers N         workers for the scaling run (default: one per core)
  --plaintext-bytes N plaintext size (default 256); --aad-bytes N AAD size (default 64)
  --log-level L       the proxy's logging.level (default info, as in production)
  --sessions N        PKCS#11 sessions (default 8, the provider's default)
  --out FILE          JSON output (default bench/results/latest.json)
  --keep              keep the temp dir with every server's log and print its path`;

/** Parses process.argv; prints help and exits on --help. */
export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      'soak-seconds': { type: 'string' },
      only: { type: 'string' },
      connections: { type: 'string', default: '32' },
      rounds: { type: 'string' },
      rate: { type: 'string', default: '1800' },
      workers: { type: 'string', default: String(availableParallelism()) },
      'plaintext-bytes': { type: 'string', default: '256' },
      'aad-bytes': { type: 'string', default: '64' },
      'log-level': { type: 'string', default: 'info' },
      sessions: { type: 'string', default: '8' },
      out: { type: 'string', default: 'bench/results/latest.json' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const quick = values.quick === true;
  const only = values.only === undefined ? undefined : new Set(values.only.split(',').map((s) => s.trim()));
  for (const name of only ?? []) {
    if (!(TARGETS as readonly string[]).includes(name)) throw new Error(`unknown target "${name}"; known: ${TARGETS.join(', ')}`);
  }
  const soakS = values['soak-seconds'] !== undefined ? positive(values['soak-seconds'], 'soak-seconds') : values.soak ? 300 : 0;
  return {
    mode: quick ? 'quick' : 'full',
    only,
    closedS: quick ? 6 : 20,
    closedWarmupS: quick ? 1 : 3,
    rounds: values.rounds === undefined ? (quick ? 2 : 4) : positive(values.rounds, 'rounds'),
    openS: quick ? 10 : 30,
    // Quick mode warms up as long as the full one: a proxy started for `--only fixed-rate`
    // is cold, and a shorter warm-up measures it still compiling its hot paths
    // (docs/performance.md, "A cold proxy in quick runs").
    openWarmupS: 3,
    ceilingS: quick ? 3 : 8,
    connections: positive(values.connections, 'connections'),
    rate: positive(values.rate, 'rate'),
    workers: positive(values.workers, 'workers'),
    plaintextBytes: positive(values['plaintext-bytes'], 'plaintext-bytes'),
    aadBytes: positive(values['aad-bytes'], 'aad-bytes'),
    logLevel: values['log-level'],
    sessions: positive(values.sessions, 'sessions'),
    soakS,
    out: values.out,
    keep: values.keep === true,
  };
}

function positive(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

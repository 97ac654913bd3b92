/**
 * The crypto work behind the proxy's load, so a ceiling counts in the same unit as the
 * proxy targets: the load alternates an Encrypt with a CDIV (one GCM encrypt plus the
 * verification decrypt, spec Appendix C) and a Decrypt (one GCM decrypt). A ceiling's
 * "requests/s" is that mix, done directly, with no HTTP, JSON or SigV4.
 */
import * as hdr from 'hdr-histogram-js';

/** GCM AAD length the proxy builds: uint16 length, the AAD, uint8 length, 7 bytes of metadata. */
export function gcmAadBytes(aadBytes: number): number {
  return 2 + aadBytes + 1 + 7;
}

/** One line a ceiling process prints as its result. */
export interface CeilingResult {
  msg: 'ceiling result';
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  peakRssBytes: number;
  /** Concurrent loops (sessions) used. */
  concurrency: number;
  /** CPU use of the ceiling process in cores (all threads, e.g. the libuv pool running PKCS#11 calls). */
  serverCpuCores: number;
}

/**
 * Runs `loops` concurrent loops of `request(i, loop)` for `durationS` and summarises them;
 * request(i, loop) does the work of loop number `loop`'s i-th request of the mix (even:
 * encrypt, odd: decrypt).
 */
export async function measureMix(
  loops: number,
  durationS: number,
  request: (i: number, loop: number) => Promise<void> | void,
): Promise<Omit<CeilingResult, 'msg' | 'peakRssBytes'>> {
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const end = performance.now() + durationS * 1000;
  let done = 0;
  let errors = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      let i = 0;
      while (performance.now() < end) {
        const t = process.hrtime.bigint();
        try {
          await request(i++, loop);
          latency.recordValue(Math.max(1, Number(process.hrtime.bigint() - t) / 1000));
          done++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const wallS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    rps: done / wallS,
    p50Ms: ms(latency.getValueAtPercentile(50)),
    p99Ms: ms(latency.getValueAtPercentile(99)),
    maxMs: ms(latency.maxValue),
    errors,
    concurrency: loops,
    serverCpuCores: (cpu.user + cpu.system) / 1e6 / wallS,
  };
}

/** Prints the result line the benchmark runner reads. */
export function printCeiling(result: Omit<CeilingResult, 'msg' | 'peakRssBytes'>): void {
  const line: CeilingResult = { msg: 'ceiling result', ...result, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

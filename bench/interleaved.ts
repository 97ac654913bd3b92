/**
 * Closed-loop runs of several targets in interleaved rounds, so that the two sides of a
 * ratio see the same moments of a shared machine. Measured one after the other, a target
 * and its ceiling are 20 s or more apart, and a shared machine's load moves on that scale
 * (how much: docs/performance.md, "Interleaved rounds"). Rounds alternate their order
 * (A B C, C B A, ...), so a steady drift in load favours no target.
 */

/** One round's numbers, from autocannon or from a ceiling process. */
export interface RoundResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  serverCpuCores?: number;
  clientCpuCores?: number;
}

/** A target that can run one round of the given length, after the given warm-up. */
export interface RoundTarget<R extends RoundResult = RoundResult> {
  name: string;
  run(durationS: number, warmupS: number): Promise<R>;
}

/** How the rounds are laid out. */
export interface RoundPlan {
  rounds: number;
  /** Measured seconds per target in all, split evenly over the rounds. */
  totalS: number;
  /** Warm-up before a target's first round (a fresh server compiles its hot paths). */
  firstWarmupS: number;
  /** Warm-up before later rounds: new connections only, the server is warm. */
  laterWarmupS: number;
}

/** Runs every target `plan.rounds` times, interleaved; returns each target's rounds in order. */
export async function runInterleaved<R extends RoundResult>(
  targets: RoundTarget<R>[],
  plan: RoundPlan,
  log: (line: string) => void = () => undefined,
): Promise<Map<string, R[]>> {
  const results = new Map<string, R[]>(targets.map((t) => [t.name, []]));
  const roundS = plan.totalS / plan.rounds;
  for (let round = 0; round < plan.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      log(`${target.name}: closed loop, round ${round + 1} of ${plan.rounds}`);
      results.get(target.name)!.push(await target.run(roundS, round === 0 ? plan.firstWarmupS : plan.laterWarmupS));
    }
  }
  return results;
}

/**
 * One target's rounds as one result: requests/s and CPU are the mean over the rounds
 * (they are equally long), errors the sum, max the largest; p50 and p99 are the median of
 * the rounds' values (the rounds' histograms are not kept, so no exact overall percentile).
 */
export function combineRounds(rounds: RoundResult[]): RoundResult {
  if (rounds.length === 0) throw new Error('no rounds to combine');
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const optionalMean = (values: (number | undefined)[]) => (values.some((v) => v === undefined) ? undefined : mean(values as number[]));
  return {
    rps: mean(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    maxMs: Math.max(...rounds.map((r) => r.maxMs)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    serverCpuCores: optionalMean(rounds.map((r) => r.serverCpuCores)),
    clientCpuCores: optionalMean(rounds.map((r) => r.clientCpuCores)),
  };
}

/** Ratio of two targets round by round (same round, same moments of the machine), 2 decimals. */
export function roundRatios(numerator: RoundResult[], denominator: RoundResult[]): number[] {
  return numerator.map((r, i) => Math.round((r.rps / denominator[i]!.rps) * 100) / 100);
}

/** Median (mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

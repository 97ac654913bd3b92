import { describe, expect, it } from 'vitest';
import { combineRounds, median, roundRatios, runInterleaved, type RoundResult } from '../../../bench/interleaved.ts';

const result = (rps: number, extra: Partial<RoundResult> = {}): RoundResult => ({ rps, p50Ms: 1, p99Ms: 2, maxMs: 3, errors: 0, ...extra });

describe('interleaved closed-loop rounds (bench)', () => {
  it('runs every target once per round, alternating the order, with the long warm-up only in the first round', async () => {
    const calls: string[] = [];
    const target = (name: string) => ({
      name,
      run: async (durationS: number, warmupS: number) => {
        calls.push(`${name} ${durationS}s warm ${warmupS}s`);
        return result(calls.length);
      },
    });
    const rounds = await runInterleaved([target('A'), target('B'), target('C')], { rounds: 3, totalS: 12, firstWarmupS: 3, laterWarmupS: 0.5 });
    expect(calls).toEqual([
      'A 4s warm 3s',
      'B 4s warm 3s',
      'C 4s warm 3s',
      'C 4s warm 0.5s',
      'B 4s warm 0.5s',
      'A 4s warm 0.5s',
      'A 4s warm 0.5s',
      'B 4s warm 0.5s',
      'C 4s warm 0.5s',
    ]);
    expect(rounds.get('A')!.map((r) => r.rps)).toEqual([1, 6, 7]);
    expect(rounds.get('C')!.map((r) => r.rps)).toEqual([3, 4, 9]);
  });

  it('combines rounds: mean rate and CPU, summed errors, largest max, median percentiles', () => {
    const combined = combineRounds([
      result(100, { p50Ms: 1, p99Ms: 9, maxMs: 20, errors: 1, serverCpuCores: 1, clientCpuCores: 0.2 }),
      result(200, { p50Ms: 3, p99Ms: 5, maxMs: 50, errors: 0, serverCpuCores: 0.8, clientCpuCores: 0.4 }),
      result(300, { p50Ms: 2, p99Ms: 7, maxMs: 10, errors: 2, serverCpuCores: 0.9, clientCpuCores: 0.3 }),
    ]);
    expect(combined.rps).toBe(200);
    expect([combined.p50Ms, combined.p99Ms, combined.maxMs, combined.errors]).toEqual([2, 7, 50, 3]);
    expect(combined.serverCpuCores).toBeCloseTo(0.9, 9);
    expect(combined.clientCpuCores).toBeCloseTo(0.3, 9);
    // A source without client CPU (an in-process ceiling) stays without it.
    expect(combineRounds([result(1), result(3)]).clientCpuCores).toBeUndefined();
    expect(() => combineRounds([])).toThrow(/no rounds/);
  });

  it('gives each round its own ratio, and medians of odd and even counts', () => {
    expect(roundRatios([result(30), result(25)], [result(100), result(50)])).toEqual([0.3, 0.5]);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

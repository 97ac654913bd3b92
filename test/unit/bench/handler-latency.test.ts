import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { handlerLatency } from '../../../bench/handler-latency.ts';

const dir = mkdtempSync(join(tmpdir(), 'xks-handler-'));

describe('handlerLatency (bench)', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('summarises the request lines inside the window only, skipping other and cut lines', () => {
    const file = join(dir, 'window.log');
    const lines = [
      JSON.stringify({ msg: 'xks-proxy listening', at: 1500 }),
      ...Array.from({ length: 1000 }, (_, i) => JSON.stringify({ msg: 'xks request', at: 2000 + i, latencyMs: (i + 1) / 100 })),
      JSON.stringify({ msg: 'xks request', at: 999, latencyMs: 500 }), // before the window
      JSON.stringify({ msg: 'xks request', at: 9000, latencyMs: 700 }), // after it
      '{"msg":"xks request","at":2500,"laten', // cut by a concurrent write
    ];
    writeFileSync(file, `${lines.join('\n')}\n`);
    expect(handlerLatency(file, 1000, 5000)).toEqual({ requests: 1000, p50_ms: 5.01, p99_ms: 9.91, p999_ms: 10, max_ms: 10 });
    expect(handlerLatency(file, 6000, 7000)).toBeNull();
  });

  it("reads today's lines, which have only `time` (written at arrival + latencyMs)", () => {
    const file = join(dir, 'time-only.log');
    const line = (arrived: number, latencyMs: number) => JSON.stringify({ time: new Date(arrived + latencyMs).toISOString(), msg: 'xks request', latencyMs });
    writeFileSync(file, `${[line(2000, 3), line(2100, 5), line(900, 1)].join('\n')}\n`);
    expect(handlerLatency(file, 1000, 5000)).toEqual({ requests: 2, p50_ms: 5, p99_ms: 5, p999_ms: 5, max_ms: 5 });
  });
});

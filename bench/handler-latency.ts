/**
 * The proxy's own view of a load run: the `latencyMs` of its "xks request" log lines (from
 * the request's arrival in the handler to its answer). Set against the client's latency
 * it separates the proxy's work from time spent waiting for a core or in the network
 * stack, which on a shared machine is most of a high percentile.
 */
import { readFileSync } from 'node:fs';

/** Handler latency percentiles of the requests that arrived within a time window. */
export interface HandlerLatency {
  requests: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

/**
 * Reads `logFile` and summarises the request lines that arrived in [fromMs, toMs]; null
 * when there are none. Arrival is the line's `time` (ISO, when it was written) minus its
 * `latencyMs`; lines of older proxies carry it as `at` (epoch ms).
 */
export function handlerLatency(logFile: string, fromMs: number, toMs: number): HandlerLatency | null {
  const latencies: number[] = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('"msg":"xks request"')) continue;
    let entry: { at?: unknown; time?: unknown; latencyMs?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue; // a line cut by a concurrent write
    }
    if (typeof entry.latencyMs !== 'number') continue;
    const arrived = typeof entry.at === 'number' ? entry.at : typeof entry.time === 'string' ? Date.parse(entry.time) - entry.latencyMs : Number.NaN;
    if (arrived >= fromMs && arrived <= toMs) latencies.push(entry.latencyMs);
  }
  if (latencies.length === 0) return null;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { requests: latencies.length, p50_ms: at(0.5), p99_ms: at(0.99), p999_ms: at(0.999), max_ms: latencies[latencies.length - 1]! };
}

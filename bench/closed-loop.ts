/**
 * Closed-loop throughput with autocannon: a fixed number of keep-alive connections, each
 * sending its next request as soon as the last one is answered. Measures the most a
 * server answers per second, and the generator's own CPU so a saturated client shows.
 */
import autocannon from 'autocannon';
import type { ServerProcess } from './server-process.ts';
import type { PreparedRequest } from './xks-workload.ts';

/** Settings of one closed-loop run. */
export interface ClosedLoopOptions {
  connections: number;
  durationS: number;
  /** Unmeasured run first, so the JIT and connection setup do not count. */
  warmupS: number;
}

/** What a closed-loop run measured. */
export interface ClosedLoopResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  /** Server CPU use in cores (1.0 = one core busy) over the measured part. */
  serverCpuCores: number;
  /** Load generator CPU use in cores over the measured part. */
  clientCpuCores: number;
}

/** Runs autocannon against a server with a fixed request sequence (each connection cycles it). */
export async function runClosedLoop(server: ServerProcess, requests: () => PreparedRequest[], opts: ClosedLoopOptions): Promise<ClosedLoopResult> {
  if (opts.warmupS > 0) await autocannon({ url: server.url, connections: opts.connections, duration: opts.warmupS, requests: requests() });
  const serverBefore = server.sample().cpuSeconds;
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const result = await autocannon({ url: server.url, connections: opts.connections, duration: opts.durationS, requests: requests() });
  const wallS = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const serverCpu = server.sample().cpuSeconds - serverBefore;
  return {
    rps: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors + result.timeouts + result.non2xx,
    serverCpuCores: serverCpu / wallS,
    clientCpuCores: (client.user + client.system) / 1e6 / wallS,
  };
}

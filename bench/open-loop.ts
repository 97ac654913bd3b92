/**
 * Open-loop load at a fixed rate, the way KMS sends it: requests leave on a schedule
 * whether or not earlier ones have been answered, so a slow server cannot slow the
 * generator down and hide its own latency (coordinated omission). The schedule is paced
 * evenly (one timer tick about every millisecond sends the requests that are due, i.e.
 * one or two at 1,800 req/s), and every latency is recorded in microseconds in an HDR
 * histogram.
 */
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import type { ServerProcess } from './server-process.ts';
import type { PreparedRequest } from './xks-workload.ts';

/** Settings of one fixed-rate run. */
export interface OpenLoopOptions {
  rate: number;
  durationS: number;
  warmupS: number;
  /** Keep-alive connections the pool may open (enough that none waits for a free one). */
  connections: number;
}

/** What a fixed-rate run measured; latencies in milliseconds with microsecond resolution. */
export interface OpenLoopResult {
  rate: number;
  sent: number;
  achievedRps: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  errors: number;
  /** p99 of how late a request left after its scheduled time (the generator's own jitter). */
  sendLagP99Ms: number;
  /** p99 measured from the scheduled time instead of the actual send: includes generator lag. */
  p99FromScheduleMs: number;
  serverCpuCores: number;
  clientCpuCores: number;
  /** The measured part (after warm-up), epoch ms: to match it with the server's log. */
  measuredFromMs: number;
  measuredToMs: number;
}

function histogram(): hdr.Histogram {
  // 1 us .. 60 s at 3 significant digits.
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

const toMs = (us: number) => Math.round(us) / 1000;

/** Sends `rate` requests per second for the duration, cycling through `requests()`. */
export async function runOpenLoop(server: ServerProcess, requests: () => PreparedRequest[], opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const pool = new Pool(server.url, { connections: opts.connections, pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000 });
  try {
    if (opts.warmupS > 0) await schedule(pool, requests, opts.rate, opts.warmupS, undefined);
    const serverBefore = server.sample().cpuSeconds;
    const clientBefore = process.cpuUsage();
    const started = performance.now();
    const measuredFromMs = Date.now();
    const rec = { latency: histogram(), fromSchedule: histogram(), lag: histogram(), errors: 0, sent: 0 };
    await schedule(pool, requests, opts.rate, opts.durationS, rec);
    const wallS = (performance.now() - started) / 1000;
    const client = process.cpuUsage(clientBefore);
    const serverCpu = server.sample().cpuSeconds - serverBefore;
    return {
      rate: opts.rate,
      sent: rec.sent,
      achievedRps: (rec.sent - rec.errors) / wallS,
      p50Ms: toMs(rec.latency.getValueAtPercentile(50)),
      p99Ms: toMs(rec.latency.getValueAtPercentile(99)),
      p999Ms: toMs(rec.latency.getValueAtPercentile(99.9)),
      maxMs: toMs(rec.latency.maxValue),
      errors: rec.errors,
      sendLagP99Ms: toMs(rec.lag.getValueAtPercentile(99)),
      p99FromScheduleMs: toMs(rec.fromSchedule.getValueAtPercentile(99)),
      serverCpuCores: serverCpu / wallS,
      clientCpuCores: (client.user + client.system) / 1e6 / wallS,
      measuredFromMs,
      measuredToMs: Date.now(),
    };
  } finally {
    await pool.close();
  }
}

interface Recording {
  latency: hdr.Histogram;
  fromSchedule: hdr.Histogram;
  lag: hdr.Histogram;
  errors: number;
  sent: number;
}

/** Runs the schedule; resolves when every request sent has been answered or has failed. */
function schedule(pool: Pool, requests: () => PreparedRequest[], rate: number, durationS: number, rec: Recording | undefined): Promise<void> {
  const intervalNs = 1e9 / rate;
  const total = Math.round(rate * durationS);
  const t0 = process.hrtime.bigint();
  let index = 0;
  let inFlight = 0;
  return new Promise((resolveAll) => {
    const finishOne = () => {
      inFlight--;
      if (index >= total && inFlight === 0) resolveAll();
    };
    const send = (dueNs: bigint) => {
      const batch = requests();
      const req = batch[index % batch.length]!;
      const sentNs = process.hrtime.bigint();
      inFlight++;
      pool
        .request({ method: req.method, path: req.path, headers: req.headers, body: req.body })
        .then(async (res) => {
          await res.body.dump();
          const doneNs = process.hrtime.bigint();
          if (rec === undefined) return;
          if (res.statusCode !== 200) rec.errors++;
          else {
            rec.latency.recordValue(Number(doneNs - sentNs) / 1000);
            rec.fromSchedule.recordValue(Number(doneNs - dueNs) / 1000);
          }
        })
        .catch(() => {
          if (rec !== undefined) rec.errors++;
        })
        .finally(finishOne);
      if (rec !== undefined) {
        rec.sent++;
        rec.lag.recordValue(Math.max(1, Number(sentNs - dueNs) / 1000));
      }
    };
    const tick = () => {
      const now = process.hrtime.bigint();
      while (index < total) {
        const due = t0 + BigInt(Math.round(index * intervalNs));
        if (due > now) break;
        send(due);
        index++;
      }
      if (index < total) {
        const nextDue = t0 + BigInt(Math.round(index * intervalNs));
        setTimeout(tick, Math.max(0, Number(nextDue - process.hrtime.bigint()) / 1e6 - 0.5));
      } else if (inFlight === 0) resolveAll();
    };
    tick();
  });
}

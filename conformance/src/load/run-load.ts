/** Load mode: mixed encrypt/decrypt/metadata at a fixed rate, latency measured open loop. */
import { randomBytes } from 'node:crypto';
import { build } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { encryptOk, decryptInputFor } from '../crypto-answers.ts';
import type { EncryptOutput } from '../crypto-answers.ts';
import { HttpClient } from '../http-client.ts';
import type { HttpAnswer } from '../http-client.ts';
import { resolveOptions } from '../options.ts';
import { requestMetadata } from '../request-bodies.ts';
import { XksClient } from '../xks-client.ts';
import { LOAD_DEFAULTS } from './load-options.ts';
import type { LoadOptions } from './load-options.ts';

/** KMS gives up on a proxy call after 250 ms (spec, KMS considerations of each operation). */
export const KMS_BUDGET_MS = 250;

/** Percentiles of one latency histogram, in ms. */
export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** What a load run measured. */
export interface LoadReport {
  endpoint: string;
  requestedRate: number;
  durationMs: number;
  connections: number;
  mix: Record<'encrypt' | 'decrypt' | 'metadata', number>;
  sent: number;
  completed: number;
  ok: number;
  /** Completed calls per second over the whole run (first send to last answer). */
  achievedRate: number;
  /** Latency from the moment each request was due: what KMS would see (no coordinated omission). */
  latency: LatencySummary;
  /** Latency from the moment each request was handed to the HTTP client. */
  serviceTime: LatencySummary;
  /** How late the load generator itself handed requests over; large values mean it could not keep up. */
  sendLag: LatencySummary;
  /** Failed calls by errorName, `HTTP <status>` for non-spec answers, or `NetworkError <code>`. */
  errors: Record<string, number>;
  /** p99 latency under the 250 ms budget. */
  withinBudget: boolean;
  /** No errors, p99 within budget and at least 95% of the requested rate achieved. */
  passed: boolean;
}

/** Per 20 calls: 9 encrypt, 9 decrypt, 2 metadata (KMS traffic is GenerateDataKey and Decrypt). */
const PATTERN = [...'EDEDEDEDEMDEDEDEDEDM'] as Array<'E' | 'D' | 'M'>;
const PLAINTEXT = randomBytes(32); // a data key's size
const AAD = Buffer.from('{"aws:ebs:id":"vol-0123456789abcdef0"}');

function newHistogram(): Histogram {
  // Microseconds from 1 µs to 60 s at 3 significant digits.
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

function summarizeHistogram(h: Histogram): LatencySummary {
  const ms = (us: number) => Math.round(us / 10) / 100;
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

function classify(a: HttpAnswer): string | undefined {
  if (a.status === 200) return undefined;
  const name = (a.json as { errorName?: unknown } | undefined)?.errorName;
  return typeof name === 'string' ? name : `HTTP ${a.status}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs load mode and reports rate, latency percentiles and errors. */
export async function runLoad(input: LoadOptions): Promise<LoadReport> {
  const options = resolveOptions(input);
  const rate = input.rate;
  const durationMs = input.durationMs;
  const connections = input.connections ?? LOAD_DEFAULTS.connections;
  if (!(rate > 0) || !(durationMs > 0)) throw new Error('rate and duration must be positive');
  const http = new HttpClient(options.endpoint, { tls: options.tls, timeoutMs: Math.max(options.requestTimeoutMs, 10_000), connections });
  const client = new XksClient(http, options);
  const key = options.keys.main;
  const latency = newHistogram();
  const service = newHistogram();
  const lag = newHistogram();
  const errors: Record<string, number> = {};
  let ok = 0;
  let completed = 0;
  let lastDone = 0;
  try {
    // Ciphertexts to decrypt, made before the clock starts.
    const samples: EncryptOutput[] = [];
    for (let i = 0; i < 16; i++) samples.push(await encryptOk(client, key, { plaintext: PLAINTEXT, aad: AAD }, 'load warm-up encrypt'));

    const send = (i: number): Promise<HttpAnswer> => {
      const op = PATTERN[i % PATTERN.length];
      if (op === 'E') return client.encrypt(key, { plaintext: PLAINTEXT, aad: AAD, cdiv: true }, requestMetadata('GenerateDataKey'));
      if (op === 'D') return client.decrypt(key, decryptInputFor(samples[i % samples.length]!, AAD));
      return client.metadata(key);
    };
    const fire = async (i: number, due: number): Promise<void> => {
      const started = performance.now();
      lag.recordValue(Math.max(1, Math.round((started - due) * 1000)));
      try {
        const problem = classify(await send(i));
        if (problem === undefined) ok++;
        else errors[problem] = (errors[problem] ?? 0) + 1;
      } catch (e) {
        const err = e as { code?: string; name?: string };
        const name = `NetworkError ${err.code ?? err.name ?? 'unknown'}`;
        errors[name] = (errors[name] ?? 0) + 1;
      }
      const done = performance.now();
      latency.recordValue(Math.max(1, Math.round((done - due) * 1000)));
      service.recordValue(Math.max(1, Math.round((done - started) * 1000)));
      completed++;
      lastDone = done;
    };

    const total = Math.max(1, Math.round((rate * durationMs) / 1000));
    const inflight: Promise<void>[] = [];
    const t0 = performance.now();
    let sent = 0;
    while (sent < total) {
      // Open loop: send everything that is due by now, however many answers are still out.
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      for (; sent < due; sent++) inflight.push(fire(sent, t0 + (sent * 1000) / rate));
      await sleep(1);
    }
    await Promise.all(inflight);
    const elapsedS = Math.max(lastDone - t0, 1) / 1000;
    const achievedRate = Math.round((completed / elapsedS) * 10) / 10;
    const lat = summarizeHistogram(latency);
    const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
    const withinBudget = lat.p99 < KMS_BUDGET_MS;
    return {
      endpoint: options.endpoint,
      requestedRate: rate,
      durationMs,
      connections,
      mix: { encrypt: 45, decrypt: 45, metadata: 10 },
      sent,
      completed,
      ok,
      achievedRate,
      latency: lat,
      serviceTime: summarizeHistogram(service),
      sendLag: summarizeHistogram(lag),
      errors,
      withinBudget,
      passed: withinBudget && errorCount === 0 && achievedRate >= rate * 0.95,
    };
  } finally {
    await http.close().catch(() => undefined);
  }
}

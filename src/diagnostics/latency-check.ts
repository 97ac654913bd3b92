import { randomBytes } from 'node:crypto';
import { callContextWithin } from '../xks/call-context.ts';
import type { CallContext } from '../xks/key-provider-port.ts';
import type { Tenant } from '../xks/tenants.ts';
import { isXksError } from '../xks/errors.ts';
import { errorText, fail, ok, skip, warn, type CheckResult } from './check-result.ts';
import { summarize, type LatencySummary } from './latency-stats.ts';

/** KMS gives up on any proxy call after this long, network and TLS included (spec). */
export const KMS_BUDGET_MS = 250;
/** Time to leave for the network, the TLS handshake and the load balancer. */
export const NETWORK_RESERVE_MS = 100;
/** Above this p99 the proxy uses more than 40% of KMS's budget: worth a warning. */
export const WARN_P99_MS = 100;

/** How big a burst the doctor sends. */
export interface LatencyOptions {
  /** Round trips measured (after a short warm-up). */
  samples?: number;
  /** Round trips in flight at once, like a burst of KMS calls. */
  concurrency?: number;
}

/** One call of a burst; resolves with how long each of its steps took (ms). */
type TimedCall = (ctx: CallContext) => Promise<Record<string, number>>;

/**
 * Sends a burst of Encrypt and Decrypt calls through the key store, as KMS does (same
 * AAD handling, ciphertextMetadata and CDIV with its verification decrypt), and judges
 * p99 against KMS's 250 ms budget. Without a usable key it times the health canary.
 */
export async function checkLatency(tenant: Tenant, keyId: string | undefined, opts: LatencyOptions = {}): Promise<CheckResult[]> {
  const samples = opts.samples ?? 40;
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? 4, samples));
  const subject = `keyStores[prefix="${tenant.prefix}"]`;
  if (keyId === undefined) {
    const canary = await measure(() => canaryCall(tenant), samples, concurrency);
    if (canary.error !== undefined) {
      return [skip({ group: 'latency', id: 'latency.canary', subject, message: `no usable key to time and the health canary fails (${canary.error})` })];
    }
    return [judge('latency.canary', `${subject} health canary`, canary.steps.canary!, 'canary round trip')];
  }
  const burst = await measure(() => roundTripCall(tenant, keyId), samples, concurrency);
  if (burst.error !== undefined) {
    return [
      fail({
        group: 'latency',
        id: 'latency.encrypt',
        subject: `${subject} key ${keyId}`,
        message: `Encrypt/Decrypt round trips fail: ${burst.error}`,
        fix: 'fix the key or key manager problem reported above; KMS calls with this key fail the same way',
        kmsState: 'KMSInvalidStateException',
      }),
    ];
  }
  return [
    judge('latency.encrypt', `${subject} key ${keyId}`, burst.steps.encrypt!, 'Encrypt (with CDIV)'),
    judge('latency.decrypt', `${subject} key ${keyId}`, burst.steps.decrypt!, 'Decrypt'),
  ];
}

/** A fresh deep health check (the doctor's key stores cache nothing). */
function canaryCall(tenant: Tenant): TimedCall {
  return async (ctx) => {
    const started = performance.now();
    const fleet = await tenant.keyStore.readiness(ctx);
    if (!fleet.some((e) => e.healthStatus !== 'UNAVAILABLE')) throw new Error(fleet.map((e) => e.detail ?? e.healthStatus).join('; '));
    return { canary: performance.now() - started };
  };
}

/** Encrypt then Decrypt of the result, each timed. */
function roundTripCall(tenant: Tenant, keyId: string): TimedCall {
  const metadata = { kmsRequestId: 'xks-proxy-doctor', kmsOperation: 'Encrypt', awsPrincipalArn: 'xks-proxy-doctor' };
  // KMS sends small plaintexts (its own wrapped key material) with the encryption context as AAD.
  const plaintext = randomBytes(64);
  const aad = randomBytes(32);
  return async (ctx) => {
    const started = performance.now();
    const out = await tenant.keyStore.encrypt(keyId, { requestMetadata: metadata, plaintext, aad, wantsCdiv: true }, ctx);
    const encrypted = performance.now();
    await tenant.keyStore.decrypt(
      keyId,
      {
        requestMetadata: { ...metadata, kmsOperation: 'Decrypt' },
        ciphertext: Buffer.from(out.ciphertext, 'base64'),
        iv: Buffer.from(out.initializationVector, 'base64'),
        tag: Buffer.from(out.authenticationTag, 'base64'),
        aad,
        ciphertextMetadata: out.ciphertextMetadata === undefined ? undefined : Buffer.from(out.ciphertextMetadata, 'base64'),
      },
      ctx,
    );
    return { encrypt: encrypted - started, decrypt: performance.now() - encrypted };
  };
}

/** Runs three warm-up calls, then `samples` timed calls with `concurrency` in flight. */
async function measure(
  make: () => TimedCall,
  samples: number,
  concurrency: number,
): Promise<{ steps: Record<string, LatencySummary>; error?: undefined } | { error: string; steps?: undefined }> {
  const times: Record<string, number[]> = {};
  const run = async (record: boolean) => {
    const steps = await make()(callContextWithin(5000));
    if (!record) return;
    for (const [step, ms] of Object.entries(steps)) (times[step] ??= []).push(ms);
  };
  try {
    for (let i = 0; i < 3; i++) await run(false);
    let started = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (started < samples) {
          started++;
          await run(true);
        }
      }),
    );
  } catch (e) {
    return { error: isXksError(e) ? `${e.errorName}: ${e.message}` : errorText(e) };
  }
  return { steps: Object.fromEntries(Object.entries(times).map(([step, list]) => [step, summarize(list)])) };
}

function judge(id: string, subject: string, s: LatencySummary, what: string): CheckResult {
  const left = KMS_BUDGET_MS - s.p99;
  const message = `${what}: p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms over ${s.count} calls; leaves ${Math.round(left)} ms of KMS's ${KMS_BUDGET_MS} ms for the network`;
  const data = { ...s, budgetMs: KMS_BUDGET_MS };
  if (left < NETWORK_RESERVE_MS) {
    return fail({
      group: 'latency',
      id,
      subject,
      message,
      fix: `bring p99 under ${KMS_BUDGET_MS - NETWORK_RESERVE_MS} ms: move the key manager closer to the proxy, add sessions/connections, or add HSM capacity`,
      kmsState: 'XKS_PROXY_TIMED_OUT',
      data,
    });
  }
  if (s.p99 > WARN_P99_MS) {
    return warn({
      group: 'latency',
      id,
      subject,
      message,
      fix: 'keep an eye on it: a slower network or a busier key manager will push calls past 250 ms',
      kmsState: 'XKS_PROXY_TIMED_OUT',
      data,
    });
  }
  return ok({ group: 'latency', id, subject, message, data });
}

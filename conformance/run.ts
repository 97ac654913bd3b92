/** Programmatic entry point: run the conformance checks against one XKS proxy. */
import { ALL_CHECKS, selectChecks } from './src/all-checks.ts';
import type { CheckDefinition, CheckResult } from './src/check.ts';
import { CheckFailure, CheckSkip } from './src/check.ts';
import { HttpClient } from './src/http-client.ts';
import { resolveOptions } from './src/options.ts';
import type { ConformanceOptions, ConformanceOptionsInput } from './src/options.ts';
import { XksClient } from './src/xks-client.ts';
import { describeAnswer } from './src/expect-answer.ts';
import { healthMetadata } from './src/request-bodies.ts';

export type { ConformanceOptions, ConformanceOptionsInput } from './src/options.ts';
export type { CheckResult, CheckStatus, CheckLevel, CheckDefinition } from './src/check.ts';
export { ALL_CHECKS, selectChecks } from './src/all-checks.ts';

/** Counts of a run; `conformant` is true iff no MUST check failed. */
export interface ConformanceSummary {
  passed: number;
  failed: number;
  warnings: number;
  skipped: number;
  conformant: boolean;
}

/** The health calls made before the checks, as KMS makes one when a key store connects. */
export interface PreflightResult {
  /** Health calls made until the first 200 (or until giving up). */
  attempts: number;
  /** Whether a health call answered 200. */
  ok: boolean;
  /** Time spent, ms. */
  durationMs: number;
  /** The last answer or network error when not ok. */
  last?: string;
}

/** Everything a run found. */
export interface ConformanceReport {
  endpoint: string;
  prefix: string;
  startedAt: string;
  durationMs: number;
  preflight: PreflightResult;
  results: CheckResult[];
  summary: ConformanceSummary;
}

/** Longest a single check may take before it counts as failed. */
const CHECK_TIMEOUT_MS = 60_000;
/** How long the preflight waits for a first healthy answer. */
const PREFLIGHT_MS = 10_000;

/**
 * Calls GetHealthStatus until it answers 200 (at most PREFLIGHT_MS), as KMS does when a key
 * store connects (ConnectCustomKeyStore), so a proxy still starting up is not judged on
 * its first seconds. A slow start is reported, not failed.
 */
async function preflight(client: XksClient): Promise<PreflightResult> {
  const started = performance.now();
  let attempts = 0;
  let last = '';
  while (performance.now() - started < PREFLIGHT_MS) {
    attempts++;
    let transient: boolean;
    try {
      const a = await client.health(healthMetadata('ConnectCustomKeyStore'));
      if (a.status === 200) return { attempts, ok: true, durationMs: elapsed(started) };
      last = describeAnswer(a);
      transient = a.status >= 500 || a.status === 429;
    } catch (e) {
      last = describeError(e);
      transient = /ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET/.test(last);
    }
    // Wrong credentials or a TLS mismatch will not heal by waiting: let the checks report them.
    if (!transient) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { attempts, ok: false, durationMs: elapsed(started), last };
}

/** Runs the selected checks (all by default) one after another and reports each. */
export async function runConformance(input: ConformanceOptionsInput = {}): Promise<ConformanceReport> {
  const options = resolveOptions(input);
  const checks = selectChecks(options.only);
  if (checks.length === 0) throw new Error(`--only ${JSON.stringify(options.only)} selects no check`);
  const http = new HttpClient(options.endpoint, { tls: options.tls, timeoutMs: options.requestTimeoutMs });
  const client = new XksClient(http, options);
  const startedAt = new Date();
  const results: CheckResult[] = [];
  let pre: PreflightResult;
  try {
    pre = await preflight(client);
    for (const check of checks) results.push(await runOne(check, options, client));
  } finally {
    await http.close().catch(() => undefined);
  }
  return {
    endpoint: options.endpoint,
    prefix: options.prefix,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    preflight: pre,
    results,
    summary: summarize(results),
  };
}

async function runOne(check: CheckDefinition, options: ConformanceOptions, client: XksClient): Promise<CheckResult> {
  const started = performance.now();
  const base = { id: check.id, group: check.group, title: check.title, spec: check.spec, level: check.level };
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailure(`check did not finish within ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS);
    });
    const detail = await Promise.race([check.run({ options, client }), timeout]);
    return { ...base, status: 'pass', ...(detail ? { detail } : {}), durationMs: elapsed(started) };
  } catch (e) {
    if (e instanceof CheckSkip) return { ...base, status: 'skip', detail: e.message, durationMs: elapsed(started) };
    const reason = e instanceof CheckFailure ? e.message : `request failed: ${describeError(e)}`;
    return { ...base, status: check.level === 'MUST' ? 'fail' : 'warn', detail: reason, durationMs: elapsed(started) };
  } finally {
    clearTimeout(timer);
  }
}

function describeError(e: unknown): string {
  const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
  const firstLine = (s: string | undefined) => s?.split('\n')[0];
  return [err.code ?? err.name, firstLine(err.message), err.cause?.code ?? firstLine(err.cause?.message)].filter(Boolean).join(' ');
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

/** Tallies results; a run is conformant iff no MUST check failed. */
export function summarize(results: readonly CheckResult[]): ConformanceSummary {
  const count = (s: CheckResult['status']) => results.filter((r) => r.status === s).length;
  const failed = count('fail');
  return { passed: count('pass'), failed, warnings: count('warn'), skipped: count('skip'), conformant: failed === 0 };
}

/** Ids of every check, for listings and tests. */
export function checkIds(): string[] {
  return ALL_CHECKS.map((c) => c.id);
}

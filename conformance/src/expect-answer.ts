/** Assertions on proxy answers that turn a wrong answer into a readable CheckFailure. */
import { successValueProblems } from './answer-values.ts';
import { fail } from './check.ts';
import { SPEC_ERROR_STATUS, isSpecErrorName } from './error-table.ts';
import type { SpecErrorName } from './error-table.ts';
import type { HttpAnswer } from './http-client.ts';

/** A short description of an answer for failure reasons (never the request's secrets). */
export function describeAnswer(a: HttpAnswer): string {
  const body = a.json as { errorName?: unknown; errorMessage?: unknown } | undefined;
  if (body && typeof body === 'object' && typeof body.errorName === 'string') {
    const msg = typeof body.errorMessage === 'string' ? `: ${truncate(body.errorMessage, 120)}` : '';
    return `${a.status} ${body.errorName}${msg}`;
  }
  if (a.json === undefined) return `${a.status} with a non-JSON body ${JSON.stringify(truncate(a.text, 80))}`;
  return `${a.status} ${truncate(a.text, 120)}`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

/** True when the answer's Content-Type is application/json (parameters allowed). */
export function isJsonContentType(a: HttpAnswer): boolean {
  return /^application\/json\s*(;|$)/i.test(a.headers['content-type'] ?? '');
}

/**
 * Expects 200 with a JSON object body (spec "API content type") and returns the body.
 * When the answer is tagged with its operation (every XksClient call is), the body's
 * values are checked too (answer-values.ts): a well-formed but wrong 200 fails any check.
 */
export function expectSuccess(a: HttpAnswer, what: string): Record<string, unknown> {
  if (a.status !== 200) fail(`${what}: expected 200, got ${describeAnswer(a)}`);
  if (!isJsonContentType(a)) fail(`${what}: 200 without Content-Type application/json (got ${a.headers['content-type'] ?? 'none'})`);
  if (a.json === null || typeof a.json !== 'object' || Array.isArray(a.json)) fail(`${what}: 200 body is not a JSON object`);
  const body = a.json as Record<string, unknown>;
  if (a.answers) {
    const problems = successValueProblems(a.answers.operation, a.answers.request, body);
    if (problems.length > 0) fail(`${what}: 200 with wrong values: ${problems.join('; ')}`);
  }
  return body;
}

/**
 * Expects a spec error whose errorName is one of `allowed`, with the HTTP status the
 * spec's table gives that name. Returns the errorName received.
 */
export function expectError(a: HttpAnswer, allowed: readonly SpecErrorName[], what: string): SpecErrorName {
  const want = allowed.map((n) => `${SPEC_ERROR_STATUS[n]} ${n}`).join(' or ');
  const name = (a.json as { errorName?: unknown } | undefined)?.errorName;
  if (!isSpecErrorName(name) || !allowed.includes(name)) fail(`${what}: expected ${want}, got ${describeAnswer(a)}`);
  if (a.status !== SPEC_ERROR_STATUS[name]) fail(`${what}: ${name} came with HTTP ${a.status}, the spec says ${SPEC_ERROR_STATUS[name]}`);
  return name;
}

/** Expects either a 200 or one of the allowed errors: for "one past the limit" cases. */
export function expectSuccessOrError(a: HttpAnswer, allowed: readonly SpecErrorName[], what: string): 'ok' | SpecErrorName {
  if (a.status === 200) {
    expectSuccess(a, what);
    return 'ok';
  }
  return expectError(a, allowed, `${what} (200 also acceptable)`);
}

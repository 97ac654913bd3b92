import type { RequestLog } from '../xks/request-event.ts';

/** Longest attacker-controlled string a log line carries (ARNs may be 2048 by spec). */
const MAX_ID = 256;
const MAX_ARN = 2048;

/**
 * Best-effort requestMetadata for the log line of a refused request (401, 429, a 400
 * whose body failed validation): the body was never accepted, but when it is a JSON
 * object with string fields under `requestMetadata`, the operator can match the refusal
 * to the KMS request (its kmsRequestId is in the customer's CloudTrail). Only plain
 * strings, truncated; never throws. Runs on refusals only, not on the served path.
 */
export function noteRefusedMetadata(log: RequestLog, body: Buffer | undefined): void {
  if (body === undefined || body.length === 0) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return;
  }
  if (typeof parsed !== 'object' || parsed === null) return;
  const md = (parsed as { requestMetadata?: unknown }).requestMetadata;
  if (typeof md !== 'object' || md === null || Array.isArray(md)) return;
  const fields = md as Record<string, unknown>;
  const id = text(fields['kmsRequestId'], MAX_ID);
  if (id !== undefined) log.kmsRequestId = id;
  const op = text(fields['kmsOperation'], MAX_ID);
  if (op !== undefined) log.kmsOperation = op;
  const principal = text(fields['awsPrincipalArn'], MAX_ARN);
  if (principal !== undefined) log.awsPrincipalArn = principal;
  const keyArn = text(fields['kmsKeyArn'], MAX_ARN);
  if (keyArn !== undefined) log.kmsKeyArn = keyArn;
}

function text(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.length > max ? `${value.slice(0, max)}...` : value;
}

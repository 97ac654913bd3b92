/**
 * Verifies the SigV4 signature on an XKS request (spec "Authentication: SigV4") by
 * recomputing it from what was received. Pure: the clock and the credentials come in as
 * arguments. The app maps any failure to 401 AuthenticationFailedException and logs
 * `detail`, which never contains a secret or the signature.
 */
import { timingSafeEqual } from 'node:crypto';
import type { CredentialSet } from './credential-set.ts';
import { parseAuthorization, logSafe } from './sigv4-authorization.ts';
import { buildCanonicalRequest, canonicalQueryString, canonicalUri, headerValue, sha256Hex, type HeaderMap } from './sigv4-canonical.ts';
import { buildStringToSign, credentialScope, signatureBytes } from './sigv4-signature.ts';
import { parseAmzDate } from './sigv4-time.ts';

/**
 * A request as received. Header names are lower case, one string per header (several
 * values joined with ','). Over HTTP/2 there is no Host header: the caller must put the
 * `:authority` value under `host`, since that is what the client signed as host.
 */
export interface SignedRequest {
  method: string;
  /** Raw path as received, without the query. */
  path: string;
  /** Raw query string without '?', usually ''. */
  query: string;
  headers: HeaderMap;
  body: Uint8Array;
}

/** Why a request failed verification (for metrics and tests; the client just gets 401). */
export type SigV4FailureReason =
  | 'missing-authorization'
  | 'malformed-authorization'
  | 'unsupported-algorithm'
  | 'unknown-access-key-id'
  | 'wrong-service'
  | 'wrong-region'
  /** host or x-amz-date not signed */
  | 'missing-signed-header'
  | 'missing-date'
  | 'malformed-date'
  | 'date-out-of-window'
  | 'credential-date-mismatch'
  | 'payload-hash-mismatch'
  | 'signature-mismatch';

/** Outcome of verification; `detail` is for the operator log only. */
export type VerifyResult = { ok: true; accessKeyId: string } | { ok: false; reason: SigV4FailureReason; detail: string };

/** What the verifier checks against. */
export interface VerifyOptions {
  region: string;
  /** 'kms-xks-proxy' for XKS. */
  service: string;
  now: Date;
  credentials: CredentialSet;
  /** Replay window each way; the spec says 5 minutes. */
  maxSkewMs?: number;
}

/** The spec's replay window: 5 minutes either side of the proxy's clock. */
export const DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000;

// The spec requires at least these two to be signed; without them a signature could be
// replayed to another host or at any time.
const REQUIRED_SIGNED_HEADERS = ['host', 'x-amz-date'] as const;

function fail(reason: SigV4FailureReason, detail: string): VerifyResult {
  return { ok: false, reason, detail };
}

/** Checks a request's SigV4 signature; never throws for any input. */
export function verifySigV4(req: SignedRequest, opts: VerifyOptions): VerifyResult {
  const header = headerValue(req.headers, 'authorization');
  if (header === undefined || header.trim() === '') return fail('missing-authorization', 'no Authorization header');
  const parsed = parseAuthorization(header);
  if (!parsed.ok) return fail(parsed.reason, parsed.detail);
  const auth = parsed.value;

  if (auth.service !== opts.service) {
    return fail('wrong-service', `credential scope service '${logSafe(auth.service)}' is not '${opts.service}'`);
  }
  if (auth.region !== opts.region) {
    return fail('wrong-region', `credential scope region '${logSafe(auth.region)}' is not '${opts.region}'`);
  }
  for (const name of REQUIRED_SIGNED_HEADERS) {
    if (!auth.signedHeaders.includes(name)) {
      return fail('missing-signed-header', `${name} is not signed (SignedHeaders=${logSafe(auth.signedHeaders.join(';'), 200)})`);
    }
  }
  for (const name of auth.signedHeaders) {
    if (headerValue(req.headers, name) === undefined && name !== 'x-amz-date') {
      return fail('signature-mismatch', `signed header ${name} is absent from the request` + (name === 'host' ? ' (HTTP/2: pass :authority as host)' : ''));
    }
  }

  const amzDate = headerValue(req.headers, 'x-amz-date');
  if (amzDate === undefined) return fail('missing-date', 'no x-amz-date header');
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) return fail('malformed-date', `x-amz-date '${logSafe(amzDate, 32)}' is not YYYYMMDDTHHMMSSZ`);
  const maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const skewMs = opts.now.getTime() - signedAt;
  if (Math.abs(skewMs) > maxSkewMs) {
    const direction = skewMs > 0 ? 'in the past' : 'in the future';
    return fail(
      'date-out-of-window',
      `x-amz-date ${amzDate} is ${Math.round(Math.abs(skewMs) / 1000)} s ${direction}, outside the ${maxSkewMs / 1000} s window`,
    );
  }
  if (auth.date !== amzDate.slice(0, 8)) {
    return fail('credential-date-mismatch', `credential scope date ${auth.date} is not the date of x-amz-date ${amzDate}`);
  }

  const credential = opts.credentials.lookup(auth.accessKeyId);
  if (!credential) return fail('unknown-access-key-id', `unknown access key id '${logSafe(auth.accessKeyId)}'`);

  // The payload hash is always computed from the body; a signed x-amz-content-sha256 must
  // agree with it (so UNSIGNED-PAYLOAD is refused: the spec hashes the exact body).
  const payloadHash = sha256Hex(req.body);
  const claimedHash = headerValue(req.headers, 'x-amz-content-sha256');
  if (claimedHash !== undefined && auth.signedHeaders.includes('x-amz-content-sha256') && claimedHash.trim() !== payloadHash) {
    return fail('payload-hash-mismatch', `x-amz-content-sha256 does not match the ${req.body.length}-byte body (access key id ${auth.accessKeyId})`);
  }

  const canonicalRequest = buildCanonicalRequest({
    method: req.method,
    canonicalUri: canonicalUri(req.path),
    canonicalQuery: canonicalQueryString(req.query),
    headers: req.headers,
    signedHeaders: auth.signedHeaders,
    payloadHash,
  });
  const stringToSign = buildStringToSign(amzDate, credentialScope(auth.date, auth.region, auth.service), canonicalRequest);
  const expected = signatureBytes(credential.signingKey(auth.date, auth.region, auth.service), stringToSign);
  const given = Buffer.from(auth.signature, 'hex'); // 64 hex chars checked by the parser: 32 bytes
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return fail(
      'signature-mismatch',
      `signature does not match for access key id ${auth.accessKeyId} (SignedHeaders=${logSafe(auth.signedHeaders.join(';'), 200)}, canonical request sha256 ${sha256Hex(canonicalRequest)})`,
    );
  }
  return { ok: true, accessKeyId: auth.accessKeyId };
}

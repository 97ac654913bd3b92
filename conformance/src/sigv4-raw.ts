/**
 * A small SigV4 signer of its own, for the malformed-signature checks only. aws4 (used for
 * every normal request) derives the scope from the date and always writes a well-formed
 * header, so it cannot make "a correct HMAC over a wrong scope" or "host left out of
 * SignedHeaders". This one signs exactly the scope, header list and X-Amz-Date it is
 * given, so each malformed request differs from a valid one in one respect only and a
 * proxy cannot pass a check by accident (e.g. refusing for a signature mismatch it would
 * have found anyway). A unit test holds it equal to aws4 for the well-formed case.
 */
import { createHash, createHmac } from 'node:crypto';

/** The algorithm name of SigV4 with HMAC-SHA256 (Appendix A). */
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

/** Everything that goes into one signature; nothing is derived or checked. */
export interface RawSignInput {
  method: string;
  path: string;
  body: string;
  /** Header values by lower-case name; every name in `signedHeaders` should be here. */
  headers: Record<string, string>;
  /** Lower-case names, in the order they are written into the canonical request. */
  signedHeaders: string[];
  /** The X-Amz-Date value as sent (it may be malformed on purpose). */
  amzDate: string;
  /** Credential scope parts after the access key id: date, region, service, terminator, ... */
  scope: string[];
  secretAccessKey: string;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The lower-case hex signature of `input` (Appendix A, Tasks 1-3). */
export function rawSignature(input: RawSignInput): string {
  const canonicalHeaders = input.signedHeaders.map((h) => `${h}:${(input.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [input.method, input.path, '', canonicalHeaders, input.signedHeaders.join(';'), sha256Hex(input.body)].join('\n');
  const toSign = [SIGV4_ALGORITHM, input.amzDate, input.scope.join('/'), sha256Hex(canonical)].join('\n');
  // The signing key is the HMAC chain over every scope part, starting from "AWS4" + secret.
  const key = input.scope.reduce<Buffer | string>((k, part) => hmac(k, part), `AWS4${input.secretAccessKey}`);
  return hmac(key, toSign).toString('hex');
}

/** The three components of an Authorization header, as name/value pairs in sending order. */
export type AuthComponents = Array<[name: string, value: string]>;

/** Writes an Authorization header value from an algorithm and components. */
export function formatAuthorization(components: AuthComponents, algorithm = SIGV4_ALGORITHM, separator = ', '): string {
  return `${algorithm} ${components.map(([n, v]) => `${n}=${v}`).join(separator)}`;
}

/**
 * Our own SigV4 signer, for the upstream key store (re-signing forwarded XKS requests)
 * and for tests. It shares the canonicalisation with the verifier; tests prove it equals
 * aws4 and curl for the same input.
 */
import { buildCanonicalRequest, canonicalQueryString, canonicalUri, sha256Hex } from './sigv4-canonical.ts';
import { SIGV4_ALGORITHM, buildStringToSign, credentialScope, deriveSigningKey, signatureHex } from './sigv4-signature.ts';
import { formatAmzDate } from './sigv4-time.ts';

/** Everything needed to sign one request; `now` is passed in so signing is pure. */
export interface SignRequestInput {
  method: string;
  /** Absolute URL; its path is taken as sent on the wire (already percent-encoded by URL). */
  url: string | URL;
  /** Headers the request will carry (any case). All are signed except transport ones. */
  headers?: Record<string, string | undefined>;
  body?: Uint8Array | string;
  region: string;
  service: string;
  accessKeyId: string;
  secret: string | Uint8Array;
  now: Date;
  /** Also send and sign x-amz-content-sha256. Off by default: KMS does not send it for XKS. */
  signPayloadHash?: boolean;
}

/** Headers the caller adds to the request to make it signed. */
export interface SigV4Headers {
  authorization: string;
  'x-amz-date': string;
  'x-amz-content-sha256'?: string;
}

// Headers a client or proxy may add, drop or rewrite in transit, so AWS SDKs (and aws4)
// never sign them; signing them would make a valid request fail verification.
const UNSIGNED_HEADERS = new Set(['authorization', 'connection', 'user-agent', 'expect', 'x-amzn-trace-id', 'transfer-encoding']);

/** Signs a request and returns the headers to add (authorization, x-amz-date). */
export function signRequest(input: SignRequestInput): SigV4Headers {
  const url = typeof input.url === 'string' ? new URL(input.url) : input.url;
  const body = input.body ?? new Uint8Array(0);
  const amzDate = formatAmzDate(input.now);
  const date = amzDate.slice(0, 8);
  const payloadHash = sha256Hex(body);

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    const lower = name.toLowerCase();
    if (value !== undefined && !UNSIGNED_HEADERS.has(lower)) headers[lower] = value;
  }
  headers['host'] ??= url.host; // what fetch/undici send: hostname plus any non-default port
  headers['x-amz-date'] = amzDate;
  if (input.signPayloadHash) headers['x-amz-content-sha256'] = payloadHash;
  const signedHeaders = Object.keys(headers).sort();

  const canonicalRequest = buildCanonicalRequest({
    method: input.method.toUpperCase(),
    canonicalUri: canonicalUri(url.pathname),
    canonicalQuery: canonicalQueryString(url.search.slice(1)),
    headers,
    signedHeaders,
    payloadHash,
  });
  const scope = credentialScope(date, input.region, input.service);
  const secret = typeof input.secret === 'string' ? Buffer.from(input.secret, 'utf8') : input.secret;
  const signingKey = deriveSigningKey(secret, date, input.region, input.service);
  const signature = signatureHex(signingKey, buildStringToSign(amzDate, scope, canonicalRequest));
  signingKey.fill(0);
  if (typeof input.secret === 'string') secret.fill(0); // our own copy of the secret

  const out: SigV4Headers = {
    authorization: `${SIGV4_ALGORITHM} Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`,
    'x-amz-date': amzDate,
  };
  if (input.signPayloadHash) out['x-amz-content-sha256'] = payloadHash;
  return out;
}

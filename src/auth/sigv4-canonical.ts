/**
 * SigV4 stage 1: the canonical request (AWS "Create a canonical request"), as pure
 * functions over what was received. Used by both the verifier and our own signer, so the
 * two can never disagree with each other; independent signers (aws4, curl) check both.
 */
import { hash } from 'node:crypto';

/**
 * Header map as the verifier and signer see it: lower-case names, one string per header
 * (several values joined). It may be Node's own header object, which has a prototype and
 * keeps `set-cookie` as an array: read it with `headerValue`.
 */
export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/**
 * One header's value, or undefined. Names come from the client (SignedHeaders may list
 * `constructor` or `__proto__`), so only the map's own entries count. Node keeps
 * `set-cookie` as an array; its values are joined as for any repeated header.
 */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  if (!Object.hasOwn(headers, name)) return undefined;
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Hex SHA-256 of bytes or of a UTF-8 string (payload hash, canonical request hash). */
export function sha256Hex(data: Uint8Array | string): string {
  // One-shot crypto.hash (Node >= 20.12) skips building a Hash object; runs twice per request.
  return hash('sha256', data, 'hex');
}

// RFC 3986 unreserved characters: the only ones SigV4 leaves unencoded.
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
const UNRESERVED_BYTE = new Uint8Array(256);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') {
  UNRESERVED_BYTE[ch.charCodeAt(0)] = 1;
}

/**
 * SigV4 URI-encoding of one path segment or query component: every UTF-8 byte outside the
 * unreserved set becomes %XX (upper-case hex). Works on bytes, so a lone surrogate cannot
 * throw the way encodeURIComponent does.
 */
export function uriEncode(value: string): string {
  if (UNRESERVED.test(value)) return value; // the XKS hot path: nothing to encode
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += UNRESERVED_BYTE[byte] ? String.fromCharCode(byte) : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

const PLAIN_PATH = /^\/[A-Za-z0-9\-._~/]*$/;

/**
 * Canonical URI for every service but S3: remove `.` and `..` segments and empty segments
 * (`//`) as RFC 3986 5.2.4 does, keep a trailing slash, then URI-encode each segment once
 * *as received*. A received `%2F` therefore becomes `%252F`: AWS clients encode the path
 * for the wire and again for signing, so the server must not decode first.
 */
export function canonicalUri(rawPath: string): string {
  // The XKS hot path: only unreserved characters, no empty or dot-led segments, so the
  // path is already canonical.
  if (PLAIN_PATH.test(rawPath) && !rawPath.includes('//') && !rawPath.includes('/.')) return rawPath;
  const segments = (rawPath.startsWith('/') ? rawPath : '/' + rawPath).split('/');
  const out: string[] = [];
  const lastIndex = segments.length - 1;
  for (let i = 1; i <= lastIndex; i++) {
    const segment = segments[i] as string;
    const isLast = i === lastIndex;
    if (segment === '..') out.pop();
    if (segment === '' || segment === '.' || segment === '..') {
      if (isLast) out.push(''); // "/a/" and "/a/." both end in a slash
      continue;
    }
    out.push(uriEncode(segment));
  }
  return '/' + out.join('/');
}

/** Percent-decodes a query component; a malformed escape is kept literally (never throws). */
function decodeQueryComponent(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Canonical query string: each `name=value` pair decoded once and re-encoded the SigV4
 * way, sorted by name then value, joined with `&`. `+` is taken literally (as `%2B`), as
 * AWS does; XKS requests carry no query, so this matters only for the published vectors.
 */
export function canonicalQueryString(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs: Array<[string, string]> = [];
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq === -1 ? piece : piece.slice(0, eq);
    const value = eq === -1 ? '' : piece.slice(eq + 1);
    pairs.push([uriEncode(decodeQueryComponent(name)), uriEncode(decodeQueryComponent(value))]);
  }
  // Encoded strings are ASCII, so plain comparison is byte order, as SigV4 requires.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

const NEEDS_TRIM = /^\s|\s$|\s\s|[\t\r\n\f\v]/;

/**
 * Canonical header value: trimmed, with each run of whitespace collapsed to one space.
 * Several values of one header must already be joined with ',' by the caller (SigV4 joins
 * with a bare comma; Node joins duplicates with ", ", which would not verify).
 */
export function canonicalHeaderValue(value: string): string {
  return NEEDS_TRIM.test(value) ? value.trim().replace(/\s+/g, ' ') : value;
}

/** The parts of a canonical request; `signedHeaders` are lower-case names in signing order. */
export interface CanonicalRequestParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  headers: HeaderMap;
  signedHeaders: readonly string[];
  payloadHash: string;
}

/**
 * Builds the canonical request text. Every name in `signedHeaders` must be present in
 * `headers` (the verifier checks that first, to give the operator a precise reason).
 */
export function buildCanonicalRequest(p: CanonicalRequestParts): string {
  let headerBlock = '';
  for (const name of p.signedHeaders) {
    headerBlock += `${name}:${canonicalHeaderValue(headerValue(p.headers, name) ?? '')}\n`;
  }
  return `${p.method}\n${p.canonicalUri}\n${p.canonicalQuery}\n${headerBlock}\n${p.signedHeaders.join(';')}\n${p.payloadHash}`;
}

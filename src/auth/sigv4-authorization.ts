/**
 * Parses the SigV4 Authorization header:
 * `AWS4-HMAC-SHA256 Credential=<id>/<yyyymmdd>/<region>/<service>/aws4_request,
 *  SignedHeaders=<a;b>, Signature=<hex>`.
 * AWS accepts the three components in any order with any whitespace around the commas;
 * so do we. Everything else is strict: each component exactly once, nothing unknown.
 */
import { SIGV4_ALGORITHM, SIGV4_TERMINATOR } from './sigv4-signature.ts';

/** The pieces of a well-formed Authorization header. */
export interface ParsedAuthorization {
  accessKeyId: string;
  /** Credential scope date, `yyyymmdd`. */
  date: string;
  region: string;
  service: string;
  /** Lower-case header names in the order the client listed (and signed) them. */
  signedHeaders: string[];
  /** 64 lower-case hex characters; never log it. */
  signature: string;
}

/** Result of parsing: the parts, or why the header is unusable (detail is log-safe). */
export type AuthorizationParseResult =
  { ok: true; value: ParsedAuthorization } | { ok: false; reason: 'malformed-authorization' | 'unsupported-algorithm'; detail: string };

/** Makes a client-supplied token safe and short for an operator log line. */
export function logSafe(value: string, max = 64): string {
  const printable = value.replace(/[^\x21-\x7e]/g, '?');
  return printable.length > max ? printable.slice(0, max) + '...' : printable;
}

const HEADER_NAME = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/; // RFC 9110 token, lower case only
const SIGNATURE = /^[0-9a-f]{64}$/;
const SCOPE_DATE = /^\d{8}$/;

function malformed(detail: string): AuthorizationParseResult {
  return { ok: false, reason: 'malformed-authorization', detail };
}

/** Parses one Authorization header value; never throws. */
export function parseAuthorization(header: string): AuthorizationParseResult {
  const trimmed = header.trim();
  const space = trimmed.search(/\s/);
  const algorithm = space === -1 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== SIGV4_ALGORITHM) {
    // Echo the algorithm only when it looks like one: a header without spaces could be all signature.
    const shown = /^[A-Za-z0-9-]{1,32}$/.test(algorithm) ? `'${algorithm}'` : '(unrecognised)';
    return { ok: false, reason: 'unsupported-algorithm', detail: `authorization algorithm ${shown} is not ${SIGV4_ALGORITHM}` };
  }
  if (space === -1) return malformed('authorization header has no Credential, SignedHeaders or Signature');

  // Three named slots rather than a Map: this runs on every request.
  let credential: string | undefined;
  let signedHeaderList: string | undefined;
  let signature: string | undefined;
  for (const raw of trimmed.slice(space).split(',')) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    if (eq <= 0) return malformed('authorization component is not name=value');
    const name = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (name === 'Credential' && credential === undefined) credential = value;
    else if (name === 'SignedHeaders' && signedHeaderList === undefined) signedHeaderList = value;
    else if (name === 'Signature' && signature === undefined) signature = value;
    else if (name === 'Credential' || name === 'SignedHeaders' || name === 'Signature') return malformed(`authorization component ${name} appears twice`);
    else return malformed(`unknown authorization component '${logSafe(name, 32)}'`);
  }
  if (credential === undefined) return malformed('authorization has no Credential');
  if (signedHeaderList === undefined) return malformed('authorization has no SignedHeaders');
  if (signature === undefined) return malformed('authorization has no Signature');

  const scope = credential.split('/');
  if (scope.length !== 5 || scope.some((s) => s === '')) {
    return malformed('Credential is not <id>/<yyyymmdd>/<region>/<service>/aws4_request');
  }
  const [accessKeyId, date, region, service, terminator] = scope as [string, string, string, string, string];
  // Not echoed: with a missing comma the rest of the header (and the signature) ends up here.
  if (terminator !== SIGV4_TERMINATOR) return malformed(`Credential scope does not end in /${SIGV4_TERMINATOR}`);
  if (!SCOPE_DATE.test(date)) return malformed(`Credential scope date '${logSafe(date, 16)}' is not yyyymmdd`);

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.every((h) => HEADER_NAME.test(h))) {
    return malformed('SignedHeaders must be lower-case header names separated by ;');
  }
  if (signedHeaders.some((h, i) => signedHeaders.indexOf(h) !== i)) return malformed('SignedHeaders lists a header twice');
  if (!SIGNATURE.test(signature)) return malformed('Signature is not 64 lower-case hex characters');

  return { ok: true, value: { accessKeyId, date, region, service, signedHeaders, signature } };
}

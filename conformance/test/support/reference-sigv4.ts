/**
 * A hand-written SigV4 verifier for the reference server (independent of aws4, which
 * signs, and of the harness's own raw signer). Strict by default: one Authorization
 * header, the algorithm AWS4-HMAC-SHA256, Credential, SignedHeaders and Signature each
 * exactly once, a five-part scope ending in aws4_request, host and x-amz-date signed,
 * X-Amz-Date as YYYYMMDDTHHMMSSZ, 64 lower-case hex digits of signature. Each breakage
 * relaxes one rule the way real verifiers have got it wrong.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Breakage } from './breakages.ts';

/** What the verifier needs to know and which of its rules are switched off. */
export interface SigV4Rules {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Largest allowed distance between X-Amz-Date and now; Infinity checks nothing. */
  windowMs: number;
  /** Accept any service name in the credential scope. */
  anyService: boolean;
  /** Take the payload hash from X-Amz-Content-Sha256 without hashing the body. */
  trustContentShaHeader: boolean;
  /** The other deliberate defects (see breakages.ts). */
  broken: ReadonlySet<Breakage>;
}

/** Thrown where a broken verifier would fail with something other than a clean 401. */
export class VerifierBlewUp extends Error {
  constructor(
    readonly kind: 'validation' | 'crash',
    message: string,
  ) {
    super(message);
  }
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const COMPONENTS = ['Credential', 'SignedHeaders', 'Signature'];
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = name === 'host' ? (headers.host ?? headers[':authority']) : headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** Epoch ms of a strict X-Amz-Date, or NaN (a real calendar date and time only). */
function parseStrictAmzDate(v: string): number {
  const m = AMZ_DATE.exec(v);
  if (!m) return NaN;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const at = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(at);
  return back.getUTCMonth() === mo - 1 && back.getUTCDate() === d && h < 24 && mi < 60 && s < 60 ? at : NaN;
}

/**
 * Returns undefined when the request is authentic, else why it is not. `authorizations`
 * is every Authorization header line received (node:http keeps only the first in
 * `headers`, which is how "first one wins" bugs happen).
 */
export function verifySigV4(
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  authorizations: string[],
  body: Buffer,
  rules: SigV4Rules,
  now = Date.now(),
): string | undefined {
  const broken = rules.broken;
  if (authorizations.length === 0) return 'missing Authorization header';
  if (authorizations.length > 1 && !broken.has('first-authorization-wins')) return 'more than one Authorization header';
  const header = authorizations[0]!.trim();
  const space = header.indexOf(' ');
  if (space <= 0) return 'malformed Authorization header';
  if (header.slice(0, space) !== ALGORITHM && !broken.has('any-algorithm')) return 'unsupported algorithm';

  // Components by name. Strict: each exactly once, nothing else. Lenient: last one wins.
  const parts = new Map<string, string>();
  const positional: string[] = [];
  for (const raw of header.slice(space + 1).split(',')) {
    const item = raw.trim();
    const eq = item.indexOf('=');
    if (eq <= 0) return 'malformed Authorization component';
    const name = item.slice(0, eq);
    if (!COMPONENTS.includes(name)) return 'unknown Authorization component';
    if (parts.has(name) && !broken.has('lenient-auth-components')) return `${name} repeated`;
    parts.set(name, item.slice(eq + 1));
    positional.push(name);
  }
  if (broken.has('positional-auth-components-500') && positional.length === 3 && new Set(positional).size === 3 && positional.join() !== COMPONENTS.join()) {
    // A parser that reads the three components by position and trips over any other order.
    throw new TypeError("Cannot read properties of undefined (reading 'split')");
  }
  if (broken.has('lenient-auth-components') && !parts.has('SignedHeaders')) parts.set('SignedHeaders', 'host;x-amz-date');
  const credential = parts.get('Credential');
  const signedHeaderList = parts.get('SignedHeaders');
  const signature = parts.get('Signature');
  if (credential === undefined || signedHeaderList === undefined || signature === undefined) return 'Credential, SignedHeaders and Signature are required';

  const scopeParts = credential.split('/');
  const akid = scopeParts.shift()!;
  if (broken.has('ignore-terminator')) {
    if (scopeParts.length < 3) return 'credential scope too short';
  } else if (scopeParts.length !== 4 || scopeParts[3] !== 'aws4_request') {
    return 'credential scope is not <date>/<region>/<service>/aws4_request';
  }
  const [day, region, service] = scopeParts as [string, string, string];
  if (akid !== rules.accessKeyId) {
    if (broken.has('akid-format-400') && !/^[A-Z2-7]*$/.test(akid)) throw new VerifierBlewUp('validation', 'access key id has characters outside A-Z2-7');
    return 'unknown access key id';
  }
  if (region !== rules.region && !broken.has('ignore-region')) return 'wrong region';
  if (service !== 'kms-xks-proxy' && !rules.anyService) return 'wrong service';

  const signed = signedHeaderList.split(';');
  if (!/^[a-z0-9-]+(;[a-z0-9-]+)*$/.test(signedHeaderList)) return 'malformed SignedHeaders';
  if ((!signed.includes('host') || !signed.includes('x-amz-date')) && !broken.has('no-required-signed-headers')) return 'host and x-amz-date must be signed';

  const amzDate = headerValue(headers, 'x-amz-date');
  if (!amzDate) return 'missing X-Amz-Date';
  let at = parseStrictAmzDate(amzDate);
  if (Number.isNaN(at) && broken.has('lax-amz-date-format')) at = Date.parse(amzDate);
  if (Number.isNaN(at)) return 'malformed X-Amz-Date';
  const amzDay = new Date(at).toISOString().slice(0, 10).replace(/-/g, '');
  if (day !== amzDay && !broken.has('ignore-scope-date')) return 'credential date differs from X-Amz-Date';
  if (Math.abs(now - at) > rules.windowMs) return 'request time outside the window';

  const lengthBugs = broken.has('signature-length-500') || broken.has('crash-on-bad-signature-length');
  const sigFormat = lengthBugs ? /^[0-9a-fA-F]*$/ : broken.has('signature-case-insensitive') ? /^[0-9a-fA-F]{64}$/ : /^[0-9a-f]{64}$/;
  if (!sigFormat.test(signature)) return 'Signature is not 64 lower-case hex digits';

  const canonicalHeaders = signed.map((h) => `${h}:${(headerValue(headers, h) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const claimed = headerValue(headers, 'x-amz-content-sha256');
  const payloadHash = rules.trustContentShaHeader && claimed ? claimed : sha256Hex(body);
  const canonical = [method, path, '', canonicalHeaders, signedHeaderList, payloadHash].join('\n');
  // The scope as the client wrote it: a verifier that does not check the terminator signs whatever came.
  const scope = scopeParts.join('/');
  const toSign = [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
  const key = scopeParts.reduce<Buffer | string>((k, part) => hmac(k, part), `AWS4${rules.secretAccessKey}`);
  const expected = hmac(key, toSign);
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length) {
    // The classic: timingSafeEqual throws on buffers of different lengths.
    if (broken.has('crash-on-bad-signature-length')) throw new VerifierBlewUp('crash', 'signature length differs');
    if (broken.has('signature-length-500')) timingSafeEqual(given, expected);
    return 'signature mismatch';
  }
  return timingSafeEqual(given, expected) ? undefined : 'signature mismatch';
}

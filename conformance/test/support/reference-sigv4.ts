/** A hand-written SigV4 verifier for the reference server (independent of aws4, which signs). */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

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
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/\s]+)\/(\d{8})\/([^/\s]+)\/([^/\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

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

/** Returns undefined when the request is authentic, else why it is not. */
export function verifySigV4(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer, rules: SigV4Rules, now = Date.now()): string | undefined {
  const m = AUTH.exec(headerValue(headers, 'authorization') ?? '');
  if (!m) return 'missing or malformed Authorization header';
  const [, akid, day, region, service, signedHeaderList, signature] = m as unknown as string[];
  if (akid !== rules.accessKeyId) return 'unknown access key id';
  if (region !== rules.region) return 'wrong region';
  if (service !== 'kms-xks-proxy' && !rules.anyService) return 'wrong service';
  const amzDate = headerValue(headers, 'x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) return 'missing X-Amz-Date';
  if (!amzDate.startsWith(day!)) return 'credential date differs from X-Amz-Date';
  const at = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (Math.abs(now - at) > rules.windowMs) return 'request time outside the window';
  const signed = signedHeaderList!.split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date')) return 'host and x-amz-date must be signed';
  const canonicalHeaders = signed.map((h) => `${h}:${(headerValue(headers, h) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const claimed = headerValue(headers, 'x-amz-content-sha256');
  const payloadHash = rules.trustContentShaHeader && claimed ? claimed : sha256Hex(body);
  const canonical = [method, path, '', canonicalHeaders, signedHeaderList, payloadHash].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${rules.secretAccessKey}`, day!), region!), service!), 'aws4_request');
  const expected = hmac(key, toSign);
  const given = Buffer.from(signature!, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? undefined : 'signature mismatch';
}

/**
 * Test helper: signs a request with aws4 (an independent SigV4 implementation) at a
 * chosen time and returns it the way the proxy's verifier receives it.
 */
import aws4 from 'aws4';
import { vi } from 'vitest';
import type { SignedRequest } from '../../../src/auth/sigv4-verify.ts';

/** What to sign; defaults describe a KMS Encrypt call to an XKS proxy. */
export interface Aws4SignInput {
  time: Date;
  accessKeyId: string;
  secret: string;
  region?: string;
  service?: string;
  host?: string;
  method?: string;
  path?: string;
  body?: string | Buffer;
  /** Extra headers to send and sign (any case). */
  headers?: Record<string, string>;
  /** Leave x-amz-date out of the signed headers (it is still sent). */
  unsignedDate?: boolean;
  /** Leave host out of the signed headers (it is still sent). */
  unsignedHost?: boolean;
}

/** aws4 takes its clock from Date when doNotModifyHeaders is set, so fake only Date. */
function atTime<T>(time: Date, fn: () => T): T {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(time);
  try {
    return fn();
  } finally {
    vi.useRealTimers();
  }
}

/** Signs with aws4.sign(..., { doNotModifyHeaders: true }) and lower-cases the headers. */
export function signWithAws4(input: Aws4SignInput): SignedRequest {
  const amzDate = input.time
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const host = input.host ?? 'xks.example.com';
  const headers: Record<string, string> = { host, ...input.headers };
  if (!input.unsignedDate) headers['X-Amz-Date'] = amzDate;
  const body = input.body ?? '{"requestMetadata":{"kmsOperation":"Encrypt"},"plaintext":"aGVsbG8="}';
  const path = input.path ?? '/xks/kms/xks/v1/keys/key-1/encrypt';
  const request = {
    host,
    method: input.method ?? 'POST',
    path,
    body,
    service: input.service ?? 'kms-xks-proxy',
    region: input.region ?? 'us-east-1',
    headers,
    doNotModifyHeaders: true,
    extraHeadersToIgnore: input.unsignedHost ? { host: true } : {},
  };
  const signed = atTime(input.time, () => aws4.sign(request, { accessKeyId: input.accessKeyId, secretAccessKey: input.secret }));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers ?? {})) out[name.toLowerCase()] = String(value);
  if (input.unsignedDate) out['x-amz-date'] = amzDate;
  const [rawPath, query = ''] = path.split('?') as [string, string?];
  return { method: request.method, path: rawPath, query, headers: out, body: typeof body === 'string' ? Buffer.from(body) : body };
}

import tls from 'node:tls';
import { Agent, request } from 'undici';
import { signRequest } from '../auth/sigv4-sign.ts';
import { XKS_SIGV4_SERVICE } from '../server/app.ts';

/** The credential and scope KMS signs with. */
export interface SigningIdentity {
  accessKeyId: string;
  secret: string;
  region: string;
}

/** What came back from one signed call. */
export interface XksCallResult {
  status: number;
  /** Parsed JSON body, or undefined when the body was not JSON. */
  json: Record<string, unknown> | undefined;
  /** The first 200 characters of a body that was not JSON. */
  text: string;
  contentType: string;
  elapsedMs: number;
  /** The Date header of the answer (the server's clock), if any. */
  date: Date | undefined;
}

/**
 * An HTTPS client that trusts the public roots plus any extra (private) CA certificates,
 * and presents the client certificate, when given, on every connection (mTLS, as KMS does).
 */
export function endpointAgent(extraCaPem: readonly string[] = [], client?: { clientCert: Buffer; clientKey: Buffer }): Agent {
  return new Agent({
    connect: { ca: [...tls.rootCertificates, ...extraCaPem], ...(client !== undefined ? { cert: client.clientCert, key: client.clientKey } : {}) },
    keepAliveTimeout: 1000,
  });
}

/**
 * POSTs one XKS request the way KMS sends it: JSON body, SigV4 over `host` and
 * `x-amz-date` (the spec's minimum signed headers) with service `kms-xks-proxy`.
 * `now` is the signing time, so a test can sign with a skewed clock.
 */
export async function signedXksCall(
  url: URL,
  body: Record<string, unknown>,
  who: SigningIdentity,
  opts: { agent: Agent; now?: Date; timeoutMs?: number },
): Promise<XksCallResult> {
  const payload = JSON.stringify(body);
  const signed = signRequest({
    method: 'POST',
    url,
    body: payload,
    region: who.region,
    service: XKS_SIGV4_SERVICE,
    accessKeyId: who.accessKeyId,
    secret: who.secret,
    now: opts.now ?? new Date(),
  });
  const started = performance.now();
  const res = await request(url, {
    method: 'POST',
    dispatcher: opts.agent,
    headers: { 'content-type': 'application/json', authorization: signed.authorization, 'x-amz-date': signed['x-amz-date'] },
    body: payload,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
  });
  const text = await res.body.text();
  const elapsedMs = Math.round((performance.now() - started) * 10) / 10;
  const header = (name: string) => {
    const value = res.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  const dateHeader = header('date');
  const date = dateHeader === undefined ? undefined : new Date(dateHeader);
  return {
    status: res.statusCode,
    json,
    text: json === undefined ? text.slice(0, 200) : '',
    contentType: header('content-type') ?? '',
    elapsedMs,
    date: date !== undefined && !Number.isNaN(date.getTime()) ? date : undefined,
  };
}

import { Pool } from 'undici';
import { signRequest } from '../../auth/sigv4-sign.ts';
import type { CallContext } from '../../xks/key-provider-port.ts';
import { UpstreamFault } from './upstream-fault.ts';

/** TLS material for connections to an upstream (all optional: public CAs, no client certificate). */
export interface UpstreamTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  servername?: string;
}

/** The SigV4 credential the upstream issued to this proxy. */
export interface UpstreamCredential {
  accessKeyId: string;
  /** Kept as bytes so it never turns up in a string dump; zeroed on close. */
  secret: Buffer;
  region: string;
}

/** Everything one endpoint's client needs. */
export interface UpstreamClientOptions {
  /** http(s)://host[:port] */
  origin: string;
  credential: UpstreamCredential;
  tls?: UpstreamTlsMaterial;
  connections: number;
  keepAliveTimeoutMs: number;
  connectTimeoutMs: number;
  maxResponseBytes: number;
  /** Signing clock (tests pass a fixed one). */
  now?: () => Date;
}

/** An HTTP answer from an upstream; `json` is undefined when the body is not JSON. */
export interface UpstreamReply {
  status: number;
  json: unknown;
}

/** SigV4 service name of the XKS API (spec "Authentication"); the upstream verifies it. */
const XKS_SERVICE = 'kms-xks-proxy';

// undici error codes that mean the answer did not come in time.
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * One upstream XKS endpoint: a keep-alive HTTP/1.1 connection pool (undici) and the
 * re-signing of each request with the upstream's own SigV4 credential. Transport failures
 * become UpstreamFault (timeout / unreachable / malformed); HTTP answers are returned as
 * they are, for the caller to interpret.
 */
export class UpstreamClient {
  readonly #pool: Pool;
  readonly #host: string;
  readonly #now: () => Date;
  readonly #options: UpstreamClientOptions;

  constructor(options: UpstreamClientOptions) {
    this.#options = options;
    const url = new URL(options.origin);
    this.#host = url.host;
    this.#now = options.now ?? (() => new Date());
    const tls = options.tls;
    this.#pool = new Pool(url.origin, {
      connections: options.connections,
      // HTTP/1.1, one request per connection at a time: a slow answer never holds up another.
      pipelining: 1,
      allowH2: false,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      maxResponseSize: options.maxResponseBytes,
      connect:
        url.protocol === 'https:' && tls !== undefined
          ? {
              ca: tls.ca,
              cert: tls.cert,
              key: tls.key,
              passphrase: tls.passphrase,
              minVersion: tls.minVersion,
              servername: tls.servername,
              rejectUnauthorized: true,
            }
          : undefined,
    });
  }

  /** POSTs a JSON body to `path`, signed for the upstream; bounded by the attempt's deadline. */
  async post(path: string, body: unknown, ctx: CallContext): Promise<UpstreamReply> {
    const remaining = ctx.deadline - Date.now();
    if (remaining <= 0 || ctx.signal.aborted) {
      throw new UpstreamFault(
        'timeout',
        'DependencyTimeoutException',
        'No time was left in the request budget to call the upstream XKS proxy.',
        'no time left before the call',
      );
    }
    const text = JSON.stringify(body);
    const headers: Record<string, string> = { host: this.#host, 'content-type': 'application/json' };
    const signed = signRequest({
      method: 'POST',
      url: `${this.#options.origin.replace(/\/$/, '')}${path}`,
      headers,
      body: text,
      region: this.#options.credential.region,
      service: XKS_SERVICE,
      accessKeyId: this.#options.credential.accessKeyId,
      secret: this.#options.credential.secret,
      now: this.#now(),
    });

    // One controller ends the request at the attempt's deadline or when the request is given up.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), remaining);
    const onAbort = () => controller.abort();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await this.#pool.request({
        path,
        method: 'POST',
        // Not { ...headers, ...signed }: on Node 20 each such object gets a hidden class of
        // its own (docs/architecture.md, Conventions). The signature is already computed.
        headers: Object.assign(headers, signed),
        body: text,
        signal: controller.signal,
        headersTimeout: remaining,
        bodyTimeout: remaining,
      });
      const raw = await res.body.text();
      return { status: res.statusCode, json: parseJson(raw) };
    } catch (e) {
      throw transportFault(e, controller.signal.aborted);
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Closes idle connections and waits for in-flight requests; then zeroes the secret. */
  async close(): Promise<void> {
    await this.#pool.close();
    this.#options.credential.secret.fill(0);
  }
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

/** Maps an undici / socket error to a fault; the message names the cause, never request data. */
function transportFault(e: unknown, aborted: boolean): UpstreamFault {
  const code = (e as { code?: unknown }).code;
  const message = e instanceof Error ? e.message : String(e);
  if (aborted || (typeof code === 'string' && TIMEOUT_CODES.has(code))) {
    return new UpstreamFault(
      'timeout',
      'DependencyTimeoutException',
      'The upstream XKS proxy did not answer within the request budget.',
      `timeout (${typeof code === 'string' ? code : 'deadline'})`,
    );
  }
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new UpstreamFault('malformed', 'InternalException', 'The upstream XKS proxy returned an oversized answer.', 'response larger than maxResponseBytes');
  }
  const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = [typeof code === 'string' ? code : undefined, message, typeof cause?.code === 'string' ? cause.code : undefined].filter(Boolean).join(': ');
  return new UpstreamFault('unreachable', 'InternalException', 'The upstream XKS proxy could not be reached.', `unreachable: ${detail}`);
}

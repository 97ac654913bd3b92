/** A small HTTP(S) client over an undici Pool: raw requests, raw answers. */
import { Pool } from 'undici';
import type { AnsweredOperation } from './answer-values.ts';
import type { ConformanceTls } from './options.ts';

/** One HTTP answer, with the body both as text and (when it parses) as JSON. */
export interface HttpAnswer {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
  /** Wall time from sending to the end of the body, ms. */
  latencyMs: number;
  /**
   * The XKS operation and the (parsed) request body this answers, set by XksClient for
   * calls to the configured key store, so every 200 can be checked for its values.
   */
  answers?: { operation: AnsweredOperation; request: unknown };
}

/** One request as sent on the wire. */
export interface HttpRequest {
  method: string;
  path: string;
  /** An array value sends the header once per element (e.g. two Authorization headers). */
  headers: Record<string, string | string[]>;
  body?: string;
}

/** Options of the connection pool. */
export interface HttpClientOptions {
  tls: ConformanceTls;
  timeoutMs: number;
  connections?: number;
}

/** Sends requests to one origin; keep one per run and close it at the end. */
export class HttpClient {
  readonly origin: string;
  readonly host: string;
  readonly #pool: Pool;

  constructor(origin: string, options: HttpClientOptions) {
    const url = new URL(origin);
    this.origin = url.origin;
    this.host = url.host;
    this.#pool = new Pool(this.origin, {
      connections: options.connections ?? 8,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect:
        url.protocol === 'https:'
          ? {
              ca: options.tls.ca,
              cert: options.tls.cert,
              key: options.tls.key,
              rejectUnauthorized: !options.tls.insecure,
            }
          : {},
    });
  }

  /** Sends one request and reads the whole answer. Network failures reject. */
  async send(req: HttpRequest): Promise<HttpAnswer> {
    const started = performance.now();
    const res = await this.#pool.request({
      method: req.method,
      path: req.path,
      headers: req.headers,
      body: req.body,
    });
    const text = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: res.statusCode, headers, text, json: parseJson(text), latencyMs: performance.now() - started };
  }

  /** Closes all connections. */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

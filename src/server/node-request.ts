/**
 * The request as Node received it, under the Hono context: the raw path and query (SigV4
 * signs them before any normalisation), the headers for SigV4, the HTTP/2 authority and
 * the connection. On @hono/node-server the context's env carries Node's request
 * (`incoming`); reading it directly avoids building Fetch objects (a URL, a Headers) that
 * the proxy does not otherwise need. Without it (tests calling `app.fetch` with a plain
 * Request) every function falls back to the Fetch request.
 */
import type { Context } from 'hono';
import type { HeaderMap } from '../auth/sigv4-canonical.ts';
import { STREAM_CONNECTION } from './http2-guard.ts';

/** What the proxy reads of Node's IncomingMessage (or Http2ServerRequest). */
interface NodeIncoming {
  url?: string;
  httpVersionMajor?: number;
  headers?: Record<string, unknown>;
  rawHeaders?: string[];
  socket?: object;
  stream?: { [STREAM_CONNECTION]?: object };
}

/** Node's raw request, when the app runs on @hono/node-server. */
function nodeIncoming(c: Context): NodeIncoming | undefined {
  return (c.env as { incoming?: NodeIncoming } | undefined)?.incoming;
}

/** The path exactly as received, without the query. */
export function rawRequestPath(c: Context): string {
  const url = nodeIncoming(c)?.url;
  if (typeof url === 'string' && url.startsWith('/')) {
    const q = url.indexOf('?');
    return q === -1 ? url : url.slice(0, q);
  }
  const full = c.req.url;
  const start = full.indexOf('/', full.indexOf('//') + 2);
  const end = full.indexOf('?', start);
  return start === -1 ? '/' : end === -1 ? full.slice(start) : full.slice(start, end);
}

/** The query string as received, without '?' ('' when there is none). */
export function rawQuery(c: Context): string {
  const url = nodeIncoming(c)?.url ?? c.req.url;
  const q = url.indexOf('?');
  return q === -1 ? '' : url.slice(q + 1);
}

/**
 * The Content-Length header as received (null without one). Read from Node's own header
 * object, which its HTTP parser has checked (one value, digits); the Fetch view's lookup
 * copies the raw header list first.
 */
export function declaredContentLength(c: Context): string | null {
  const headers = nodeIncoming(c)?.headers;
  if (headers === undefined) return c.req.raw.headers.get('content-length');
  const value = headers['content-length'];
  return typeof value === 'string' ? value : null;
}

/**
 * The request headers for SigV4 as Fetch Headers would give them (lower-case names,
 * repeated headers joined with ", ", values trimmed of HTTP whitespace), read straight
 * from Node's raw header list when there is one (building a Fetch Headers object for this
 * is measurable per request, docs/performance.md). Over HTTP/2 the host is under
 * `:authority`, which is put under `host`: that is what the client signed as host.
 *
 * Over HTTP/1.1 with no header repeated, Node's own header object (which its server has
 * built by then) is that same map, so it is used as it is. A repeated header is where the
 * two differ (Node keeps only the first of some, such as Authorization and Host, and joins
 * cookies with "; "), so then the map is built here. Node's object has a prototype: the
 * verifier reads it with `headerValue` (own entries only).
 */
export function sigV4Headers(c: Context): HeaderMap {
  const incoming = nodeIncoming(c);
  const raw = incoming?.rawHeaders;
  const parsed = incoming?.headers;
  if (raw !== undefined && parsed !== undefined && incoming!.httpVersionMajor === 1 && Object.keys(parsed).length * 2 === raw.length) {
    return parsed as HeaderMap;
  }
  // A null prototype: header names come from the client (e.g. "__proto__").
  const headers = Object.create(null) as Record<string, string | undefined>;
  if (raw === undefined) {
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value;
    });
  } else {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (name.startsWith(':')) continue; // HTTP/2 pseudo-headers are not headers
      const value = trimHttpWhitespace(raw[i + 1]!);
      const seen = headers[name];
      headers[name] = seen === undefined ? value : `${seen}, ${value}`;
    }
  }
  if (headers.host === undefined) {
    const authority = incoming?.headers?.[':authority'];
    headers.host = typeof authority === 'string' ? authority : new URL(c.req.url).host;
  }
  return headers;
}

/**
 * The connection a request came on (the TCP socket, or the HTTP/2 session's), for
 * counting per connection; undefined when the app is not served by Node.
 */
export function requestConnection(c: Context): object | undefined {
  const incoming = nodeIncoming(c);
  return incoming?.stream === undefined ? incoming?.socket : incoming.stream[STREAM_CONNECTION];
}

function trimHttpWhitespace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isHttpWhitespace(value.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function isHttpWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

import http2 from 'node:http2';
import { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ServerLimits } from '../config/schema.ts';
import { ThrottledWarning } from './throttled-warning.ts';

/** Streams a client may reset on one connection before the connection counts as abusive. */
const RESET_FLOOD_THRESHOLD = 100;
/**
 * Streams of one connection that end in a protocol error before the connection is
 * destroyed. nghttp2 closes streams with PROTOCOL_ERROR for malformed requests, and
 * every stream with it once it has ended a session for abuse (a rapid-reset flood,
 * CVE-2023-44487). After such a GOAWAY Node stops reading the socket, so the session
 * never notices its client is gone: the connection (and its file descriptor) would stay
 * open for good. Destroying it here releases it.
 */
const PROTOCOL_ERRORS_BEFORE_DESTROY = 10;
/** Once an idle session was asked to close (GOAWAY), how long it may take before it is destroyed. */
const CLOSE_GRACE_MS = 1000;
/** Expired streams cancelled per turn of the event loop. */
const CANCEL_BATCH = 200;
/** How often streams are checked against requestReceiveTimeoutMs. */
const SWEEP_INTERVAL_MS = 1000;

/**
 * The HTTP/2 session options and SETTINGS the listener advertises. Node's defaults let one
 * connection open 4,294,967,295 streams: a single unauthenticated client with 10,000-20,000
 * streams delayed other clients' requests by seconds. KMS sends one small request per
 * stream, so a few hundred concurrent streams per connection are plenty.
 */
export function http2SessionOptions(limits: ServerLimits): http2.SecureServerOptions {
  return {
    settings: {
      maxConcurrentStreams: limits.http2MaxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderBytes,
      enablePush: false,
    },
    maxHeaderListPairs: limits.maxHeaderCount,
    // Node's defaults, written out so they are visible: a SETTINGS frame with more than
    // 32 entries, more than 10 unanswered PINGs or SETTINGS, or a session holding more than
    // 10 MB (streams, header tables, queued data) is refused by nghttp2.
    maxSettings: 32,
    maxOutstandingPings: 10,
    maxOutstandingSettings: 10,
    maxSessionMemory: 10,
    // A client opening streams past maxConcurrentStreams gets REFUSED_STREAM; after this
    // many (or this many invalid frames) the session is closed (ENHANCE_YOUR_CALM).
    maxSessionRejectedStreams: 100,
    maxSessionInvalidFrames: 100,
    // A TLS client that negotiated no known protocol is dropped this soon.
    unknownProtocolTimeout: limits.handshakeTimeoutMs,
  } as http2.SecureServerOptions;
}

/**
 * Set on each HTTP/2 stream: its connection (session). `stream.session` is gone once the
 * stream is destroyed, and the app needs the connection after a reset to count aborts per
 * connection (src/server/app.ts).
 */
export const STREAM_CONNECTION = Symbol('xks.http2.connection');

/** What one HTTP/2 connection did, for the single line logged when it was abusive. */
interface SessionStats {
  streams: number;
  resetByClient: number;
  timedOut: number;
  protocolErrors: number;
  errorCode?: string;
}

/**
 * Watches HTTP/2 sessions: closes streams whose request has not fully arrived within
 * `requestReceiveTimeoutMs` (HTTP/2 has no equivalent of Node's HTTP/1.1 requestTimeout),
 * closes idle sessions after `idleTimeoutMs`, and logs an abusive connection (a stream
 * reset flood, streams that never finished, a session nghttp2 ended for misbehaving)
 * once, when it ends, not once per stream.
 */
export class Http2Guard {
  readonly #limits: ServerLimits;
  readonly #abuse: ThrottledWarning;
  readonly #slow: ThrottledWarning;
  /** Streams whose request is still arriving, in arrival order, with their start time. */
  readonly #receiving = new Map<http2.ServerHttp2Stream, number>();
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(limits: ServerLimits, logger: Logger) {
    this.#limits = limits;
    this.#abuse = new ThrottledWarning(logger, 'HTTP/2 connection closed after abuse (stream resets, unfinished requests or protocol errors)');
    this.#slow = new ThrottledWarning(logger, 'HTTP/2 request not received in time: stream cancelled (server.limits.requestReceiveTimeoutMs)');
  }

  /** Attaches to an HTTP/2 server before it listens. */
  attach(server: http2.Http2SecureServer): void {
    // Session idle timeout: with a 'timeout' listener Node leaves the decision to us.
    server.setTimeout(this.#limits.idleTimeoutMs, (session?: http2.Http2Session | Socket) => {
      if (session === undefined || session.destroyed) return;
      // The HTTP/1.1 fallback reports its idle sockets here too: close them, as Node does
      // when nobody listens for 'timeout'.
      if (session instanceof Socket) {
        session.destroy();
        return;
      }
      // GOAWAY first, so a client (KMS) opens a new connection for its next request
      // instead of racing the close; destroyed if it does not finish closing.
      session.close();
      setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref();
    });
    server.on('session', (session: http2.ServerHttp2Session) => this.#watch(session));
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS).unref();
    server.once('close', () => clearInterval(this.#sweeper));
  }

  #watch(session: http2.ServerHttp2Session): void {
    const stats: SessionStats = { streams: 0, resetByClient: 0, timedOut: 0, protocolErrors: 0 };
    const remoteAddress = session.socket?.remoteAddress;
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      stats.streams++;
      this.#receiving.set(stream, Date.now());
      stream.once('aborted', () => stats.resetByClient++);
      stream.once('close', () => {
        this.#receiving.delete(stream);
        if (stream.rstCode === http2.constants.NGHTTP2_PROTOCOL_ERROR || stream.rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM) {
          stats.protocolErrors++;
          if (stats.protocolErrors === PROTOCOL_ERRORS_BEFORE_DESTROY && !session.destroyed) session.destroy();
        }
      });
      (stream as { xksStats?: SessionStats }).xksStats = stats;
      (stream as { [STREAM_CONNECTION]?: object })[STREAM_CONNECTION] = session;
    });
    session.once('error', (err: Error & { code?: string }) => {
      stats.errorCode = err.code ?? err.message;
    });
    session.once('close', () => {
      if (stats.resetByClient >= RESET_FLOOD_THRESHOLD || stats.timedOut > 0 || stats.protocolErrors > 0 || stats.errorCode !== undefined) {
        this.#abuse.hit({ remoteAddress, ...stats });
      }
    });
  }

  /**
   * Cancels streams whose request body is still incomplete after requestReceiveTimeoutMs,
   * at most CANCEL_BATCH at a time with a turn of the event loop between batches: a flood
   * of thousands of held streams expires all at once, and cancelling them in one go (each
   * ends a request in the app) held other clients' requests up for a second or more.
   */
  #sweep(): void {
    if (this.#sweeping) return;
    const cutoff = Date.now() - this.#limits.requestReceiveTimeoutMs;
    const expired: http2.ServerHttp2Stream[] = [];
    for (const [stream, started] of this.#receiving) {
      if (started > cutoff) break; // in arrival order: the rest are younger
      this.#receiving.delete(stream);
      expired.push(stream);
    }
    if (expired.length === 0) return;
    this.#sweeping = true;
    const cancelFrom = (start: number): void => {
      for (const stream of expired.slice(start, start + CANCEL_BATCH)) this.#cancel(stream);
      if (start + CANCEL_BATCH < expired.length) setImmediate(cancelFrom, start + CANCEL_BATCH);
      else this.#sweeping = false;
    };
    cancelFrom(0);
  }

  #cancel(stream: http2.ServerHttp2Stream): void {
    if (stream.destroyed || stream.closed) return;
    // Request fully received (END_STREAM seen): the app owns it now and answers within its own budget.
    if (stream.state?.remoteClose === 1) return;
    const stats = (stream as { xksStats?: SessionStats }).xksStats;
    if (stats !== undefined) stats.timedOut++;
    this.#slow.hit({ remoteAddress: stream.session?.socket?.remoteAddress, requestReceiveTimeoutMs: this.#limits.requestReceiveTimeoutMs });
    stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}

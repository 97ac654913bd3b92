/**
 * One persistent TLS connection to a KMIP server carrying one request at a time. KMIP over
 * TLS (KMIP profiles 1.4 section 3.1 "Basic Authentication Suite") has no framing beyond
 * TTLV itself: a response is one Response Message whose 8-byte header gives its length.
 * A request that times out or is aborted destroys the connection, because its late answer
 * would otherwise be read as the answer to the next request.
 */
import tls from 'node:tls';
import { isIP } from 'node:net';
import { ttlvItemSize } from './ttlv-decode.ts';
import { KmipProtocolError } from './ttlv-item.ts';

/** Where one KMIP server listens. */
export interface KmipEndpoint {
  host: string;
  port: number;
  /** Name to verify in the server certificate when it differs from `host`. */
  serverName?: string | undefined;
}

/** The client side of mutual TLS, loaded from the config's PEM files. */
export interface KmipTlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  passphrase?: string | undefined;
  minVersion: tls.SecureVersion;
}

/** The server could not be reached or the connection broke; another server may work. */
export class KmipConnectionError extends Error {
  /** Errno or TLS error code when known (ECONNREFUSED, CERT_HAS_EXPIRED, ...). */
  readonly code: string | undefined;
  constructor(message: string, code?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KmipConnectionError';
    this.code = code;
  }
}

/** The deadline passed (or the call was aborted) before the server answered. */
export class KmipTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KmipTimeoutError';
  }
}

interface Pending {
  resolve: (response: Buffer) => void;
  reject: (error: Error) => void;
}

/** Largest keep-alive probe delay: finds half-open connections to a crashed server. */
const KEEPALIVE_DELAY_MS = 15_000;

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Runs `onExpire` at `deadline` or when `signal` aborts; returns a canceller. */
function watchDeadline(deadline: number, signal: AbortSignal | undefined, onExpire: (why: string) => void): () => void {
  const timer = setTimeout(() => onExpire('deadline passed'), Math.max(0, deadline - Date.now()));
  const onAbort = (): void => onExpire('call aborted');
  signal?.addEventListener('abort', onAbort, { once: true });
  return () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
}

/** A TLS connection to one KMIP server. */
export class KmipConnection {
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  #expected: number | undefined;
  #pending: Pending | undefined;
  #closed = false;
  readonly #closeListeners: Array<() => void> = [];
  /** Number of completed round trips; a used connection may have gone stale while idle. */
  roundTrips = 0;
  readonly #socket: tls.TLSSocket;
  readonly #maxResponseBytes: number;

  private constructor(socket: tls.TLSSocket, maxResponseBytes: number) {
    this.#socket = socket;
    this.#maxResponseBytes = maxResponseBytes;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (e: Error) => this.#fail(new KmipConnectionError(`connection error: ${e.message}`, errorCode(e), { cause: e })));
    socket.on('close', () => this.#fail(new KmipConnectionError('connection closed by the server', 'KMIP_CONNECTION_CLOSED')));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
  }

  /** Opens and authenticates a connection (mutual TLS, TLS 1.2+) before `deadline`. */
  static open(
    endpoint: KmipEndpoint,
    material: KmipTlsMaterial,
    deadline: number,
    signal: AbortSignal | undefined,
    maxResponseBytes: number,
  ): Promise<KmipConnection> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new KmipTimeoutError('call aborted before connecting'));
        return;
      }
      const name = endpoint.serverName ?? endpoint.host;
      const socket = tls.connect({
        host: endpoint.host,
        port: endpoint.port,
        // SNI must not be an IP address (RFC 6066 section 3); identity checks still use `name`.
        servername: isIP(name) === 0 ? name : undefined,
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
        ca: material.ca,
        cert: material.cert,
        key: material.key,
        passphrase: material.passphrase,
        minVersion: material.minVersion,
        rejectUnauthorized: true,
      });
      const cancel = watchDeadline(deadline, signal, (why) => {
        socket.destroy();
        reject(new KmipTimeoutError(`connecting to ${endpoint.host}:${endpoint.port}: ${why}`));
      });
      socket.once('secureConnect', () => {
        cancel();
        socket.removeAllListeners('error');
        resolve(new KmipConnection(socket, maxResponseBytes));
      });
      socket.once('error', (e: Error) => {
        cancel();
        socket.destroy();
        reject(new KmipConnectionError(`cannot connect to ${endpoint.host}:${endpoint.port}: ${e.message}`, errorCode(e), { cause: e }));
      });
    });
  }

  /** True until the connection closes or fails. */
  get alive(): boolean {
    return !this.#closed;
  }

  /** Calls `listener` once when the connection closes for any reason. */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.push(listener);
  }

  /** Sends one encoded Request Message and resolves with the encoded Response Message. */
  roundTrip(request: Uint8Array, deadline: number, signal: AbortSignal | undefined): Promise<Buffer> {
    if (this.#pending !== undefined) return Promise.reject(new Error('KmipConnection: a request is already in flight'));
    if (this.#closed) return Promise.reject(new KmipConnectionError('connection is closed', 'KMIP_CONNECTION_CLOSED'));
    if (signal?.aborted) return Promise.reject(new KmipTimeoutError('call aborted'));
    return new Promise<Buffer>((resolve, reject) => {
      const cancel = watchDeadline(deadline, signal, (why) => {
        this.#fail(new KmipTimeoutError(`no KMIP response: ${why}`));
      });
      this.#pending = {
        resolve: (response) => {
          cancel();
          this.roundTrips++;
          resolve(response);
        },
        reject: (error) => {
          cancel();
          reject(error);
        },
      };
      this.#socket.write(request);
    });
  }

  /** Closes the connection; a request in flight fails. */
  destroy(): void {
    this.#fail(new KmipConnectionError('connection closed by the client', 'KMIP_CONNECTION_CLOSED'));
  }

  #onData(chunk: Buffer): void {
    if (this.#pending === undefined) {
      // One request in flight: bytes nobody asked for mean the stream is out of step.
      this.#fail(new KmipProtocolError('unsolicited data from the KMIP server'));
      return;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#expected === undefined && this.#buffered >= 8) {
      const head = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
      this.#expected = ttlvItemSize(head);
      if (this.#expected > this.#maxResponseBytes) {
        this.#fail(new KmipProtocolError(`KMIP response of ${this.#expected} bytes exceeds the limit of ${this.#maxResponseBytes}`));
        return;
      }
    }
    if (this.#expected === undefined || this.#buffered < this.#expected) return;
    if (this.#buffered > this.#expected) {
      this.#fail(new KmipProtocolError('KMIP server sent more than one response'));
      return;
    }
    const response = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks.length = 0;
    this.#buffered = 0;
    this.#expected = undefined;
    const pending = this.#pending;
    this.#pending = undefined;
    pending.resolve(response);
  }

  #fail(error: Error): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (!this.#closed) {
      this.#closed = true;
      this.#socket.destroy();
      this.#chunks.length = 0;
      for (const listener of this.#closeListeners.splice(0)) listener();
    }
    pending?.reject(error);
  }
}

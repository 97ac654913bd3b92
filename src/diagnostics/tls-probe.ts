import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';

/** Where to connect and what to offer. */
export interface TlsProbeTarget {
  host: string;
  port: number;
  /** SNI name to send (the public name KMS uses); none for an IP. */
  servername?: string;
  /** Client certificate and key (PEM) for a listener that requires mTLS. */
  clientCert?: Buffer;
  clientKey?: Buffer;
  timeoutMs?: number;
}

/** What one handshake showed. */
export interface TlsProbeResult {
  protocol: string;
  cipher: string;
  /** The certificates the server sent, leaf first, ordered by issuance. */
  chain: X509Certificate[];
}

/** Extra handshake limits for the cipher-suite probes. */
export interface TlsProbeOffer {
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** OpenSSL TLS 1.2 cipher list. */
  ciphers?: string;
  /** TLS 1.3 suites. */
  ciphersuites?: string;
}

/**
 * A CA store that trusts nothing real: with it Node cannot append a root of its own to
 * the peer chain (it does so from the client's store), so `getPeerCertificate(true)` shows
 * exactly what the server sent. Verification is done by the doctor, not by the socket.
 */
const NOTHING_TRUSTED: string[] = [];

/**
 * The options both probes connect with: they look at what the server does, so nothing is
 * verified by the socket (see NOTHING_TRUSTED), HTTP/1.1 is offered, and SNI is sent only
 * for a name.
 */
function inspectingConnection(target: TlsProbeTarget): tls.ConnectionOptions {
  return {
    host: target.host,
    port: target.port,
    rejectUnauthorized: false,
    ca: NOTHING_TRUSTED,
    ALPNProtocols: ['http/1.1'],
    ...(target.servername !== undefined && !isIpAddress(target.servername) ? { servername: target.servername } : {}),
  };
}

/**
 * Connects, completes the handshake and returns the protocol, cipher and the chain as
 * sent. Certificate problems do not stop it (they are what the doctor reports); a refused
 * connection or handshake rejects with the socket error.
 */
export function probeTls(target: TlsProbeTarget, offer: TlsProbeOffer = {}): Promise<TlsProbeResult> {
  const timeoutMs = target.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions = {
      ...inspectingConnection(target),
      ...(target.clientCert !== undefined ? { cert: target.clientCert, key: target.clientKey } : {}),
      ...(offer.minVersion !== undefined ? { minVersion: offer.minVersion } : {}),
      ...(offer.maxVersion !== undefined ? { maxVersion: offer.maxVersion } : {}),
      ...(offer.ciphers !== undefined ? { ciphers: offer.ciphers } : {}),
      ...(offer.ciphersuites !== undefined ? { ciphersuites: offer.ciphersuites } : {}),
    };
    let settled = false;
    const socket = tls.connect(options, () => {
      settled = true;
      clearTimeout(timer);
      const result: TlsProbeResult = {
        protocol: socket.getProtocol() ?? 'unknown',
        cipher: socket.getCipher()?.standardName ?? socket.getCipher()?.name ?? 'unknown',
        chain: sentChain(socket.getPeerCertificate(true)),
      };
      socket.destroy();
      resolve(result);
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(Object.assign(new Error(`no TLS handshake with ${target.host}:${target.port} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.on('error', (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Walks Node's issuer links (leaf first) into X509Certificate objects, stopping at a self-signed one. */
function sentChain(leaf: tls.DetailedPeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let current: tls.DetailedPeerCertificate | undefined = leaf;
  while (current !== undefined && current.raw !== undefined && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}

/** True for an IPv4 or IPv6 literal (SNI must not carry one, RFC 6066). */
export function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

const CLOSED_AFTER_HANDSHAKE = 'the server closed the connection right after the TLS handshake without answering (no client certificate was offered)';

/** OpenSSL error codes of a server that wanted a client certificate and got none. */
const CERT_REQUIRED_ALERT = 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED';
const HANDSHAKE_FAILURE_ALERT = 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE';

/** True for the TLS alerts a server sends when it requires a client certificate (TLS 1.3: certificate_required; TLS 1.2: handshake_failure). */
export function isClientCertAlert(e: unknown): boolean {
  const code = String((e as NodeJS.ErrnoException | undefined)?.code ?? '');
  return code === CERT_REQUIRED_ALERT || code === HANDSHAKE_FAILURE_ALERT;
}

/**
 * Whether the server demands a client certificate (mTLS), seen as a client without one:
 * - `required`: TLS 1.3 certificate_required alert after the handshake (alert 116), or a
 *   TLS 1.3 server that closes the connection right after it without answering;
 * - `not-required`: the server answered an HTTP request;
 * - `unknown`: anything else (the error is in `detail`).
 * An HTTP client such as undici only reports "other side closed" for the TLS 1.3 case, so
 * the doctor asks this way to say "this endpoint requires a client certificate".
 */
export function probeClientCertRequirement(target: TlsProbeTarget): Promise<{ verdict: 'required' | 'not-required' | 'unknown'; detail: string }> {
  const timeoutMs = target.timeoutMs ?? 5000;
  return new Promise((resolve) => {
    let done = false;
    let secured = false;
    const finish = (verdict: 'required' | 'not-required' | 'unknown', detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ verdict, detail });
    };
    const socket = tls.connect(inspectingConnection(target), () => {
      secured = true;
      // The server reads the client's (empty) Certificate message only now; a request makes it answer or alert.
      socket.write(`GET /ping HTTP/1.1\r\nHost: ${target.servername ?? target.host}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', () => finish('not-required', 'the server answered without a client certificate'));
    socket.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === CERT_REQUIRED_ALERT) finish('required', 'TLS alert 116 certificate_required');
      else if (code === HANDSHAKE_FAILURE_ALERT) finish('required', 'TLS alert 40 handshake_failure when no client certificate is offered');
      else if (secured && code === 'ECONNRESET') finish('required', CLOSED_AFTER_HANDSHAKE);
      else finish('unknown', `${(e as Error).message.split('\n')[0]}`);
    });
    // xks-proxy itself checks the client certificate as the handshake completes and closes
    // the connection when there is none (src/server/client-cert-guard.ts), so it can log why.
    socket.on('close', () => (secured ? finish('required', CLOSED_AFTER_HANDSHAKE) : finish('unknown', 'the server closed the connection without answering')));
    const timer = setTimeout(() => finish('unknown', `no answer within ${timeoutMs} ms`), timeoutMs);
  });
}

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
 * Connects, completes the handshake and returns the protocol, cipher and the chain as
 * sent. Certificate problems do not stop it (they are what the doctor reports); a refused
 * connection or handshake rejects with the socket error.
 */
export function probeTls(target: TlsProbeTarget, offer: TlsProbeOffer = {}): Promise<TlsProbeResult> {
  const timeoutMs = target.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions = {
      host: target.host,
      port: target.port,
      rejectUnauthorized: false,
      ca: NOTHING_TRUSTED,
      ALPNProtocols: ['http/1.1'],
      ...(target.servername !== undefined && !isIpAddress(target.servername) ? { servername: target.servername } : {}),
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
    socket.on('error', (e) => {
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

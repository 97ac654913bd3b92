/** Raw TLS handshakes against the endpoint, to see which versions, suites and ALPN it allows. */
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import type { ConformanceTls } from './options.ts';

/** What one handshake attempt gave. */
export type TlsProbeResult = { ok: true; protocol: string; cipher: string; alpn: string | false } | { ok: false; error: string };

/** Knobs of one handshake attempt. */
export interface TlsProbeOptions {
  minVersion?: ConnectionOptions['minVersion'];
  maxVersion?: ConnectionOptions['maxVersion'];
  ciphers?: string;
  alpn?: string[];
  /** Present the client certificate of `tls` (default true when one is configured). */
  withClientCert?: boolean;
}

/** Performs one TLS handshake with `origin` and reports what was negotiated. */
export function probeTls(origin: string, tls: ConformanceTls, o: TlsProbeOptions = {}, timeoutMs = 5000): Promise<TlsProbeResult> {
  const url = new URL(origin);
  const withCert = o.withClientCert ?? true;
  return new Promise((resolve) => {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port || 443),
      servername: isIP(url.hostname) ? undefined : url.hostname,
      ca: tls.ca,
      cert: withCert ? tls.cert : undefined,
      key: withCert ? tls.key : undefined,
      rejectUnauthorized: !tls.insecure,
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
      ciphers: o.ciphers,
      ALPNProtocols: o.alpn,
    });
    const timer = setTimeout(() => finish({ ok: false, error: 'handshake timed out' }), timeoutMs);
    function finish(r: TlsProbeResult): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    }
    socket.once('secureConnect', () => {
      finish({ ok: true, protocol: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher().standardName, alpn: socket.alpnProtocol ?? false });
    });
    socket.once('error', (e: Error & { code?: string }) => finish({ ok: false, error: e.code ?? e.message }));
  });
}

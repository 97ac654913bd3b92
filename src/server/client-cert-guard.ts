import type { Server as HttpsServer } from 'node:https';
import type { Http2SecureServer } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

/** At most one warning per kind of rejection in this window; the next one counts the ones left out. */
const WARN_WINDOW_MS = 60_000;

/**
 * Rate limit per rejection kind (the verify error, "no client certificate", "subject"):
 * a bounded set of keys, so a client varying its certificate cannot grow the map.
 */
class RejectionWarnings {
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #logger: Logger;
  readonly #now: () => number;

  constructor(logger: Logger, now: () => number) {
    this.#logger = logger;
    this.#now = now;
  }

  warn(kind: string, fields: Record<string, unknown>): void {
    const now = this.#now();
    const seen = this.#last.get(kind);
    if (seen !== undefined && now - seen.at < WARN_WINDOW_MS) {
      seen.suppressed++;
      return;
    }
    this.#last.set(kind, { at: now, suppressed: 0 });
    const suppressed = seen?.suppressed ?? 0;
    this.#logger.warn(
      { ...fields, ...(suppressed > 0 ? { suppressedSinceLastWarning: suppressed } : {}), warnsAtMostEverySeconds: WARN_WINDOW_MS / 1000 },
      'mTLS client certificate rejected',
    );
  }
}

/**
 * mTLS client checks with reasons an operator can read (issue 21 item 10). The listener
 * asks for a certificate but lets OpenSSL finish the handshake (`rejectUnauthorized:
 * false`): with `true`, a certificate from an unknown CA or an expired one ends the
 * handshake with nothing on the server side but "socket hang up". Here every connection is
 * checked the moment its handshake completes, before any request is read (the spec
 * refuses such clients at the TLS layer: no request reaches the app), and destroyed when
 * the chain did not verify (Node's `authorizationError`: CERT_HAS_EXPIRED,
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...), there is no certificate, or the subject CN is
 * not the one configured. Each rejection is a rate-limited warn with the peer address,
 * the certificate's subject and issuer, and the reason.
 */
export function guardClientCertificates(server: HttpsServer | Http2SecureServer, opts: { requiredCn: string; logger: Logger; now?: () => number }): void {
  const warnings = new RejectionWarnings(opts.logger, opts.now ?? (() => Date.now()));
  // Prepended: the HTTP server's own handler (registered when the server was made) starts
  // reading requests from the socket; ours must destroy a rejected one before that, or a
  // request already in flight after the handshake would still be served (seen in tests).
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const cert = socket.getPeerCertificate();
    const hasCert = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
    const peer = { peerAddress: socket.remoteAddress, peerPort: socket.remotePort };
    if (!hasCert) {
      warnings.warn('none', { ...peer, verifyError: 'no client certificate', requiredCn: opts.requiredCn });
      socket.destroy();
      return;
    }
    const subject = cert.subject === undefined ? undefined : oneLine(cert.subject);
    const issuer = cert.issuer === undefined ? undefined : oneLine(cert.issuer);
    const details = { ...peer, clientSubject: subject, clientIssuer: issuer, validTo: cert.valid_to };
    if (!socket.authorized) {
      const error = String(socket.authorizationError ?? 'not authorized');
      warnings.warn(error, { ...details, verifyError: error });
      socket.destroy();
      return;
    }
    const cn = cert.subject?.CN;
    const names = Array.isArray(cn) ? cn : [cn];
    if (!names.includes(opts.requiredCn)) {
      warnings.warn('subject', { ...details, verifyError: `subject CN is not ${opts.requiredCn}`, requiredCn: opts.requiredCn });
      socket.destroy();
    }
  });
}

/** `{CN: "a", O: "b"}` as `CN=a, O=b`, short: it comes from the client. */
function oneLine(name: Record<string, unknown>): string {
  const text = Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
  return text.length > 256 ? `${text.slice(0, 256)}...` : text;
}

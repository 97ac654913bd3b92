import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Logger } from 'pino';
import type { FetchApp } from '../ops/in-flight.ts';
import type { ProxyConfig, ServerLimits } from '../config/schema.ts';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { ConnectionGuard, type RefusingLimit } from './connection-guard.ts';
import { adapterErrorResponse, handleClientError } from './http-refusals.ts';
import { Http2Guard, http2SessionOptions } from './http2-guard.ts';
import { guardClientCertificates } from './client-cert-guard.ts';

/**
 * TLS cipher suites offered for TLS 1.2: forward-secret AES-GCM and ChaCha20 only. They
 * include the two TLS 1.2 suites the spec names (ECDHE-RSA/ECDSA-AES256-GCM-SHA384);
 * TLS 1.3 suites are Node's defaults, which include TLS_AES_256_GCM_SHA384.
 */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** A running listener. */
export interface RunningListener {
  address: AddressInfo;
  /** "http" or "https". */
  scheme: 'http' | 'https';
  /** Connections open now (TCP, before or after TLS). */
  connections(): Promise<number>;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/**
 * Serves the app on plain HTTP, HTTPS, or HTTP/2 with HTTP/1.1 fallback, optionally with
 * mTLS, within `server.limits` (connections, headers, HTTP/2 streams, timeouts).
 */
export async function startListener(
  app: FetchApp,
  server: ProxyConfig['server'],
  opts: { logger: Logger; configDir: string; onConnectionRefused?: (limit: RefusingLimit) => void },
): Promise<RunningListener> {
  const { logger } = opts;
  const limits = server.limits;
  const handle = getRequestListener((request, env) => app.fetch(request, env), {
    // Requests the adapter cannot turn into a Request (backslash in the path, bad Host)
    // get the spec's JSON error, not an empty 400.
    errorHandler: (e) => adapterErrorResponse(e, logger),
  });
  // Node ignores a request listener's return value; the handler answers its own errors.
  const listener = (req: Parameters<typeof handle>[0], res: Parameters<typeof handle>[1]): void => void handle(req, res);
  const tls = server.tls;
  let nodeServer: http.Server | https.Server | http2.Http2SecureServer;
  const httpOptions = { maxHeaderSize: limits.maxHeaderBytes, requireHostHeader: true };
  if (tls === undefined) {
    nodeServer = http.createServer(httpOptions, listener);
  } else {
    const read = (file: string) => readFileSync(resolve(opts.configDir, file));
    const tlsOptions = {
      key: read(tls.key),
      cert: read(tls.cert),
      minVersion: 'TLSv1.2' as const,
      ciphers: TLS12_CIPHERS,
      // A connection that does not finish its handshake in time is closed (Node: 120 s).
      handshakeTimeout: limits.handshakeTimeoutMs,
      ...(tls.mtls === undefined
        ? {}
        : // Verified by guardClientCertificates as the handshake completes, so the log
          // can say why a certificate was refused (OpenSSL's own refusal says nothing).
          { ca: read(tls.mtls.clientCa), requestCert: true, rejectUnauthorized: false }),
    };
    let tlsServer: https.Server | http2.Http2SecureServer;
    if (server.http2) {
      const h2 = http2.createSecureServer({ ...tlsOptions, ...http2SessionOptions(limits), allowHTTP1: true }, listener);
      new Http2Guard(limits, logger).attach(h2);
      tlsServer = h2;
    } else {
      tlsServer = https.createServer({ ...tlsOptions, ...httpOptions }, listener);
    }
    const required = tls.mtls?.clientSubjectCn;
    if (required !== undefined) guardClientCertificates(tlsServer, { requiredCn: required, logger });
    nodeServer = tlsServer;
  }
  applyHttp1Limits(nodeServer, limits);
  const maxConnections = maxConnectionsInForce(limits.maxConnections, logger);
  new ConnectionGuard({ ...limits, maxConnections }, logger, opts.onConnectionRefused).attach(nodeServer);
  // Node's parser refusals (431, 400, 408) as the spec's JSON errors. On the HTTP/2 server
  // TLS handshake failures arrive here too (and tlsClientError below logs them).
  nodeServer.on('clientError', (err: Error, socket: Duplex) => handleClientError(err, socket, limits, logger));
  nodeServer.on('tlsClientError', (err: Error) => logger.debug({ err: err.message }, 'TLS handshake failed'));

  await new Promise<void>((resolveListen, reject) => {
    nodeServer.once('error', reject);
    nodeServer.listen(server.port, server.host, () => {
      nodeServer.off('error', reject);
      resolveListen();
    });
  });
  const address = nodeServer.address() as AddressInfo;
  return {
    address,
    scheme: tls === undefined ? 'http' : 'https',
    connections: () => new Promise((resolveCount, reject) => nodeServer.getConnections((err, n) => (err ? reject(err) : resolveCount(n)))),
    close: () => closeServer(nodeServer),
  };
}

/**
 * HTTP/1.1 timeouts (also for the HTTP/1.1 fallback of the HTTP/2 server, which reads the
 * same properties). Node's defaults let a silent connection live 60-90 s (headersTimeout
 * 60 s, checked every 30 s): thousands of them exhaust the file descriptors. KMS sends
 * a whole request in milliseconds, so seconds are generous. Node checks these every
 * `connectionsCheckingInterval`, so that is set to a second to enforce them on time.
 */
function applyHttp1Limits(server: http.Server | https.Server | http2.Http2SecureServer, limits: ServerLimits): void {
  const s = server as Partial<http.Server> & { maxHeaderSize?: number; connectionsCheckingInterval?: number };
  s.headersTimeout = limits.headersTimeoutMs;
  s.requestTimeout = limits.requestReceiveTimeoutMs;
  // Idle keep-alive connections: KMS reuses its connections while it has traffic; one idle
  // longer than this pays one TLS handshake when it comes back.
  s.keepAliveTimeout = limits.idleTimeoutMs;
  s.maxHeadersCount = limits.maxHeaderCount;
  s.maxHeaderSize = limits.maxHeaderBytes;
  s.connectionsCheckingInterval = 1000;
}

/**
 * Each connection is a file descriptor. A maxConnections above what the process may open
 * would let a flood exhaust descriptors (EMFILE: new connections, key manager sockets and
 * files fail, nothing is logged) before the limit is reached, so the limit in force is
 * lowered to the open-file limit minus room for the key managers, with a warning.
 */
export function effectiveMaxConnections(configured: number, openFiles: number | undefined): number {
  if (openFiles === undefined) return configured;
  return Math.max(1, Math.min(configured, openFiles - FD_HEADROOM));
}

function maxConnectionsInForce(configured: number, logger: Logger): number {
  const soft = openFileLimit();
  const inForce = effectiveMaxConnections(configured, soft);
  if (inForce < configured) {
    logger.warn(
      { maxConnections: configured, inForce, openFileLimit: soft },
      `server.limits.maxConnections lowered to the open-file limit minus ${FD_HEADROOM}: raise the limit (ulimit -n, LimitNOFILE) to allow more`,
    );
  }
  return inForce;
}

/** File descriptors kept for key manager connections, log and keystore files. */
const FD_HEADROOM = 256;

/** The soft RLIMIT_NOFILE of this process (Linux /proc), or undefined when unknown. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null || m[1] === 'unlimited' ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

function closeServer(server: http.Server | https.Server | http2.Http2SecureServer): Promise<void> {
  return new Promise((resolveClose) => {
    server.close(() => resolveClose());
    // Idle keep-alive connections would hold close() open; in-flight ones finish first.
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}

import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { getRequestListener } from '@hono/node-server';
import type { Logger } from 'pino';
import type { FetchApp } from '../ops/in-flight.ts';
import type { ProxyConfig } from '../config/schema.ts';
import { resolve } from 'node:path';

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
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/** Serves the app on plain HTTP, HTTPS, or HTTP/2 with HTTP/1.1 fallback, optionally with mTLS. */
export async function startListener(
  app: FetchApp,
  server: ProxyConfig['server'],
  opts: { logger: Logger; configDir: string },
): Promise<RunningListener> {
  const listener = getRequestListener((request, env) => app.fetch(request, env));
  const tls = server.tls;
  let nodeServer: http.Server | https.Server | http2.Http2SecureServer;
  if (tls === undefined) {
    nodeServer = http.createServer(listener);
  } else {
    const read = (file: string) => readFileSync(resolve(opts.configDir, file));
    const tlsOptions = {
      key: read(tls.key),
      cert: read(tls.cert),
      minVersion: 'TLSv1.2' as const,
      ciphers: TLS12_CIPHERS,
      ...(tls.mtls === undefined
        ? {}
        : { ca: read(tls.mtls.clientCa), requestCert: true, rejectUnauthorized: true }),
    };
    const tlsServer = server.http2
      ? http2.createSecureServer({ ...tlsOptions, allowHTTP1: true }, listener)
      : https.createServer(tlsOptions, listener);
    const required = tls.mtls?.clientSubjectCn;
    if (required !== undefined) enforceClientSubject(tlsServer, required, opts.logger);
    nodeServer = tlsServer;
  }
  // Keep-alive longer than the NLB's idle timeout (350 s) would hold sockets for nothing;
  // KMS reuses connections, so keep them for a while.
  if ('keepAliveTimeout' in nodeServer) nodeServer.keepAliveTimeout = 65_000;
  nodeServer.on('tlsClientError', (err: Error) => opts.logger.debug({ err: err.message }, 'TLS handshake failed'));

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
    close: () => closeServer(nodeServer),
  };
}

/**
 * The spec (mTLS) wants a client with the wrong subject refused at the TLS layer. Node
 * checks the chain during the handshake (rejectUnauthorized) but has no subject hook, so
 * the socket is destroyed as soon as the handshake completes, before any request is read.
 */
function enforceClientSubject(server: https.Server | http2.Http2SecureServer, requiredCn: string, logger: Logger): void {
  server.on('secureConnection', (socket: TLSSocket) => {
    const cn = socket.getPeerCertificate()?.subject?.CN;
    const names = Array.isArray(cn) ? cn : [cn];
    if (!names.includes(requiredCn)) {
      logger.warn({ clientCn: names.join(','), requiredCn }, 'mTLS client certificate subject rejected');
      socket.destroy();
    }
  });
}

function closeServer(server: http.Server | https.Server | http2.Http2SecureServer): Promise<void> {
  return new Promise((resolveClose) => {
    server.close(() => resolveClose());
    // Idle keep-alive connections would hold close() open; in-flight ones finish first.
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}

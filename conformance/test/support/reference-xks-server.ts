/** A small, correct XKS proxy for the harness's own tests, with switchable defects. */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer } from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Breakage } from './breakages.ts';
import { RefError, checkRequestMetadata, decrypt, encrypt, health, keyMetadata, makeReferenceKeys } from './reference-operations.ts';
import { VerifierBlewUp, verifySigV4 } from './reference-sigv4.ts';

/** The demo's values, which are also the harness defaults. */
export const REFERENCE_CREDENTIALS = {
  prefix: 'example/uri/path/prefix',
  accessKeyId: 'BETWEEN2TENAND3TENCHARACTERS',
  secretAccessKey: 'PleaseReplaceThisWithSomeSecretOfLength43To64',
  region: 'us-east-1',
};

/** PEM material to serve HTTPS (HTTP/2 with HTTP/1.1 fallback) and optionally require client certs. */
export interface ReferenceTls {
  cert: string;
  key: string;
  /** CA of client certificates; when set, mTLS is required. */
  clientCa?: string;
}

/** How to start the reference server. */
export interface ReferenceServerOptions {
  breakages?: Breakage[];
  tls?: ReferenceTls;
}

/** A running reference server. */
export interface ReferenceServer {
  /** Origin, e.g. http://127.0.0.1:40123. */
  endpoint: string;
  close(): Promise<void>;
}

const STATUS: Record<string, number> = {
  ValidationException: 400,
  InvalidCiphertextException: 400,
  InvalidKeyUsageException: 400,
  AuthenticationFailedException: 401,
  KeyNotFoundException: 404,
  InvalidUriPathException: 404,
  UnsupportedOperationException: 501,
  DependencyTimeoutException: 503,
  InternalException: 500,
};

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** Every value of a header as received, one per header line (rawHeaders keeps duplicates). */
function rawHeaderValues(req: Req, name: string): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

/** Starts the server on 127.0.0.1 with a free port. */
export async function startReferenceServer(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  const broken = new Set(options.breakages ?? []);
  const keys = makeReferenceKeys(broken);
  const c = REFERENCE_CREDENTIALS;
  const base = `/${c.prefix}/kms/xks/v1/`;
  const sigv4 = {
    ...c,
    windowMs: broken.has('lax-date-window') ? Infinity : (broken.has('wide-date-window') ? 10 : 5) * 60_000,
    anyService: broken.has('ignore-service'),
    trustContentShaHeader: broken.has('trust-content-sha-header'),
    broken,
  };

  function sendJson(res: Res, status: number, body: object): void {
    const text = JSON.stringify(body);
    (res as ServerResponse).writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function sendError(res: Res, e: RefError): void {
    let status = STATUS[e.errorName] ?? 500;
    if (broken.has('wrong-error-status') && e.errorName === 'KeyNotFoundException') status = 400;
    if (broken.has('plain-text-errors')) {
      (res as ServerResponse).writeHead(status, { 'content-type': 'text/plain' });
      res.end(`${e.errorName}: ${e.message}`);
      return;
    }
    const message = broken.has('long-error-message') ? e.message.padEnd(600, '.') : e.message;
    sendJson(res, status, { errorName: e.errorName, errorMessage: message });
  }

  let coldRequests = broken.has('slow-start') ? 3 : 0;

  function handle(req: Req, res: Res, body: Buffer): void {
    if (coldRequests > 0) {
      coldRequests--;
      throw new RefError('DependencyTimeoutException', 'key manager still starting');
    }
    const signedPath = (req.url ?? '/').split('?')[0]!;
    let path = signedPath;
    const headers = req.headers as IncomingHttpHeaders;
    const crypto = /\/kms\/xks\/v1\/(keys\/[^/]+\/(?:encrypt|decrypt))$/.exec(path);
    if (broken.has('crypto-ignores-prefix') && crypto) path = base + crypto[1];
    if (!path.startsWith(base)) {
      throw new RefError(broken.has('no-invalid-uri-path') ? 'AuthenticationFailedException' : 'InvalidUriPathException', 'no key store at this path');
    }
    const route = path.slice(base.length).split('/');
    const op = route.length === 1 && route[0] === 'health' ? 'health' : route.length === 3 && route[0] === 'keys' ? route[2] : undefined;
    if (op === undefined || !['health', 'metadata', 'encrypt', 'decrypt'].includes(op)) throw new RefError('InvalidUriPathException', 'unknown operation');
    if (req.method !== 'POST' && !(req.method === 'GET' && broken.has('no-405'))) {
      (res as ServerResponse).writeHead(405, { allow: 'POST', 'content-type': 'application/json' });
      res.end(JSON.stringify({ errorName: 'ValidationException', errorMessage: 'use POST' }));
      return;
    }
    const authorizations = rawHeaderValues(req, 'authorization');
    let authProblem: string | undefined;
    try {
      authProblem =
        op === 'health' && broken.has('health-unauthenticated')
          ? undefined
          : verifySigV4(req.method ?? 'POST', signedPath, headers, authorizations, body, sigv4);
    } catch (e) {
      if (e instanceof VerifierBlewUp && e.kind === 'validation') throw new RefError('ValidationException', e.message);
      throw e;
    }
    if (authProblem) throw new RefError('AuthenticationFailedException', authProblem);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      if (broken.has('malformed-json-500')) throw new SyntaxError('Unexpected end of JSON input');
      throw new RefError('ValidationException', 'body is not JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new RefError('ValidationException', 'body must be a JSON object');
    const request = parsed as Record<string, unknown>;
    checkRequestMetadata(request, op === 'health', broken);
    if (op === 'health') return sendJson(res, 200, health(broken));
    const key = keys.get(route[1]!);
    if (!key) {
      if (broken.has('unknown-key-500')) throw new TypeError("Cannot read properties of undefined (reading 'material')");
      throw new RefError('KeyNotFoundException', 'no such key');
    }
    if (op === 'metadata') return sendJson(res, 200, keyMetadata(key, broken));
    sendJson(res, 200, op === 'encrypt' ? encrypt(key, request, broken) : decrypt(key, request, broken));
  }

  function onRequest(req: Req, res: Res): void {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (e) {
        if (e instanceof VerifierBlewUp && e.kind === 'crash') {
          // What an uncaught exception does to a single-process server: it is gone.
          server.close();
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          req.socket.destroy();
          return;
        }
        sendError(res, e instanceof RefError ? e : new RefError('InternalException', 'internal error'));
      }
    });
  }

  const t = options.tls;
  const server = t
    ? createSecureServer(
        {
          cert: t.cert,
          key: t.key,
          allowHTTP1: !broken.has('h2-only'),
          minVersion: broken.has('tls-legacy') ? 'TLSv1' : 'TLSv1.2',
          ciphers: broken.has('tls-legacy') ? 'DEFAULT@SECLEVEL=0' : undefined,
          ca: t.clientCa,
          requestCert: t.clientCa !== undefined,
          rejectUnauthorized: t.clientCa !== undefined && !broken.has('mtls-optional') && !broken.has('mtls-accepts-expired'),
        },
        onRequest,
      )
    : createServer(onRequest);
  if (t && broken.has('mtls-accepts-expired')) {
    // Verifies the chain itself but lets an expired certificate through.
    server.on('secureConnection', (socket: TLSSocket) => {
      if (!socket.authorized && String(socket.authorizationError) !== 'CERT_HAS_EXPIRED') socket.destroy();
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `${t ? 'https' : 'http'}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

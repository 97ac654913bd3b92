import { Hono, type Context } from 'hono';
import type { Logger } from 'pino';
import { verifySigV4 } from '../auth/sigv4-verify.ts';
import { requestLineWriter } from '../observability/request-log-line.ts';
import { callContextWithin } from '../xks/call-context.ts';
import type { CallContext } from '../xks/key-provider-port.ts';
import { isXksError, XksError } from '../xks/errors.ts';
import type { KeyStore } from '../xks/key-store.ts';
import { parseJsonObject, type JsonObject } from '../xks/request-body.ts';
import {
  checkExternalKeyId,
  parseDecryptRequest,
  parseEncryptRequest,
  parseHealthRequest,
  parseKeyMetadataRequest,
  type DecryptRequest,
  type EncryptRequest,
  type HealthRequest,
  type KeyMetadataRequest,
  type RequestMetadata,
} from '../xks/requests.ts';
import { RequestRecord, type RequestEvent, type RequestLog, type XksOperation } from '../xks/request-event.ts';
import type { AuthorizationInput, Tenant, TenantDirectory } from '../xks/tenants.ts';
import { declaredContentLength, rawQuery, rawRequestPath, requestConnection, sigV4Headers } from './node-request.ts';
import { ClientAbortError, readBodyWithLimit } from './read-body.ts';
import { readinessReport } from './readiness.ts';
import { noteRefusedMetadata } from './refusal-metadata.ts';
import { parseXksPath } from './xks-path.ts';

/**
 * Log level of the line for a refused request (4xx): `warn` by default, so an operator
 * running at `level: warn` still sees every refusal with its reason (docs/operations.md).
 */
export type RefusalLevel = 'info' | 'warn';

/** SigV4 service name of the XKS API (spec "Authentication"). */
export const XKS_SIGV4_SERVICE = 'kms-xks-proxy';

/** What the app needs; tests pass a fake clock and a captured logger. */
export interface AppDeps {
  tenants: TenantDirectory;
  logger: Logger;
  /** Clock for SigV4's five-minute window. */
  now?: () => Date;
  bodyLimitBytes: number;
  /** Budget for one call in ms; providers get the time left of it. */
  requestTimeoutMs: number;
  /** Proxy-wide admission (global rate limit): throws XksError('ThrottlingException') to refuse. */
  admit?: (prefix: string) => void;
  /** Routes mounted before the XKS catch-all (e.g. the local status view). */
  extraRoutes?: Hono;
  /** Level of the log line of a 4xx answer, read per request (reload may change it); default warn. */
  refusalLevel?: () => RefusalLevel;
  /** Called once per finished XKS request (metrics, audit, status view); must not throw. */
  observers?: ReadonlyArray<(event: RequestEvent) => void>;
}

/**
 * Status recorded for a request whose client left before its body arrived (nginx's
 * "client closed request"). Nothing is sent; it only marks the log line and the event.
 */
export const CLIENT_ABORT_STATUS = 499;

/** Client aborts logged per connection; beyond this one HTTP/2 connection is flooding. */
const ABORT_LINES_PER_CONNECTION = 3;

/** Builds the Hono app: ping, readiness and the XKS API for every tenant. */
export function createApp(deps: AppDeps): Hono {
  const now = deps.now ?? (() => new Date());
  const writeRequestLine = requestLineWriter(deps.logger);
  // Client aborts per connection: an HTTP/2 client resetting thousands of streams gets a
  // few request lines and the listener's one flood line (src/server/http2-guard.ts), not
  // one line per stream. Weak keys: the entry goes with the connection.
  const abortsPerConnection = new WeakMap<object, number>();
  const refusalLevel = deps.refusalLevel ?? (() => 'warn' as const);
  const app = new Hono();

  // Load balancer probe (spec "Load balancer health checks"): no auth, no key access.
  app.get('/ping', (c) => c.json({ status: 'ok' }));
  // Readiness reflects provider health (cached deep checks), for orchestrators.
  app.get('/ready', async (c) => {
    const report = await readinessReport(deps.tenants.all(), deps.requestTimeoutMs);
    return c.json(report, report.ready ? 200 : 503);
  });

  if (deps.extraRoutes !== undefined) app.route('/', deps.extraRoutes);

  app.all('*', async (c) => {
    const started = performance.now();
    const at = Date.now();
    const log = new RequestRecord();
    const read = new BodyHolder();
    let status = 500;
    try {
      // Route, read, authenticate, answer, with the awaits here in the request's one async
      // function: each async layer more would be a promise and a microtask turn more per
      // request (docs/performance.md, "Promises per request").
      const call = routeXks(c, deps, log);
      if (call instanceof Response) {
        status = call.status;
        return call;
      }
      const body = await readRequestBody(c, deps.bodyLimitBytes);
      read.body = body;
      authenticate(c, call.tenant, call.rawPath, body, now(), log);
      const json = parseJsonObject(body.toString('utf8'));
      const response = c.json(await answer(OPERATIONS[call.operation], call, json, log, deps.requestTimeoutMs));
      status = response.status;
      return response;
    } catch (e) {
      if (e instanceof ClientAbortError) {
        status = CLIENT_ABORT_STATUS;
        log.reason = e.message;
        return c.body(null, CLIENT_ABORT_STATUS as 400);
      }
      const error = toXksError(e, deps.logger, log);
      status = error.status;
      log.errorName = error.errorName;
      // The reason: the operator-only detail, else what the caller was told (e.g. "Field
      // plaintext is not valid Base64"); both are secret-free by XksError's contract.
      if (error.logDetail !== undefined) log.reason = error.logDetail;
      else log.reason ??= error.message;
      if (log.kmsRequestId === undefined && status < 500) {
        // A throttled request is refused before its body is read; Node reads the body
        // anyway to keep the connection, so read it here to name the KMS request.
        if (error.errorName === 'ThrottlingException' && read.body === undefined) read.body = await bodyIfSmall(c, deps.bodyLimitBytes);
        noteRefusedMetadata(log, read.body);
      }
      return c.json(error.toBody(), error.status as 400);
    } finally {
      // The log record becomes the event in place: no second object, no spread (an object
      // built as { ...log, more } gets a hidden class of its own on Node 20, and those
      // outlive young-generation GCs, whose pauses set the p99 at 1,800 req/s:
      // docs/performance.md, "The p99 at 1,800 req/s").
      const event = log as RequestEvent;
      event.method = c.req.method;
      event.status = status;
      event.latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
      event.outcome = status === 200 ? 'ok' : status === CLIENT_ABORT_STATUS ? 'aborted' : 'error';
      // Written before `at` is set: the line has pino's `time` already. A client abort is
      // not a refusal: info.
      const level = status >= 500 ? 'error' : status >= 400 && status !== CLIENT_ABORT_STATUS ? refusalLevel() : 'info';
      if (status !== CLIENT_ABORT_STATUS || logAbort(c, abortsPerConnection)) writeRequestLine(level, event, 'xks request');
      event.at = at;
      for (const observe of deps.observers ?? []) {
        try {
          observe(event);
        } catch (e) {
          deps.logger.error({ err: (e as Error).message }, 'request observer failed');
        }
      }
    }
  });

  return app;
}

/** The request body once read, so a refusal's log line can name the KMS request. */
class BodyHolder {
  body: Buffer | undefined = undefined;
}

/** The body of a refused request, when it is within the limit; undefined otherwise. */
async function bodyIfSmall(c: Context, limit: number): Promise<Buffer | undefined> {
  try {
    return await readRequestBody(c, limit);
  } catch {
    return undefined;
  }
}

/** One XKS operation: how its body is read and which key store call answers it. */
interface Operation<R extends { requestMetadata: RequestMetadata }> {
  /** Under /keys/<externalKeyId>/: the key id is checked and the access policy consulted. */
  keyed: boolean;
  /** Parses and validates the body (field-named ValidationException on bad input). */
  parse(json: JsonObject): R;
  /** The key store's answer; `keyId` is '' for health. */
  call(store: KeyStore, keyId: string, req: R, ctx: CallContext): Promise<object>;
}

/** The request type of each operation. */
interface OperationRequests {
  health: HealthRequest;
  metadata: KeyMetadataRequest;
  encrypt: EncryptRequest;
  decrypt: DecryptRequest;
}

/** The four XKS operations (spec "API operations"), by the name parseXksPath gives them. */
const OPERATIONS: { readonly [K in XksOperation]: Operation<OperationRequests[K]> } = {
  health: { keyed: false, parse: parseHealthRequest, call: (store, _keyId, req, ctx) => store.health(req, ctx) },
  metadata: { keyed: true, parse: parseKeyMetadataRequest, call: (store, keyId, req, ctx) => store.getKeyMetadata(keyId, req, ctx) },
  encrypt: { keyed: true, parse: parseEncryptRequest, call: (store, keyId, req, ctx) => store.encrypt(keyId, req, ctx) },
  decrypt: { keyed: true, parse: parseDecryptRequest, call: (store, keyId, req, ctx) => store.decrypt(keyId, req, ctx) },
};

/** Where a request goes: its key store and operation, known from the path alone. */
interface XksCall {
  tenant: Tenant;
  operation: XksOperation;
  keyId: string | undefined;
  rawPath: string;
}

/**
 * Routes an XKS request by its path and method, and admits it, before its body is read:
 * the call to make, a 405 answer, or a thrown refusal (unknown path or prefix, throttled).
 */
function routeXks(c: Context, deps: AppDeps, log: RequestLog): XksCall | Response {
  const rawPath = rawRequestPath(c);
  const target = parseXksPath(rawPath);
  if (target.kind === 'foreign') {
    log.reason = `path ${truncate(rawPath)} is not an XKS API path`;
    throw new XksError('InvalidUriPathException', 'The URI path is not an XKS API path: expected [/<prefix>]/kms/xks/v1/...');
  }
  log.prefix = target.prefix;
  const tenant = deps.tenants.get(target.prefix);
  if (tenant === undefined) {
    const known = deps.tenants
      .all()
      .map((t) => JSON.stringify(t.prefix))
      .join(', ');
    log.reason = `unknown prefix ${JSON.stringify(truncate(target.prefix))}; configured: ${known}`;
    throw new XksError(
      'InvalidUriPathException',
      `No key store serves the URI path prefix "${truncate(target.prefix, 100)}"; check XksProxyUriPath in KMS against the proxy's keyStores[].prefix.`,
    );
  }
  if (target.kind === 'unknown-operation') {
    log.reason = `path ${truncate(rawPath)} is not one of the four XKS operations`;
    throw new XksError('InvalidUriPathException', 'Unknown XKS API path: use /health or /keys/<externalKeyId>/{metadata,encrypt,decrypt}.');
  }
  log.operation = target.operation;
  if (target.keyId !== undefined) log.keyId = truncate(target.keyId);
  const method = c.req.method;
  if (method !== 'POST') {
    // Spec "API operations": a GET on any XKS URI MUST get 405 Method Not Allowed.
    c.header('Allow', 'POST');
    const error = new XksError('UnsupportedOperationException', `Method ${method} is not allowed on XKS API URIs; use POST.`);
    log.errorName = error.errorName;
    log.reason = error.message;
    return c.json(error.toBody(), 405);
  }

  // Admission before any work: overload and per-prefix quotas answer 429 cheaply (spec
  // "URI path prefix": a proxy MAY set independent quotas per prefix).
  deps.admit?.(tenant.prefix);
  tenant.admit?.();
  return { tenant, operation: target.operation, keyId: target.keyId, rawPath };
}

/**
 * Runs one operation for an authenticated request: validation, access policy, the key
 * store. Not an async function: it throws a refusal synchronously, and waits only for a
 * policy that answers asynchronously (each await is a turn of the microtask queue).
 */
function answer<R extends { requestMetadata: RequestMetadata }>(
  op: Operation<R>,
  target: XksCall,
  json: JsonObject,
  log: RequestLog,
  budgetMs: number,
): Promise<object> {
  const ctx = callContextWithin(budgetMs); // its signal (a timer) only if a provider reads it
  const keyId = op.keyed ? checkExternalKeyId(target.keyId!) : '';
  const req = op.parse(json);
  noteMetadata(log, req.requestMetadata);
  const tenant = target.tenant;
  if (op.keyed && tenant.authorize !== undefined) {
    const decided = tenant.authorize({ operation: target.operation as AuthorizationInput['operation'], keyId, requestMetadata: req.requestMetadata });
    if (decided !== undefined) return decided.then(() => op.call(tenant.keyStore, keyId, req, ctx));
  }
  return op.call(tenant.keyStore, keyId, req, ctx);
}

/** Verifies SigV4 against the tenant's credentials; the reason goes to the log only. */
function authenticate(c: Context, tenant: Tenant, rawPath: string, body: Buffer, now: Date, log: RequestLog): void {
  const result = verifySigV4(
    { method: 'POST', path: rawPath, query: rawQuery(c), headers: sigV4Headers(c), body },
    { region: tenant.region, service: XKS_SIGV4_SERVICE, now, credentials: tenant.credentials },
  );
  if (!result.ok) {
    log.reason = `sigv4 ${result.reason}: ${result.detail}`;
    noteUnverifiedRequestId(log, body);
    throw new XksError(
      'AuthenticationFailedException',
      'The AWS SigV4 signature could not be verified: check the credential configured in KMS, that the proxy clock is within 5 minutes, and that nothing in between rewrites the Host header or the path; the proxy log names the reason.',
    );
  }
  log.accessKeyId = result.accessKeyId;
}

/**
 * The kmsRequestId of a request SigV4 refused, when its body has one, so the 401 line can be
 * found by it (e.g. the one `xks-proxy doctor` prints). Unverified and only logged.
 */
function noteUnverifiedRequestId(log: RequestLog, body: Buffer): void {
  try {
    const id = (JSON.parse(body.toString('utf8')) as { requestMetadata?: { kmsRequestId?: unknown } } | null)?.requestMetadata?.kmsRequestId;
    if (typeof id === 'string') log.kmsRequestId = truncate(id);
  } catch {
    // Not JSON: nothing to note.
  }
}

function noteMetadata(log: RequestLog, md: RequestMetadata): void {
  log.kmsRequestId = truncate(md.kmsRequestId);
  log.kmsOperation = truncate(md.kmsOperation);
  if (md.awsPrincipalArn !== undefined) log.awsPrincipalArn = truncate(md.awsPrincipalArn, 2048);
  if (md.kmsKeyArn !== undefined) log.kmsKeyArn = md.kmsKeyArn; // <= 2048 by validation
}

/**
 * The body as bytes. With a Content-Length (which HTTP/1.1 and HTTP/2 hold the body to)
 * the server's buffered read is used: going through `request.body` makes @hono/node-server
 * build a full Fetch Request and two web streams per request (docs/performance.md).
 * Without one, the streaming reader enforces the limit as data arrives.
 */
async function readRequestBody(c: Context, limit: number): Promise<Buffer> {
  const request = c.req.raw;
  const declared = declaredContentLength(c);
  try {
    // No or odd Content-Length, or too large: the streaming reader reads or refuses it.
    if (declared === null || !/^\d{1,10}$/.test(declared) || Number(declared) > limit) return await readBodyWithLimit(request, limit);
    const body = Buffer.from(await request.arrayBuffer());
    if (body.length > limit) throw new XksError('ValidationException', `Request body is larger than the ${limit}-byte limit of this proxy.`);
    return body;
  } catch (e) {
    if (isXksError(e)) throw e;
    // Reading bytes the client sends fails only when the client's stream or connection
    // ended early (reset, closed, timed out): a client abort, not a proxy failure.
    throw new ClientAbortError(e);
  }
}

/**
 * Whether this client abort gets its request line: the first few per connection do, the
 * rest are only counted (metrics, observers). HTTP/1.1 has one request per connection at
 * a time, so this only ever thins out HTTP/2 stream-reset floods.
 */
function logAbort(c: Context, counts: WeakMap<object, number>): boolean {
  const connection = requestConnection(c);
  if (connection === undefined) return true;
  const n = (counts.get(connection) ?? 0) + 1;
  counts.set(connection, n);
  return n <= ABORT_LINES_PER_CONNECTION;
}

/** Any thrown value as the spec error to send; unexpected ones are logged in full here. */
function toXksError(e: unknown, logger: Logger, log: RequestLog): XksError {
  if (isXksError(e)) return e;
  logger.error({ err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e), ...log }, 'unexpected error');
  const id = log.kmsRequestId === undefined ? '' : ` (search it for kmsRequestId ${log.kmsRequestId})`;
  return new XksError('InternalException', `The proxy failed unexpectedly; the operator log has the details${id}.`);
}

/** Keeps attacker-controlled strings in the log short. */
function truncate(value: string, max = 256): string {
  return value.length > max ? `${value.slice(0, max)}...` : value;
}

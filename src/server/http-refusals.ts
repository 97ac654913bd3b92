import type { Duplex } from 'node:stream';
import { RequestError } from '@hono/node-server';
import type { Logger } from 'pino';
import { XksError } from '../xks/errors.ts';

/**
 * Answers for requests refused below the app: by Node's HTTP/1.1 parser ('clientError':
 * oversized headers, a malformed request line or chunked body, a request that did not
 * arrive in time) and by @hono/node-server before it builds a Request (a backslash in the
 * path, a bad Host). Node and the adapter would send an empty, non-JSON 400/431; the spec
 * wants every answer as `{"errorName", "errorMessage"}` (KMS reports anything else as
 * "cannot interpret"), so these write the spec's JSON error instead. The status stays
 * the one HTTP prescribes (431, 408, 400); the errorName is the spec's closest, as the
 * app does for 405.
 */

/** Node's parse errors carry the parser's reason ("Invalid character in chunk size"). */
type ClientError = Error & { code?: string; reason?: string };

const STATUS_TEXT: Readonly<Record<number, string>> = { 400: 'Bad Request', 404: 'Not Found', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** What to answer a request Node's parser refused; undefined when nothing should be sent. */
export function clientErrorAnswer(
  err: ClientError,
  limits: { maxHeaderBytes: number; requestReceiveTimeoutMs: number },
): { status: number; error: XksError } | undefined {
  const code = err.code ?? '';
  if (code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      error: new XksError('ValidationException', `The request line and headers are larger than the ${limits.maxHeaderBytes}-byte limit of this proxy.`),
    };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408,
      error: new XksError('ValidationException', `The request was not received within the ${limits.requestReceiveTimeoutMs} ms this proxy allows.`),
    };
  }
  // The client closed mid-request: nobody to answer.
  if (code === 'HPE_INVALID_EOF_STATE') return undefined;
  if (code.startsWith('HPE_')) {
    const why = err.reason ?? err.message;
    return { status: 400, error: new XksError('ValidationException', `The request is not valid HTTP/1.1: ${why}.`) };
  }
  // ECONNRESET, TLS handshake errors (the HTTP/2 server reports those here too): no HTTP to speak.
  return undefined;
}

/** The raw HTTP/1.1 response carrying a spec error; the connection is closed after it. */
export function rawJsonResponse(status: number, error: XksError): string {
  const body = JSON.stringify(error.toBody());
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
    'Content-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** Sockets already answered: the parser may report more errors for the rest of their input. */
const answered = new WeakSet<Duplex>();

/** How long an answered socket may take to read our answer before it is destroyed. */
const LINGER_MS = 1000;

/**
 * The server's 'clientError' handler: writes the spec's JSON error where the connection
 * can still carry one (writable, no response of its own started), logs the refusal with
 * its reason, and closes the connection. The close is an `end()` after the answer with
 * the rest of the input read and discarded, not an immediate destroy: closing a socket
 * with unread input makes the kernel send a reset, and the client would lose the answer.
 */
export function handleClientError(err: ClientError, socket: Duplex, limits: { maxHeaderBytes: number; requestReceiveTimeoutMs: number }, logger: Logger): void {
  if (answered.has(socket)) return;
  answered.add(socket);
  const answer = clientErrorAnswer(err, limits);
  const remoteAddress = (socket as { remoteAddress?: string }).remoteAddress;
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (answer === undefined || !socket.writable || inFlight?.headersSent === true) {
    logger.debug({ err: err.message, code: err.code, remoteAddress }, 'client connection error');
    socket.destroy();
    return;
  }
  logger.info(
    { status: answer.status, errorName: answer.error.errorName, reason: `${err.code}: ${err.reason ?? err.message}`, remoteAddress },
    'http request refused by the parser',
  );
  socket.end(rawJsonResponse(answer.status, answer.error));
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * @hono/node-server's errorHandler: called when it cannot build a Request (RequestError:
 * a backslash in the path, an invalid URL or Host header) or, which the app never lets
 * happen, when the app itself throws. Path problems are the spec's 404
 * InvalidUriPathException ("URI path not valid"); other malformed requests 400
 * ValidationException; anything else 500 InternalException with the detail in the log.
 */
export function adapterErrorResponse(e: unknown, logger: Logger): Response {
  let status: number;
  let error: XksError;
  if (e instanceof RequestError) {
    const pathProblem = /path|url/i.test(e.message);
    error = pathProblem
      ? new XksError(
          'InvalidUriPathException',
          `The URI path cannot be parsed (${e.message}); XKS paths are [/<prefix>]/kms/xks/v1/... with key ids of A-Z a-z 0-9 . _ -.`,
        )
      : new XksError('ValidationException', `The request cannot be parsed: ${e.message}.`);
    status = error.status;
    logger.info({ status, errorName: error.errorName, reason: `http layer: ${e.message}` }, 'http request refused by the adapter');
  } else {
    error = new XksError('InternalException', 'The proxy failed unexpectedly; the operator log has the details.');
    status = 500;
    logger.error({ err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e) }, 'unexpected error in the HTTP adapter');
  }
  return new Response(JSON.stringify(error.toBody()), { status, headers: { 'content-type': 'application/json' } });
}

import { RequestError } from '@hono/node-server';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { adapterErrorResponse, clientErrorAnswer, rawJsonResponse } from '../../../src/server/http-refusals.ts';
import { XksError } from '../../../src/xks/errors.ts';

const LIMITS = { maxHeaderBytes: 16384, requestReceiveTimeoutMs: 10_000 };
const parseError = (code: string, reason: string) => Object.assign(new Error('Parse Error'), { code, reason });

describe('clientErrorAnswer (Node parser refusals)', () => {
  it('maps oversized headers to 431, timeouts to 408, other parse errors to 400, all ValidationException', () => {
    expect(clientErrorAnswer(parseError('HPE_HEADER_OVERFLOW', 'Header overflow'), LIMITS)).toMatchObject({
      status: 431,
      error: { errorName: 'ValidationException' },
    });
    expect(clientErrorAnswer(Object.assign(new Error('t'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), LIMITS)).toMatchObject({ status: 408 });
    const chunk = clientErrorAnswer(parseError('HPE_INVALID_CHUNK_SIZE', 'Invalid character in chunk size'), LIMITS);
    expect(chunk).toMatchObject({ status: 400, error: { errorName: 'ValidationException' } });
    expect(chunk!.error.message).toContain('Invalid character in chunk size');
  });

  it('answers nothing to a client that is gone or never spoke HTTP', () => {
    expect(clientErrorAnswer(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), LIMITS)).toBeUndefined();
    expect(clientErrorAnswer(parseError('HPE_INVALID_EOF_STATE', 'Invalid EOF state'), LIMITS)).toBeUndefined();
    expect(clientErrorAnswer(Object.assign(new Error('ssl'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), LIMITS)).toBeUndefined();
  });

  it('writes a complete HTTP/1.1 response with the JSON body and Connection: close', () => {
    const raw = rawJsonResponse(431, new XksError('ValidationException', 'too big'));
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(head).toContain('Content-Type: application/json');
    expect(head).toContain('Connection: close');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body!)}`);
    expect(JSON.parse(body!)).toEqual({ errorName: 'ValidationException', errorMessage: 'too big' });
  });
});

describe('adapterErrorResponse (@hono/node-server refusals)', () => {
  const logger = pino({ level: 'silent' });

  it('answers an unparseable path with 404 InvalidUriPathException and a bad Host with 400 ValidationException', async () => {
    const path = adapterErrorResponse(new RequestError('Backslash in request path'), logger);
    expect(path.status).toBe(404);
    expect(path.headers.get('content-type')).toBe('application/json');
    expect(await path.json()).toMatchObject({ errorName: 'InvalidUriPathException' });
    const host = adapterErrorResponse(new RequestError('Invalid host header'), logger);
    expect(host.status).toBe(400);
    expect(await host.json()).toMatchObject({ errorName: 'ValidationException' });
  });

  it('answers anything else with a generic 500 InternalException (details only in the log)', async () => {
    const res = adapterErrorResponse(new Error('secret detail'), logger);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { errorName: string; errorMessage: string };
    expect(body.errorName).toBe('InternalException');
    expect(body.errorMessage).not.toContain('secret detail');
  });
});

/**
 * Requests refused below the app (Node's HTTP parser, the @hono/node-server adapter) and
 * clients that leave mid-request, on real sockets. The spec wants every answer as the
 * JSON `{"errorName", "errorMessage"}` (KMS reports anything else as "cannot interpret"),
 * and a client that leaves is not a failure of the proxy: no 500, no InternalException,
 * no stack trace, and the error metrics KMS operators alert on stay quiet.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

let fx: SoftwareFixture;
let proxy: RunningProxy;
let port: number;
const captured: string[] = [];
const lines = () => captured.map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  fx = await createSoftwareFixture();
  const sink = new Writable({
    write(chunk, _enc, done) {
      captured.push(
        ...String(chunk)
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  const raw = softwareConfig(fx.keystorePath, fx.kekHex, {
    server: { host: '127.0.0.1', port: 0, limits: { headersTimeoutMs: 500, requestReceiveTimeoutMs: 1000 } },
    metrics: { host: '127.0.0.1', port: 0 },
  });
  proxy = await startProxy({ config: parseConfig(raw, 'test.yaml'), file: 'test.yaml', configDir: fx.dir }, { logger: pino({ level: 'info' }, sink) });
  port = proxy.listener.address.port;
});
afterAll(async () => {
  await proxy?.close();
  await fx?.cleanup();
});

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/**
 * Writes `request` on a fresh TCP connection (in pieces, with `pauseMs` between, when it
 * is an array) and reads one HTTP/1.1 response.
 */
function rawExchange(request: string | Buffer | Array<string | Buffer>, pauseMs = 0): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    const tryParse = (final: boolean) => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) {
        if (final) reject(new Error(`no HTTP response, got ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
      const headers = new Map(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const));
      const length = Number(headers.get('content-length') ?? NaN);
      const body = text.slice(end + 4);
      if (!final && !(body.length >= length)) return;
      done = true;
      socket.destroy();
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: Number.isNaN(length) ? body : body.slice(0, length) });
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      tryParse(false);
    });
    socket.on('error', () => undefined); // a reset after the answer is fine; 'close' decides
    socket.on('close', () => {
      if (!done) tryParse(true);
    });
    const parts = Array.isArray(request) ? request : [request];
    void (async () => {
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
  });
}

function expectSpecError(res: RawResponse, status: number, errorName: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as { errorName?: unknown; errorMessage?: unknown };
  expect(body.errorName).toBe(errorName);
  expect(typeof body.errorMessage).toBe('string');
  expect(String(body.errorMessage)).toMatch(/^[\x20-\x7e]{1,511}$/);
}

const ENCRYPT_BACKSLASH = `/${DEMO_PREFIX}/kms/xks/v1/keys/fo\\o/encrypt`;

describe('requests refused below the app get the spec JSON error', () => {
  it('a backslash in the key id segment: 404 InvalidUriPathException, and the refusal is logged', async () => {
    const res = await rawExchange(`POST ${ENCRYPT_BACKSLASH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
    expectSpecError(res, 404, 'InvalidUriPathException');
    expect(lines().some((l) => l.errorName === 'InvalidUriPathException' && /Backslash/.test(String(l.reason)))).toBe(true);
  });

  it('10,000 headers: 431 with ValidationException', async () => {
    const headers = Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const res = await rawExchange(`POST ${xksPath(DEMO_PREFIX, 'health')} HTTP/1.1\r\nHost: localhost\r\n${headers}Content-Length: 2\r\n\r\n{}`);
    expectSpecError(res, 431, 'ValidationException');
  });

  it('a 100 KB request line: 431 with ValidationException', async () => {
    const res = await rawExchange(`GET /${'a'.repeat(100 * 1024)} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    expectSpecError(res, 431, 'ValidationException');
  });

  it('a malformed chunked body: 400 ValidationException naming the problem', async () => {
    const res = await rawExchange(
      `POST ${xksPath(DEMO_PREFIX, 'health')} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    );
    expectSpecError(res, 400, 'ValidationException');
    expect(JSON.parse(res.body).errorMessage).toMatch(/chunk/i);
  });

  it('a malformed request line: 400 ValidationException', async () => {
    const res = await rawExchange('POST /x HTTP/1.1 extra\r\nHost: localhost\r\n\r\n');
    expectSpecError(res, 400, 'ValidationException');
  });

  it('a request whose headers stop arriving: 408 ValidationException once headersTimeoutMs passed', async () => {
    const res = await rawExchange(`POST ${xksPath(DEMO_PREFIX, 'health')} HTTP/1.1\r\nHost: localhost\r\n`);
    expectSpecError(res, 408, 'ValidationException');
  });

  it('leaves no 500, InternalException or stack trace in the log', () => {
    expect(lines().filter((l) => l.status === 500 || l.errorName === 'InternalException' || JSON.stringify(l).includes('"stack"'))).toEqual([]);
  });
});

describe('a client that disconnects mid-body', () => {
  it('is logged and counted as a client abort, not as a 500 InternalException', async () => {
    const path = xksPath(DEMO_PREFIX, 'encrypt');
    const body = JSON.stringify({ requestMetadata: requestMetadata('Encrypt'), plaintext: 'aGVsbG8=', encryptionAlgorithm: 'AES_GCM' });
    const headers = signXks(path, body, { host: `127.0.0.1:${port}` });
    // aws4 signs with the full content-length; only half the body follows.
    expect(headers['content-length']).toBe(String(body.length));
    const head = `POST ${path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n`;
    const before = captured.length;
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => socket.once('connect', r));
    socket.write(head + body.slice(0, body.length / 2));
    await new Promise((r) => setTimeout(r, 200)); // the app is now waiting for the rest
    socket.destroy();
    await new Promise((r) => setTimeout(r, 300));

    const after = lines().slice(before);
    const line = after.find((l) => l.msg === 'xks request');
    expect(line).toMatchObject({ status: 499, operation: 'encrypt', prefix: DEMO_PREFIX, level: 30 });
    expect(String(line!.reason)).toMatch(/client aborted/);
    expect(line!.errorName).toBeUndefined();
    expect(
      after.filter((l) => l.status === 500 || l.errorName === 'InternalException' || l.msg === 'unexpected error' || JSON.stringify(l).includes('"stack"')),
    ).toEqual([]);

    const metrics = await (await fetch(proxy.metricsUrl!)).text();
    expect(metrics).toMatch(/xks_proxy_requests_total\{prefix="example\/uri\/path\/prefix",operation="encrypt",kms_operation="",outcome="aborted"\} 1/);
    expect(metrics).not.toMatch(/xks_proxy_errors_total\{[^}]*error_name="InternalException"/);
  });
});

import { Writable } from 'node:stream';
import { pino } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { PRETTY_OPTIONS } from '../../src/observability/logger.ts';
import { rateLimitAdmission, TokenBucket } from '../../src/ops/rate-limit.ts';
import { createApp } from '../../src/server/app.ts';
import { createSoftwareFixture, type SoftwareFixture } from '../support/software-tenant.ts';
import { b64, DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

// Issue 21 item 11: every refused request's log line names the reason and, when the body
// carried it, the KMS request (kmsRequestId, kmsKeyArn), at a level `level: warn` keeps.

let fx: SoftwareFixture;
const lines: string[] = [];
let app: Hono;
let throttled: Hono;

const KMS_KEY_ARN = requestMetadata('Encrypt')['kmsKeyArn'] as string;

function sink(): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
}

beforeAll(async () => {
  fx = await createSoftwareFixture();
  // The level operators use to see only problems.
  const logger = pino({ level: 'warn' }, sink());
  app = createApp({ tenants: fx.tenants, logger, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 5000 });
  // A proxy-wide limit of one request (burst 1, refilling once a day): the second is refused.
  const admit = rateLimitAdmission(new TokenBucket({ requestsPerSecond: 1 / 86_400, burst: 1 }), 'proxy-wide');
  throttled = createApp({ tenants: fx.tenants, logger, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 5000, admit: () => admit() });
});
afterAll(() => fx.cleanup());

async function lastLine(target: Hono, path: string, body: string, headers: Record<string, string>): Promise<Record<string, unknown>> {
  lines.length = 0;
  await target.request(path, { method: 'POST', headers, body });
  const requestLines = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'xks request');
  expect(requestLines).toHaveLength(1);
  return requestLines[0]!;
}

describe('refusal log lines', () => {
  const path = xksPath(DEMO_PREFIX, 'encrypt');

  it('a 400 names the field that failed, the KMS request id and key ARN, at warn', async () => {
    const md = requestMetadata('Encrypt', { kmsRequestId: 'req-bad-base64' });
    const body = JSON.stringify({ requestMetadata: md, plaintext: 'not base64!', encryptionAlgorithm: 'AES_GCM' });
    const line = await lastLine(app, path, body, signXks(path, body));
    expect(line).toMatchObject({
      level: 40,
      status: 400,
      errorName: 'ValidationException',
      kmsRequestId: 'req-bad-base64',
      kmsOperation: 'Encrypt',
      kmsKeyArn: KMS_KEY_ARN,
    });
    expect(line['reason']).toMatch(/plaintext/);
    expect(line['reason']).toMatch(/Base64/);
  });

  it('a 401 carries the SigV4 reason and the kmsRequestId of the unauthenticated body', async () => {
    const body = JSON.stringify({ requestMetadata: requestMetadata('Encrypt', { kmsRequestId: 'req-wrong-secret' }), plaintext: b64('x') });
    const headers = signXks(path, body, { secretAccessKey: 'WrongSecretWrongSecretWrongSecretWrongSecret1' });
    const line = await lastLine(app, path, body, headers);
    expect(line).toMatchObject({ level: 40, status: 401, errorName: 'AuthenticationFailedException', kmsRequestId: 'req-wrong-secret' });
    expect(line['reason']).toMatch(/^sigv4 /);
  });

  it('a 429 names the limit and the throttled KMS request', async () => {
    const ok = JSON.stringify({ requestMetadata: requestMetadata('Encrypt'), plaintext: b64('x'), encryptionAlgorithm: 'AES_GCM' });
    await throttled.request(path, { method: 'POST', headers: signXks(path, ok), body: ok });
    const body = JSON.stringify({ requestMetadata: requestMetadata('Encrypt', { kmsRequestId: 'req-throttled' }), plaintext: b64('x') });
    const line = await lastLine(throttled, path, body, signXks(path, body));
    expect(line).toMatchObject({ level: 40, status: 429, errorName: 'ThrottlingException', kmsRequestId: 'req-throttled', kmsKeyArn: KMS_KEY_ARN });
    expect(line['reason']).toMatch(/rate limit \(proxy-wide\)/);
  });

  it('a served request logs kmsKeyArn at info, and no duplicate `at` next to `time`', async () => {
    const infoLines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, done) => (infoLines.push(String(c)), done()) }));
    const infoApp = createApp({ tenants: fx.tenants, logger, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 5000 });
    const body = JSON.stringify({ requestMetadata: requestMetadata('Encrypt'), plaintext: b64('x'), encryptionAlgorithm: 'AES_GCM' });
    expect((await infoApp.request(path, { method: 'POST', headers: signXks(path, body), body })).status).toBe(200);
    const line = JSON.parse(infoLines.find((l) => l.includes('"xks request"'))!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, status: 200, kmsKeyArn: KMS_KEY_ARN });
    expect(line).toHaveProperty('time');
    expect(line).not.toHaveProperty('at');
  });

  it('refusalLevel info files refusals with served requests (hidden at warn)', async () => {
    const quiet = createApp({
      tenants: fx.tenants,
      logger: pino({ level: 'warn' }, sink()),
      bodyLimitBytes: 64 * 1024,
      requestTimeoutMs: 5000,
      refusalLevel: () => 'info',
    });
    lines.length = 0;
    const body = JSON.stringify({ requestMetadata: requestMetadata('Encrypt'), plaintext: 'x' });
    await quiet.request(path, { method: 'POST', headers: signXks(path, body), body });
    expect(lines.filter((l) => l.includes('"xks request"'))).toHaveLength(0);
  });
});

describe('pretty logs', () => {
  it('print a request as one line with the date', () => {
    const pretty = prettyFactory({ ...PRETTY_OPTIONS, colorize: false });
    const json = JSON.stringify({
      level: 40,
      time: Date.UTC(2026, 11, 2, 1, 2, 3),
      msg: 'xks request',
      status: 400,
      errorName: 'ValidationException',
      reason: 'Field plaintext is not valid Base64.',
      kmsRequestId: 'r1',
    });
    const out = pretty(json);
    expect(out.trimEnd().split('\n')).toHaveLength(1);
    expect(out).toMatch(/\b2026-12-0[12] \d\d:\d\d:03\.000\b/);
    expect(out).toContain('kmsRequestId');
  });
});

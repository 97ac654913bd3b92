import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Hono } from 'hono';
import { createApp } from '../../src/server/app.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { b64, DEMO_CREDENTIAL, DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

const SECOND = { accessKeyId: 'ROTATEDKEYIDABCDEFGH234567', secretAccessKey: 'AnotherSecretThatIsAtLeastFortyThreeCharsLong0' };

let fx: SoftwareFixture;
let app: Hono;
const logLines: string[] = [];

beforeAll(async () => {
  fx = await createSoftwareFixture({
    rawConfig: (path, kek) => {
      const raw = softwareConfig(path, kek) as { keyStores: Array<{ credentials: unknown[] }> };
      raw.keyStores[0]!.credentials.push({ accessKeyId: SECOND.accessKeyId, secretAccessKey: SECOND.secretAccessKey });
      return raw;
    },
  });
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  app = createApp({ tenants: fx.tenants, logger: pino({ level: 'info' }, sink), bodyLimitBytes: 64 * 1024, requestTimeoutMs: 2000 });
});
afterAll(() => fx.cleanup());

const PATH = xksPath(DEMO_PREFIX, 'metadata');
const BODY = JSON.stringify({ requestMetadata: requestMetadata('DescribeKey') });

async function send(headers: Record<string, string>, body = BODY, path = PATH) {
  const res = await app.request(path, { method: 'POST', headers, body });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('SigV4 verification', () => {
  it('accepts a request signed by aws4 with the configured credential', async () => {
    expect((await send(signXks(PATH, BODY))).status).toBe(200);
  });

  it('accepts a second credential of the same key store at the same time (rotation)', async () => {
    expect((await send(signXks(PATH, BODY, SECOND))).status).toBe(200);
  });

  it('accepts a request dated 4 minutes ago', async () => {
    expect((await send(signXks(PATH, BODY, { date: new Date(Date.now() - 4 * 60_000) }))).status).toBe(200);
  });

  const rejections: Array<[string, () => Record<string, string>, string?]> = [
    ['a wrong secret', () => signXks(PATH, BODY, { secretAccessKey: 'WrongSecretWrongSecretWrongSecretWrongSecret1' })],
    ['an unknown access key id', () => signXks(PATH, BODY, { accessKeyId: 'UNKNOWNKEYIDUNKNOWNKEY2345' })],
    ['a date 6 minutes in the past', () => signXks(PATH, BODY, { date: new Date(Date.now() - 6 * 60_000) })],
    ['a date 6 minutes in the future', () => signXks(PATH, BODY, { date: new Date(Date.now() + 6 * 60_000) })],
    ['the wrong service', () => signXks(PATH, BODY, { service: 'kms' })],
    ['the wrong region', () => signXks(PATH, BODY, { region: 'eu-west-1' })],
    [
      'no Authorization header',
      () => {
        const h = signXks(PATH, BODY);
        delete h.authorization;
        return h;
      },
    ],
    ['a malformed Authorization header', () => ({ ...signXks(PATH, BODY), authorization: 'AWS4-HMAC-SHA256 garbage' })],
    ['a Basic Authorization header', () => ({ ...signXks(PATH, BODY), authorization: 'Basic dXNlcjpwYXNz' })],
    ['a signature for another path', () => signXks(xksPath(DEMO_PREFIX, 'metadata', 'other'), BODY)],
  ];

  it.each(rejections)('rejects %s with 401 AuthenticationFailedException', async (_name, headers) => {
    const { status, json } = await send(headers());
    expect(status).toBe(401);
    expect(json.errorName).toBe('AuthenticationFailedException');
  });

  it('rejects a body changed after signing', async () => {
    const headers = signXks(PATH, BODY);
    const tampered = BODY.replace('DescribeKey', 'DescribeKeX');
    const { status, json } = await send(headers, tampered);
    expect(status).toBe(401);
    expect(json.errorName).toBe('AuthenticationFailedException');
  });

  it('logs why authentication failed, without the secret or the signature', async () => {
    logLines.length = 0;
    const headers = signXks(PATH, BODY, { date: new Date(Date.now() - 10 * 60_000) });
    await send(headers);
    const line = logLines.join('');
    expect(line).toMatch(/date/);
    expect(line).not.toContain(DEMO_CREDENTIAL.secretAccessKey);
    expect(line).not.toContain(headers.authorization!.split('Signature=')[1]!);
  });
});

describe('request logging', () => {
  it('writes one line per request with kmsRequestId, operation, key, status and latency, and never the plaintext, AAD or secret', async () => {
    logLines.length = 0;
    const secretPlaintext = 'TOP-SECRET-PLAINTEXT-do-not-log-4711';
    const secretAad = 'CONFIDENTIAL-AAD-0815';
    const encPath = xksPath(DEMO_PREFIX, 'encrypt');
    const body = JSON.stringify({
      requestMetadata: requestMetadata('Encrypt', { kmsRequestId: 'req-log-test-1' }),
      plaintext: b64(secretPlaintext),
      additionalAuthenticatedData: b64(secretAad),
      encryptionAlgorithm: 'AES_GCM',
    });
    const enc = await app.request(encPath, { method: 'POST', headers: signXks(encPath, body), body });
    const encJson = (await enc.json()) as Record<string, string>;
    const decPath = xksPath(DEMO_PREFIX, 'decrypt');
    const decBody = JSON.stringify({
      requestMetadata: requestMetadata('Decrypt', { kmsRequestId: 'req-log-test-2' }),
      ...encJson,
      additionalAuthenticatedData: b64(secretAad),
      encryptionAlgorithm: 'AES_GCM',
    });
    const dec = await app.request(decPath, { method: 'POST', headers: signXks(decPath, decBody), body: decBody });
    expect(dec.status).toBe(200);

    const all = logLines.join('');
    for (const forbidden of [secretPlaintext, b64(secretPlaintext), secretAad, b64(secretAad), DEMO_CREDENTIAL.secretAccessKey, 'Signature=']) {
      expect(all).not.toContain(forbidden);
    }
    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'xks request');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      kmsRequestId: 'req-log-test-1',
      kmsOperation: 'Encrypt',
      operation: 'encrypt',
      prefix: DEMO_PREFIX,
      keyId: 'foo',
      status: 200,
      outcome: 'ok',
    });
    expect(typeof lines[0]!.latencyMs).toBe('number');
    expect(lines[1]).toMatchObject({ kmsRequestId: 'req-log-test-2', operation: 'decrypt', status: 200 });
  });

  it('logs the errorName of a failed request', async () => {
    logLines.length = 0;
    const path = xksPath(DEMO_PREFIX, 'encrypt', 'impotent_key');
    const body = JSON.stringify({ requestMetadata: requestMetadata('Encrypt'), plaintext: b64('x'), encryptionAlgorithm: 'AES_GCM' });
    await app.request(path, { method: 'POST', headers: signXks(path, body), body });
    const line = JSON.parse(logLines.find((l) => l.includes('xks request'))!) as Record<string, unknown>;
    expect(line).toMatchObject({ errorName: 'InvalidKeyUsageException', status: 400, outcome: 'error', keyId: 'impotent_key' });
  });
});

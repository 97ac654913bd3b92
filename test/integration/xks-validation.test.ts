import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Hono } from 'hono';
import { changeKeystore, setKeyEnabled } from '../../src/providers/software/software-keystore.ts';
import { createSoftwareApp, type SoftwareFixture } from '../support/software-tenant.ts';
import { b64, DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

let fx: SoftwareFixture;
let app: Hono;

beforeAll(async () => {
  ({ fx, app } = await createSoftwareApp());
});
afterAll(() => fx.cleanup());

async function post(path: string, text: string) {
  const res = await app.request(path, { method: 'POST', headers: signXks(path, text), body: text });
  const raw = await res.text();
  return { status: res.status, raw, json: JSON.parse(raw) as { errorName: string; errorMessage: string } & Record<string, unknown> };
}

const ENCRYPT = xksPath(DEMO_PREFIX, 'encrypt');
const DECRYPT = xksPath(DEMO_PREFIX, 'decrypt');
const enc = (extra: Record<string, unknown>) =>
  JSON.stringify({ requestMetadata: requestMetadata('Encrypt'), plaintext: b64('hello'), encryptionAlgorithm: 'AES_GCM', ...extra });
const dec = (extra: Record<string, unknown>) =>
  JSON.stringify({
    requestMetadata: requestMetadata('Decrypt'),
    ciphertext: b64('hello'),
    initializationVector: b64(Buffer.alloc(12)),
    authenticationTag: b64(Buffer.alloc(16)),
    encryptionAlgorithm: 'AES_GCM',
    ...extra,
  });

/** Every errorMessage must be < 512 printable ASCII characters (spec "Error codes"). */
function expectSpecMessage(message: string) {
  expect(message.length).toBeGreaterThan(0);
  expect(message.length).toBeLessThan(512);
  expect(message).toMatch(/^[\x20-\x7e]+$/);
  expect(message).not.toMatch(/\bat .+\.ts:\d+/); // no stack frames
}

describe('request validation -> 400 ValidationException', () => {
  const cases: Array<[string, string, string, RegExp]> = [
    ['malformed JSON', ENCRYPT, '{"requestMetadata": ', /not valid JSON/],
    ['a JSON array', ENCRYPT, '[1,2]', /JSON object/],
    ['an empty body', ENCRYPT, '', /not valid JSON/],
    ['missing requestMetadata', ENCRYPT, JSON.stringify({ plaintext: b64('x'), encryptionAlgorithm: 'AES_GCM' }), /requestMetadata/],
    ['requestMetadata of the wrong type', ENCRYPT, enc({ requestMetadata: 'x' }), /requestMetadata must be a JSON object/],
    ['missing kmsRequestId', ENCRYPT, enc({ requestMetadata: { kmsOperation: 'Encrypt', awsPrincipalArn: 'a' } }), /kmsRequestId/],
    ['kmsOperation of the wrong type', ENCRYPT, enc({ requestMetadata: { ...requestMetadata('x'), kmsOperation: 7 } }), /kmsOperation must be a string/],
    ['missing plaintext', ENCRYPT, enc({ plaintext: undefined }), /plaintext/],
    ['plaintext as a number', ENCRYPT, enc({ plaintext: 12 }), /plaintext must be a string/],
    ['plaintext that is not Base64', ENCRYPT, enc({ plaintext: 'not base64!' }), /Base64/],
    ['plaintext over 4300 bytes', ENCRYPT, enc({ plaintext: b64(Buffer.alloc(4301)) }), /at most 4300/],
    ['AAD over 8192 bytes', ENCRYPT, enc({ additionalAuthenticatedData: b64(Buffer.alloc(8193)) }), /at most 8192/],
    ['a missing encryptionAlgorithm', ENCRYPT, enc({ encryptionAlgorithm: undefined }), /encryptionAlgorithm/],
    ['an algorithm other than AES_GCM', ENCRYPT, enc({ encryptionAlgorithm: 'AES_CBC' }), /AES_GCM/],
    ['an unknown CDIV algorithm', ENCRYPT, enc({ ciphertextDataIntegrityValueAlgorithm: 'MD5' }), /SHA_256/],
    ['an 11-byte IV', DECRYPT, dec({ initializationVector: b64(Buffer.alloc(11)) }), /12 or 16 bytes/],
    ['a 15-byte tag', DECRYPT, dec({ authenticationTag: b64(Buffer.alloc(15)) }), /16 bytes/],
    ['ciphertextMetadata over 20 bytes', DECRYPT, dec({ ciphertextMetadata: b64(Buffer.alloc(21)) }), /at most 20/],
    ['ciphertext over 4300 bytes', DECRYPT, dec({ ciphertext: b64(Buffer.alloc(4301)) }), /at most 4300/],
    ['a missing authenticationTag', DECRYPT, dec({ authenticationTag: undefined }), /authenticationTag/],
  ];

  it.each(cases)('rejects %s with a helpful message', async (_name, path, body, message) => {
    const { status, json } = await post(path, body);
    expect(status).toBe(400);
    expect(json.errorName).toBe('ValidationException');
    expect(json.errorMessage).toMatch(message);
    expectSpecMessage(json.errorMessage);
  });

  it('accepts the limits themselves: 4300-byte plaintext, 8192-byte AAD', async () => {
    const { status } = await post(ENCRYPT, enc({ plaintext: b64(Buffer.alloc(4300)), additionalAuthenticatedData: b64(Buffer.alloc(8192)) }));
    expect(status).toBe(200);
  });

  it('accepts a 16-byte IV on decrypt (and then judges the ciphertext)', async () => {
    const { json } = await post(DECRYPT, dec({ initializationVector: b64(Buffer.alloc(16)) }));
    expect(json.errorName).toBe('InvalidCiphertextException');
  });

  it('rejects an externalKeyId with characters outside the spec set', async () => {
    const path = xksPath(DEMO_PREFIX, 'encrypt', 'bad%20key');
    const { status, json } = await post(path, enc({}));
    expect(status).toBe(400);
    expect(json.errorName).toBe('ValidationException');
  });

  it('rejects an externalKeyId longer than 128 characters', async () => {
    const { json } = await post(xksPath(DEMO_PREFIX, 'metadata', 'k'.repeat(129)), JSON.stringify({ requestMetadata: requestMetadata('DescribeKey') }));
    expect(json.errorName).toBe('ValidationException');
  });

  it('rejects a body over the size limit without reading it all', async () => {
    const big = enc({ padding: 'x'.repeat(70 * 1024) });
    const { status, json } = await post(ENCRYPT, big);
    expect(status).toBe(400);
    expect(json.errorMessage).toMatch(/limit/);
  });
});

describe('key state', () => {
  it('answers a disabled key with InvalidStateException and reports it DISABLED', async () => {
    await changeKeystore(fx.keystorePath, { kek: fx.kekHex }, (file, contents) => setKeyEnabled(file, contents, 'foo', false));
    try {
      // The running proxy notices keystore changes within about a second.
      const { status, json } = await vi.waitFor(
        async () => {
          const r = await post(ENCRYPT, enc({}));
          if (r.status === 200) throw new Error('key still enabled');
          return r;
        },
        { timeout: 5000, interval: 100 },
      );
      expect(status).toBe(400);
      expect(json.errorName).toBe('InvalidStateException');
      const md = await post(xksPath(DEMO_PREFIX, 'metadata'), JSON.stringify({ requestMetadata: requestMetadata('DescribeKey') }));
      expect(md.json).toMatchObject({ keyStatus: 'DISABLED' });
    } finally {
      await changeKeystore(fx.keystorePath, { kek: fx.kekHex }, (file, contents) => setKeyEnabled(file, contents, 'foo', true));
    }
  });
});

describe('robustness', () => {
  it('stays up and healthy after a burst of malformed requests', async () => {
    const junk = ['', '{', 'null', '"str"', '{"requestMetadata":null}', '\u0000\u0001', '{"plaintext":{"a":1}}', '[]'.repeat(1000)];
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => post(i % 2 ? ENCRYPT : DECRYPT, junk[i % junk.length]!)));
    for (const r of results) {
      expect(r.status).toBe(400);
      expect(r.json.errorName).toBe('ValidationException');
    }
    const health = await post(xksPath(DEMO_PREFIX, 'health'), JSON.stringify({ requestMetadata: { kmsRequestId: 'x', kmsOperation: 'KmsHealthCheck' } }));
    expect(health.status).toBe(200);
  });
});

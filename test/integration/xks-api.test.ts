import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createSoftwareApp, type SoftwareFixture } from '../support/software-tenant.ts';
import { b64, decryptRequestBody, DEMO_PREFIX, encryptRequestBody, expectedCdiv, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

let fx: SoftwareFixture;
let app: Hono;

beforeAll(async () => {
  ({ fx, app } = await createSoftwareApp());
});
afterAll(() => fx.cleanup());

/** Sends a signed POST and returns status and parsed JSON. */
async function call(path: string, body: unknown, opts: Parameters<typeof signXks>[2] = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await app.request(path, { method: 'POST', headers: signXks(path, text, opts), body: text });
  const raw = await res.text();
  return { status: res.status, json: JSON.parse(raw) as Record<string, any>, contentType: res.headers.get('content-type') };
}

async function encrypt(keyId: string, plaintext: string | Buffer, extra: Record<string, unknown> = {}) {
  return call(xksPath(DEMO_PREFIX, 'encrypt', keyId), encryptRequestBody(plaintext, extra));
}

describe('routing', () => {
  it('answers GET /ping without authentication', async () => {
    const res = await app.request('/ping');
    expect(res.status).toBe(200);
  });

  it('reports readiness from the provider health', async () => {
    const res = await app.request('/ready');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ready: true, keyStores: [{ prefix: DEMO_PREFIX, ekm: [{ healthStatus: 'ACTIVE' }] }] });
  });

  it.each(['health', 'metadata', 'encrypt', 'decrypt'] as const)('rejects GET on the %s URI with 405 and a JSON body', async (op) => {
    const res = await app.request(xksPath(DEMO_PREFIX, op), { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await res.json()).toHaveProperty('errorName');
  });

  it('answers an unknown path under a known prefix with 404 InvalidUriPathException', async () => {
    const path = `/${DEMO_PREFIX}/kms/xks/v1/keys/foo/sign`;
    const { status, json } = await call(path, { requestMetadata: requestMetadata('Sign') });
    expect(status).toBe(404);
    expect(json.errorName).toBe('InvalidUriPathException');
  });

  it('answers an unknown prefix with 404 and a JSON body', async () => {
    const { status, json, contentType } = await call(xksPath('no/such/prefix', 'health'), { requestMetadata: requestMetadata('KmsHealthCheck') });
    expect(status).toBe(404);
    expect(contentType).toContain('application/json');
    expect(json.errorName).toBe('InvalidUriPathException');
  });

  it('answers a path outside the API with a JSON 404, not HTML', async () => {
    const res = await app.request('/index.html');
    expect(res.status).toBe(404);
    expect((await res.json()).errorName).toBe('InvalidUriPathException');
  });
});

describe('operations', () => {
  it('GetHealthStatus reports the software keystore as ACTIVE with the spec fields', async () => {
    const { status, json } = await call(xksPath(DEMO_PREFIX, 'health'), { requestMetadata: { kmsRequestId: 'r1', kmsOperation: 'KmsHealthCheck' } });
    expect(status).toBe(200);
    expect(json.xksProxyFleetSize).toBeGreaterThan(0);
    expect(typeof json.xksProxyVendor).toBe('string');
    expect(json.xksProxyModel).toMatch(/xks-proxy \d+\.\d+/);
    expect(typeof json.ekmVendor).toBe('string');
    expect(json.ekmFleetDetails).toHaveLength(1);
    expect(json.ekmFleetDetails[0]).toEqual({ id: 'keystore.json', model: expect.any(String), healthStatus: 'ACTIVE' });
  });

  it.each([
    ['foo', ['ENCRYPT', 'DECRYPT']],
    ['encrypt_only_key', ['ENCRYPT']],
    ['decrypt_only_key', ['DECRYPT']],
    ['impotent_key', []],
  ])('GetKeyMetadata of %s reports its usages', async (keyId, usages) => {
    const { status, json } = await call(xksPath(DEMO_PREFIX, 'metadata', keyId), { requestMetadata: requestMetadata('DescribeKey') });
    expect(status).toBe(200);
    expect(json).toEqual({ keySpec: 'AES_256', keyUsage: usages, keyStatus: 'ENABLED' });
  });

  it('round-trips 4300 bytes with an 8192-byte AAD', async () => {
    const plaintext = Buffer.alloc(4300, 0xab);
    const aad = b64(Buffer.alloc(8192, 7));
    const enc = await encrypt('foo', plaintext, { additionalAuthenticatedData: aad });
    expect(enc.status).toBe(200);
    expect(Buffer.from(enc.json.ciphertext, 'base64')).toHaveLength(4300);
    expect(Buffer.from(enc.json.initializationVector, 'base64')).toHaveLength(12);
    expect(Buffer.from(enc.json.authenticationTag, 'base64')).toHaveLength(16);
    const dec = await call(xksPath(DEMO_PREFIX, 'decrypt'), decryptRequestBody(enc.json, { additionalAuthenticatedData: aad }));
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.json.plaintext, 'base64').equals(plaintext)).toBe(true);
  });

  it('uses a fresh IV for every encryption', async () => {
    const ivs = new Set<string>();
    for (let i = 0; i < 50; i++) ivs.add((await encrypt('foo', 'same plaintext')).json.initializationVector);
    expect(ivs.size).toBe(50);
  });

  it('returns a CDIV that matches the response fields when asked for one', async () => {
    const aad = 'project=nile';
    const enc = await encrypt('foo', 'Hello World!', { additionalAuthenticatedData: b64(aad), ciphertextDataIntegrityValueAlgorithm: 'SHA_256' });
    expect(enc.status).toBe(200);
    expect(enc.json.ciphertextDataIntegrityValue).toBe(expectedCdiv(aad, enc.json));
  });

  it('omits the CDIV when not asked for one', async () => {
    const enc = await encrypt('foo', 'x');
    expect(enc.json).not.toHaveProperty('ciphertextDataIntegrityValue');
  });

  it('accepts unknown requestMetadata fields and unknown kmsOperation values', async () => {
    const body = encryptRequestBody('hi', { requestMetadata: requestMetadata('BulkEncryptFromTheFuture', { someNewField: { nested: true } }) });
    expect((await call(xksPath(DEMO_PREFIX, 'encrypt'), body)).status).toBe(200);
  });
});

describe('tamper detection', () => {
  let enc: Record<string, any>;
  const aad = b64('project=nile,department=marketing');
  beforeAll(async () => {
    enc = (await encrypt('foo', 'attack at dawn', { additionalAuthenticatedData: aad })).json;
  });

  const flip = (value: string, index = 0) => {
    const bytes = Buffer.from(value, 'base64');
    bytes[index] = bytes[index]! ^ 1;
    return bytes.toString('base64');
  };

  it.each([
    ['ciphertext', (e: any) => ({ ciphertext: flip(e.ciphertext) })],
    ['authenticationTag', (e: any) => ({ authenticationTag: flip(e.authenticationTag) })],
    ['initializationVector', (e: any) => ({ initializationVector: flip(e.initializationVector) })],
    ['additionalAuthenticatedData', () => ({ additionalAuthenticatedData: b64('project=nile,department=sales') })],
    ['missing additionalAuthenticatedData', () => ({ additionalAuthenticatedData: undefined })],
    ['ciphertextMetadata', (e: any) => ({ ciphertextMetadata: flip(e.ciphertextMetadata, 6) })],
    ['missing ciphertextMetadata', () => ({ ciphertextMetadata: undefined })],
  ])('rejects a changed %s with InvalidCiphertextException', async (_name, change) => {
    const { status, json } = await call(xksPath(DEMO_PREFIX, 'decrypt'), decryptRequestBody(enc, { additionalAuthenticatedData: aad, ...change(enc) }));
    expect(status).toBe(400);
    expect(json.errorName).toBe('InvalidCiphertextException');
  });

  it('rejects moving a byte from the end of the AAD into the metadata', async () => {
    const e2 = (await encrypt('foo', 'boundary', { additionalAuthenticatedData: b64('ab') })).json;
    const md = Buffer.from(e2.ciphertextMetadata, 'base64');
    const moved = { additionalAuthenticatedData: b64('a'), ciphertextMetadata: Buffer.concat([Buffer.from('b'), md]).toString('base64') };
    const { json } = await call(xksPath(DEMO_PREFIX, 'decrypt'), decryptRequestBody(e2, moved));
    expect(json.errorName).toBe('InvalidCiphertextException');
  });
});

describe('key usage and state', () => {
  it('refuses to encrypt with a decrypt-only key', async () => {
    const { status, json } = await encrypt('decrypt_only_key', 'x');
    expect(status).toBe(400);
    expect(json.errorName).toBe('InvalidKeyUsageException');
  });

  it('refuses to decrypt with an encrypt-only key', async () => {
    const enc = (await encrypt('encrypt_only_key', 'x')).json;
    const { json } = await call(xksPath(DEMO_PREFIX, 'decrypt', 'encrypt_only_key'), decryptRequestBody(enc));
    expect(json.errorName).toBe('InvalidKeyUsageException');
  });

  it('refuses both operations with a key that has no usage', async () => {
    expect((await encrypt('impotent_key', 'x')).json.errorName).toBe('InvalidKeyUsageException');
  });

  it('answers an unknown key with 404 KeyNotFoundException', async () => {
    const { status, json } = await encrypt('no_such_key', 'x');
    expect(status).toBe(404);
    expect(json.errorName).toBe('KeyNotFoundException');
    const md = await call(xksPath(DEMO_PREFIX, 'metadata', 'no_such_key'), { requestMetadata: requestMetadata('DescribeKey') });
    expect(md.json.errorName).toBe('KeyNotFoundException');
  });
});

describe('CDIV and key usage', () => {
  it('refuses a CDIV with an encrypt-only key, since the verification decrypt is not allowed', async () => {
    const { status, json } = await encrypt('encrypt_only_key', 'x', { ciphertextDataIntegrityValueAlgorithm: 'SHA_256' });
    expect(status).toBe(400);
    expect(json.errorName).toBe('InvalidKeyUsageException');
  });

  it('still encrypts with an encrypt-only key when no CDIV is asked for', async () => {
    expect((await encrypt('encrypt_only_key', 'x')).status).toBe(200);
  });
});

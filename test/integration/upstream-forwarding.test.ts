/**
 * The upstream key store against a second instance of our own proxy, started as a real
 * process with its own prefix and SigV4 credential: the front re-signs, maps key ids and
 * passes the upstream's answers and errors through under the spec's names.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamProviderConfigSchema } from '../../src/providers/upstream/upstream-config.ts';
import type { KeyStore } from '../../src/xks/key-store.ts';
import { startProxyProcess, type ProxyProcess } from '../support/proxy-process.ts';
import { createUpstreamFront } from '../support/upstream-front.ts';
import { b64, decryptRequestBody, DEMO_PREFIX, encryptRequestBody, expectedCdiv, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

/** The upstream's own tenant: a different prefix and credential than the front's. */
const UPSTREAM_PREFIX = 'vendor/xks';
const UPSTREAM_AKID = 'UPSTREAMACCESSKEYIDABCDE2345';
const UPSTREAM_SECRET = randomBytes(36).toString('base64');

let upstream: ProxyProcess;
const fronts: KeyStore[] = [];

beforeAll(async () => {
  upstream = await startProxyProcess({ prefix: UPSTREAM_PREFIX, accessKeyId: UPSTREAM_AKID, secretAccessKey: UPSTREAM_SECRET });
});
afterAll(async () => {
  await Promise.allSettled(fronts.map((ks) => ks.close()));
  await upstream?.stop();
});

/** An in-process front proxy (demo prefix and credential) whose key store forwards to `provider`. */
function front(provider: Record<string, unknown>, opts: { requestTimeoutMs?: number } = {}) {
  const config = upstreamProviderConfigSchema.parse({
    type: 'upstream',
    uriPrefix: UPSTREAM_PREFIX,
    credential: { accessKeyId: UPSTREAM_AKID, secretAccessKey: 'env:UPSTREAM_SECRET' },
    // Generous: these tests are about answers, not timing, and share two cores.
    healthCheckTimeoutMs: 2_000,
    ...provider,
  });
  const built = createUpstreamFront(config, { configDir: '/', env: { UPSTREAM_SECRET }, requestTimeoutMs: opts.requestTimeoutMs ?? 2_000 });
  fronts.push(built.keyStore);
  return built;
}

/** A signed POST to the front; returns status, parsed JSON and the time it took. */
async function call(app: Hono, path: string, body: unknown) {
  const text = JSON.stringify(body);
  const started = performance.now();
  const res = await app.request(path, { method: 'POST', headers: signXks(path, text), body: text });
  return { status: res.status, json: (await res.json()) as Record<string, any>, ms: performance.now() - started };
}

/** A signed POST straight to the upstream process, with the upstream's credential. */
async function callUpstream(path: string, body: unknown) {
  const text = JSON.stringify(body);
  const headers = signXks(path, text, { host: new URL(upstream.url).host, accessKeyId: UPSTREAM_AKID, secretAccessKey: UPSTREAM_SECRET });
  // fetch sets content-length itself (same value) and refuses a second one.
  delete headers['content-length'];
  const res = await fetch(`${upstream.url}${path}`, { method: 'POST', headers, body: text });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** A 127.0.0.1 port nothing listens on (bound, then released): connections are refused. */
async function deadPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('forwarding to a live upstream proxy', () => {
  let app: Hono;
  beforeAll(() => {
    ({ app } = front({ endpoints: [{ url: upstream.url, id: 'vendor-a' }], keyIdMap: { 'customer-key-1': 'foo' } }));
  });

  it('GetHealthStatus reports the upstream key managers under the endpoint id, with the upstream ekmVendor', async () => {
    const { status, json } = await call(app, xksPath(DEMO_PREFIX, 'health'), { requestMetadata: { kmsRequestId: 'h1', kmsOperation: 'KmsHealthCheck' } });
    expect(status).toBe(200);
    expect(json).toMatchObject({ xksProxyFleetSize: 1, xksProxyModel: 'xks-proxy test', ekmVendor: 'xks-proxy software keystore' });
    expect(json.ekmFleetDetails).toEqual([{ id: 'vendor-a/keystore.json', model: expect.any(String), healthStatus: 'ACTIVE' }]);
  });

  it.each([
    ['customer-key-1', ['ENCRYPT', 'DECRYPT']],
    ['encrypt_only_key', ['ENCRYPT']],
    ['decrypt_only_key', ['DECRYPT']],
    ['impotent_key', []],
  ])('GetKeyMetadata of %s answers the mapped upstream key', async (keyId, usages) => {
    const { status, json } = await call(app, xksPath(DEMO_PREFIX, 'metadata', keyId), { requestMetadata: requestMetadata('DescribeKey') });
    expect(status).toBe(200);
    expect(json).toEqual({ keySpec: 'AES_256', keyUsage: usages, keyStatus: 'ENABLED' });
  });

  it('round-trips 4300 bytes with an 8192-byte AAD through the upstream', async () => {
    const plaintext = randomBytes(4300);
    const aad = b64(randomBytes(8192));
    const enc = await call(app, xksPath(DEMO_PREFIX, 'encrypt', 'customer-key-1'), encryptRequestBody(plaintext, { additionalAuthenticatedData: aad }));
    expect(enc.status).toBe(200);
    expect(Buffer.from(enc.json.ciphertext, 'base64')).toHaveLength(4300);
    const dec = await call(app, xksPath(DEMO_PREFIX, 'decrypt', 'customer-key-1'), decryptRequestBody(enc.json, { additionalAuthenticatedData: aad }));
    expect(dec.status).toBe(200);
    expect(Buffer.from(dec.json.plaintext, 'base64').equals(plaintext)).toBe(true);
  });

  it('maps the key id: a ciphertext made as customer-key-1 decrypts at the upstream as foo, and not as another key', async () => {
    const enc = await call(app, xksPath(DEMO_PREFIX, 'encrypt', 'customer-key-1'), encryptRequestBody('mapped key'));
    const asFoo = await callUpstream(xksPath(UPSTREAM_PREFIX, 'decrypt', 'foo'), decryptRequestBody(enc.json));
    expect(asFoo.status).toBe(200);
    expect(Buffer.from(asFoo.json.plaintext, 'base64').toString()).toBe('mapped key');
    const asOther = await callUpstream(xksPath(UPSTREAM_PREFIX, 'decrypt', 'decrypt_only_key'), decryptRequestBody(enc.json));
    expect(asOther.json.errorName).toBe('InvalidCiphertextException');
  });

  it('keeps absent and empty AAD apart when forwarding', async () => {
    const enc = await call(app, xksPath(DEMO_PREFIX, 'encrypt', 'foo'), encryptRequestBody('aad edge', { additionalAuthenticatedData: '' }));
    expect(enc.status).toBe(200);
    const withEmpty = await call(app, xksPath(DEMO_PREFIX, 'decrypt', 'foo'), decryptRequestBody(enc.json, { additionalAuthenticatedData: '' }));
    expect(withEmpty.status).toBe(200);
  });

  it('passes the upstream CDIV through, equal to SHA-256 over the returned fields', async () => {
    const aad = 'project=nile,department=marketing';
    const enc = await call(
      app,
      xksPath(DEMO_PREFIX, 'encrypt', 'foo'),
      encryptRequestBody('Hello World!', { additionalAuthenticatedData: b64(aad), ciphertextDataIntegrityValueAlgorithm: 'SHA_256' }),
    );
    expect(enc.status).toBe(200);
    expect(enc.json.ciphertextDataIntegrityValue).toBe(expectedCdiv(aad, enc.json));
  });

  it('forwards requestMetadata, so the upstream logs the same kmsRequestId', async () => {
    const kmsRequestId = `corr-${randomBytes(6).toString('hex')}`;
    await call(app, xksPath(DEMO_PREFIX, 'metadata', 'foo'), { requestMetadata: requestMetadata('DescribeKey', { kmsRequestId }) });
    await expect.poll(() => upstream.output().some((line) => line.includes(`"kmsRequestId":"${kmsRequestId}"`)), { timeout: 3_000 }).toBe(true);
  });

  it('passes InvalidCiphertextException through as 400 when the tag was tampered with', async () => {
    const enc = await call(app, xksPath(DEMO_PREFIX, 'encrypt', 'foo'), encryptRequestBody('tamper me'));
    const tag = Buffer.from(enc.json.authenticationTag, 'base64');
    tag[0]! ^= 1;
    const { status, json } = await call(
      app,
      xksPath(DEMO_PREFIX, 'decrypt', 'foo'),
      decryptRequestBody(enc.json, { authenticationTag: tag.toString('base64') }),
    );
    expect(status).toBe(400);
    expect(json.errorName).toBe('InvalidCiphertextException');
  });

  it('passes InvalidCiphertextException through when the AAD differs', async () => {
    const enc = await call(app, xksPath(DEMO_PREFIX, 'encrypt', 'foo'), encryptRequestBody('aad bound', { additionalAuthenticatedData: b64('a') }));
    const { status, json } = await call(app, xksPath(DEMO_PREFIX, 'decrypt', 'foo'), decryptRequestBody(enc.json, { additionalAuthenticatedData: b64('b') }));
    expect([status, json.errorName]).toEqual([400, 'InvalidCiphertextException']);
  });

  it.each([
    ['encrypt', 'decrypt_only_key', {}],
    ['decrypt', 'encrypt_only_key', {}],
    ['encrypt', 'impotent_key', {}],
    ['encrypt', 'encrypt_only_key', { ciphertextDataIntegrityValueAlgorithm: 'SHA_256' }],
  ] as const)('passes InvalidKeyUsageException through as 400 for %s with %s', async (op, keyId, extra) => {
    const body =
      op === 'encrypt'
        ? encryptRequestBody('usage', extra)
        : decryptRequestBody({ ciphertext: b64('x'), initializationVector: b64(randomBytes(12)), authenticationTag: b64(randomBytes(16)) });
    const { status, json } = await call(app, xksPath(DEMO_PREFIX, op, keyId), body);
    expect([status, json.errorName]).toEqual([400, 'InvalidKeyUsageException']);
  });

  it('passes KeyNotFoundException through as 404 for a key the upstream does not have', async () => {
    const { status, json } = await call(app, xksPath(DEMO_PREFIX, 'metadata', 'no-such-key'), { requestMetadata: requestMetadata('DescribeKey') });
    expect([status, json.errorName]).toEqual([404, 'KeyNotFoundException']);
  });
});

describe('key id map with unmapped ids rejected', () => {
  it('answers KeyNotFoundException for an unmapped id and serves a mapped one', async () => {
    const { app } = front({ endpoints: [{ url: upstream.url }], keyIdMap: { 'customer-key-1': 'foo' }, unmappedKeyIds: 'reject' });
    const unmapped = await call(app, xksPath(DEMO_PREFIX, 'metadata', 'foo'), { requestMetadata: requestMetadata('DescribeKey') });
    expect([unmapped.status, unmapped.json.errorName]).toEqual([404, 'KeyNotFoundException']);
    const mapped = await call(app, xksPath(DEMO_PREFIX, 'metadata', 'customer-key-1'), { requestMetadata: requestMetadata('DescribeKey') });
    expect(mapped.status).toBe(200);
  });
});

describe('misconfigured upstream access', () => {
  it('answers InternalException, not AuthenticationFailedException, when the upstream rejects our credential', async () => {
    const { app } = front({
      endpoints: [{ url: upstream.url }],
      credential: { accessKeyId: UPSTREAM_AKID, secretAccessKey: randomBytes(36).toString('base64') },
    });
    const { status, json } = await call(app, xksPath(DEMO_PREFIX, 'metadata', 'foo'), { requestMetadata: requestMetadata('DescribeKey') });
    expect([status, json.errorName]).toEqual([500, 'InternalException']);
    expect(json.errorMessage).toMatch(/upstream .*credential/i);
  });

  it('reports the upstream UNAVAILABLE in health when it rejects our credential', async () => {
    const { app } = front({
      endpoints: [{ url: upstream.url, id: 'vendor-a' }],
      credential: { accessKeyId: 'WRONGACCESSKEYIDABCDEFGH2345', secretAccessKey: UPSTREAM_SECRET },
    });
    const { status, json } = await call(app, xksPath(DEMO_PREFIX, 'health'), { requestMetadata: { kmsRequestId: 'h2', kmsOperation: 'KmsHealthCheck' } });
    expect(status).toBe(200);
    expect(json.ekmFleetDetails).toEqual([{ id: 'vendor-a', model: expect.any(String), healthStatus: 'UNAVAILABLE' }]);
  });

  it('answers InternalException, not InvalidUriPathException, when the upstream does not serve the configured uriPrefix', async () => {
    const { app } = front({ endpoints: [{ url: upstream.url }], uriPrefix: 'not/the/vendor/prefix' });
    const { status, json } = await call(app, xksPath(DEMO_PREFIX, 'metadata', 'foo'), { requestMetadata: requestMetadata('DescribeKey') });
    expect([status, json.errorName]).toEqual([500, 'InternalException']);
  });
});

describe('an upstream that is down', () => {
  it('answers a call to a refused port with InternalException within milliseconds', async () => {
    const { app } = front({ endpoints: [{ url: `http://127.0.0.1:${await deadPort()}` }] }, { requestTimeoutMs: 1_000 });
    const { status, json, ms } = await call(app, xksPath(DEMO_PREFIX, 'metadata', 'foo'), { requestMetadata: requestMetadata('DescribeKey') });
    expect([status, json.errorName]).toEqual([500, 'InternalException']);
    expect(ms).toBeLessThan(500);
  });

  it('reports a refused upstream as UNAVAILABLE in health', async () => {
    const { app } = front({ endpoints: [{ url: `http://127.0.0.1:${await deadPort()}`, id: 'gone' }] });
    const { status, json } = await call(app, xksPath(DEMO_PREFIX, 'health'), { requestMetadata: { kmsRequestId: 'h3', kmsOperation: 'KmsHealthCheck' } });
    expect(status).toBe(200);
    expect(json.ekmFleetDetails).toEqual([{ id: 'gone', model: 'upstream XKS proxy', healthStatus: 'UNAVAILABLE' }]);
  });

  it('fails over from a dead endpoint to a live one, and health shows both', async () => {
    const { app } = front({
      endpoints: [
        { url: `http://127.0.0.1:${await deadPort()}`, id: 'dead' },
        { url: upstream.url, id: 'live' },
      ],
    });
    const enc = await call(app, xksPath(DEMO_PREFIX, 'encrypt', 'foo'), encryptRequestBody('failover'));
    expect(enc.status).toBe(200);
    const dec = await call(app, xksPath(DEMO_PREFIX, 'decrypt', 'foo'), decryptRequestBody(enc.json));
    expect(Buffer.from(dec.json.plaintext, 'base64').toString()).toBe('failover');
    const health = await call(app, xksPath(DEMO_PREFIX, 'health'), { requestMetadata: { kmsRequestId: 'h4', kmsOperation: 'KmsHealthCheck' } });
    expect(health.json.ekmFleetDetails).toEqual([
      { id: 'dead', model: 'upstream XKS proxy', healthStatus: 'UNAVAILABLE' },
      { id: 'live/keystore.json', model: expect.any(String), healthStatus: 'ACTIVE' },
    ]);
  });
});

// Last: stops the shared upstream process.
describe('an upstream that stops while connections are open', () => {
  it('answers within the budget with a spec error once the upstream process is gone', async () => {
    const { app } = front({ endpoints: [{ url: upstream.url }] }, { requestTimeoutMs: 500 });
    expect((await call(app, xksPath(DEMO_PREFIX, 'metadata', 'foo'), { requestMetadata: requestMetadata('DescribeKey') })).status).toBe(200);
    await upstream.stop();
    const { status, json, ms } = await call(app, xksPath(DEMO_PREFIX, 'metadata', 'foo'), { requestMetadata: requestMetadata('DescribeKey') });
    expect(['InternalException', 'DependencyTimeoutException']).toContain(json.errorName);
    expect(status).toBeGreaterThanOrEqual(500);
    expect(ms).toBeLessThan(600);
  });
});

/**
 * The upstream key store over HTTPS with mutual TLS, against a second proxy process that
 * requires a client certificate (test PKI made by openssl in a temp dir).
 */
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamProviderConfigSchema } from '../../src/providers/upstream/upstream-config.ts';
import type { KeyStore } from '../../src/xks/key-store.ts';
import { startProxyProcess, type ProxyProcess } from '../support/proxy-process.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';
import { createUpstreamFront } from '../support/upstream-front.ts';
import { b64, DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

const UPSTREAM_PREFIX = 'vendor/xks';
const UPSTREAM_AKID = 'UPSTREAMACCESSKEYIDABCDE2345';
const UPSTREAM_SECRET = randomBytes(36).toString('base64');
const CLIENT_CN = 'cks.kms.us-east-1.amazonaws.com';

let pki: TestPki;
let upstream: ProxyProcess;
const fronts: KeyStore[] = [];

beforeAll(async () => {
  pki = createTestPki();
  upstream = await startProxyProcess({
    prefix: UPSTREAM_PREFIX,
    accessKeyId: UPSTREAM_AKID,
    secretAccessKey: UPSTREAM_SECRET,
    tls: { cert: pki.serverCert, key: pki.serverKey, mtls: { clientCa: pki.caCert, clientSubjectCn: CLIENT_CN } },
  });
});
afterAll(async () => {
  await Promise.allSettled(fronts.map((ks) => ks.close()));
  await upstream?.stop();
  pki?.cleanup();
});

/** A front whose upstream key store uses `tls`; paths are relative to the PKI dir (the "config dir"). */
function front(tls: Record<string, unknown> | undefined): Hono {
  const config = upstreamProviderConfigSchema.parse({
    type: 'upstream',
    endpoints: [{ url: upstream.url, id: 'vendor-tls' }],
    uriPrefix: UPSTREAM_PREFIX,
    credential: { accessKeyId: UPSTREAM_AKID, secretAccessKey: 'file:upstream-secret.txt' },
    // Generous: a first TLS handshake on two shared cores; these tests are not about timing.
    healthCheckTimeoutMs: 2_000,
    ...(tls === undefined ? {} : { tls }),
  });
  const { app, keyStore } = createUpstreamFront(config, { configDir: pki.dir, requestTimeoutMs: 2_000 });
  fronts.push(keyStore);
  return app;
}

async function call(app: Hono, path: string, body: unknown) {
  const text = JSON.stringify(body);
  const res = await app.request(path, { method: 'POST', headers: signXks(path, text), body: text });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

const metadata = (app: Hono) => call(app, xksPath(DEMO_PREFIX, 'metadata', 'foo'), { requestMetadata: requestMetadata('DescribeKey') });
const health = (app: Hono) => call(app, xksPath(DEMO_PREFIX, 'health'), { requestMetadata: { kmsRequestId: 'h', kmsOperation: 'KmsHealthCheck' } });

describe('HTTPS with a client certificate', () => {
  beforeAll(async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${pki.dir}/upstream-secret.txt`, `${UPSTREAM_SECRET}\n`, { mode: 0o600 });
  });

  it('round-trips through an upstream that requires mTLS, with the CA and client certificate from the config dir', async () => {
    const app = front({ ca: basename(pki.caCert), cert: basename(pki.clientCert), key: basename(pki.clientKey) });
    const aad = b64('tls');
    const enc = await call(app, xksPath(DEMO_PREFIX, 'encrypt', 'foo'), {
      requestMetadata: requestMetadata('Encrypt'),
      plaintext: b64('over mutual TLS'),
      encryptionAlgorithm: 'AES_GCM',
      additionalAuthenticatedData: aad,
    });
    expect(enc.status).toBe(200);
    const dec = await call(app, xksPath(DEMO_PREFIX, 'decrypt', 'foo'), {
      requestMetadata: requestMetadata('Decrypt'),
      ciphertext: enc.json.ciphertext,
      ciphertextMetadata: enc.json.ciphertextMetadata,
      initializationVector: enc.json.initializationVector,
      authenticationTag: enc.json.authenticationTag,
      encryptionAlgorithm: 'AES_GCM',
      additionalAuthenticatedData: aad,
    });
    expect(Buffer.from(dec.json.plaintext, 'base64').toString()).toBe('over mutual TLS');
    expect((await health(app)).json.ekmFleetDetails[0]).toMatchObject({ id: 'vendor-tls/keystore.json', healthStatus: 'ACTIVE' });
  });

  it('answers InternalException and reports UNAVAILABLE without a client certificate', async () => {
    const app = front({ ca: pki.caCert });
    expect((await metadata(app)).json.errorName).toBe('InternalException');
    expect((await health(app)).json.ekmFleetDetails).toEqual([{ id: 'vendor-tls', model: 'upstream XKS proxy', healthStatus: 'UNAVAILABLE' }]);
  });

  it('answers InternalException with a client certificate whose subject the upstream refuses', async () => {
    const app = front({ ca: pki.caCert, cert: pki.wrongSubjectCert, key: pki.wrongSubjectKey });
    expect((await metadata(app)).json.errorName).toBe('InternalException');
  });

  it('refuses an upstream server certificate from a CA it was not told to trust', async () => {
    const app = front({ cert: pki.clientCert, key: pki.clientKey });
    const { status, json } = await metadata(app);
    expect([status, json.errorName]).toEqual([500, 'InternalException']);
  });

  it('stops the start with the field and path when a TLS file is missing', () => {
    expect(() => front({ ca: 'no-such-ca.pem' })).toThrow(/provider\.tls\.ca: cannot read .*no-such-ca\.pem \(ENOENT\)/);
  });
});

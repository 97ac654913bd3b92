import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

let pki: TestPki;
let fx: SoftwareFixture;
let proxy: RunningProxy;
let port: number;

const HEALTH = xksPath(DEMO_PREFIX, 'health');
const BODY = JSON.stringify({ requestMetadata: requestMetadata('KmsHealthCheck') });

beforeAll(async () => {
  pki = createTestPki();
  fx = await createSoftwareFixture();
  const raw = softwareConfig(fx.keystorePath, fx.kekHex, {
    server: {
      host: '127.0.0.1',
      port: 0,
      tls: { cert: pki.serverCert, key: pki.serverKey, mtls: { clientCa: pki.caCert, clientSubjectCn: 'cks.kms.us-east-1.amazonaws.com' } },
    },
  });
  const config = parseConfig(raw, 'test.yaml');
  proxy = await startProxy({ config, file: 'test.yaml', configDir: fx.dir }, { logger: pino({ level: 'silent' }) });
  port = proxy.listener.address.port;
});
afterAll(async () => {
  await proxy?.close();
  await fx?.cleanup();
  pki?.cleanup();
});

interface ClientTls {
  cert?: string;
  key?: string;
  maxVersion?: tls.SecureVersion;
  minVersion?: tls.SecureVersion;
}

/** One HTTP/1.1 POST over TLS; resolves with status or rejects on a refused handshake. */
function postHttp1(client: ClientTls): Promise<{ status: number; protocol: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        method: 'POST',
        path: HEALTH,
        ca: readFileSync(pki.caCert),
        cert: client.cert ? readFileSync(client.cert) : undefined,
        key: client.key ? readFileSync(client.key) : undefined,
        maxVersion: client.maxVersion,
        minVersion: client.minVersion,
        headers: signXks(HEALTH, BODY, { host: `localhost:${port}` }),
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, protocol: (res.socket as tls.TLSSocket).getProtocol() ?? '', body }));
      },
    );
    req.on('error', reject);
    req.end(BODY);
  });
}

describe('TLS listener', () => {
  it('serves HTTP/1.1 over TLS 1.3 to a client with the right certificate', async () => {
    const res = await postHttp1({ cert: pki.clientCert, key: pki.clientKey });
    expect(res.status).toBe(200);
    expect(res.protocol).toBe('TLSv1.3');
  });

  it('negotiates a spec cipher suite over TLS 1.2', async () => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(pki.caCert),
      maxVersion: 'TLSv1.2',
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
    });
    const cipher = await new Promise<string>((resolve, reject) => {
      socket.once('secureConnect', () => resolve(socket.getCipher().standardName));
      socket.once('error', reject);
    });
    socket.destroy();
    // The server key is ECDSA P-256: the spec's TLS 1.2 suite for it.
    expect(cipher).toBe('TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
  });

  it('refuses TLS 1.1', async () => {
    await expect(postHttp1({ cert: pki.clientCert, key: pki.clientKey, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
  });

  it('serves HTTP/2 on the same port', async () => {
    const session = http2.connect(`https://localhost:${port}`, {
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
    });
    try {
      const headers = signXks(HEALTH, BODY, { host: `localhost:${port}` });
      delete headers.host;
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': HEALTH, ...headers });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
        req.end(BODY);
      });
      // SigV4 over HTTP/2 verifies against :authority in place of host.
      expect(status).toBe(200);
    } finally {
      session.close();
    }
  });
});

describe('mTLS', () => {
  it('refuses a client without a certificate', async () => {
    await expect(postHttp1({})).rejects.toThrow();
  });

  it('refuses a client certificate from another CA', async () => {
    await expect(postHttp1({ cert: pki.otherCaCert, key: pki.otherCaKey })).rejects.toThrow();
  });

  it('refuses a client certificate with the wrong subject', async () => {
    await expect(postHttp1({ cert: pki.wrongSubjectCert, key: pki.wrongSubjectKey })).rejects.toThrow();
  });
});

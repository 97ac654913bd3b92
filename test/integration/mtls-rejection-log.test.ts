/**
 * Issue 21 item 10: a rejected client certificate (none, unknown CA, expired, wrong
 * subject) is a warn line naming the peer, the certificate's subject and the verify error,
 * rate-limited per kind; the rejected client's request never reaches the app.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createOpsDir, demoConfig, encryptBody, type OpsDir } from './ops-fixture.ts';
import { DEMO_PREFIX, signXks, xksPath } from '../support/xks-client.ts';

let pki: TestPki;
let expiredCert: string;

/** A client certificate from the test CA that expired in 2020, made with `openssl ca` (x509 -req cannot backdate). */
function makeExpiredClient(p: TestPki): string {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: p.dir, stdio: 'pipe' });
  writeFileSync(
    join(p.dir, 'expired-ca.cnf'),
    '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n',
  );
  writeFileSync(join(p.dir, 'index.txt'), '');
  writeFileSync(join(p.dir, 'serial'), '1000\n');
  writeFileSync(join(p.dir, 'expired.ext'), 'extendedKeyUsage=clientAuth\n');
  run(['req', '-new', '-key', p.clientKey, '-subj', '/CN=cks.kms.us-east-1.amazonaws.com', '-out', 'expired.csr']);
  run([
    'ca',
    '-batch',
    '-config',
    'expired-ca.cnf',
    '-cert',
    p.caCert,
    '-keyfile',
    join(p.dir, 'ca.key'),
    '-in',
    'expired.csr',
    '-out',
    'expired.crt',
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200102000000Z',
    '-extfile',
    'expired.ext',
    '-notext',
  ]);
  return join(p.dir, 'expired.crt');
}

beforeAll(() => {
  pki = createTestPki();
  expiredCert = makeExpiredClient(pki);
});
afterAll(() => pki?.cleanup());

/** One signed encrypt over HTTP/1.1 + TLS with the given client certificate: the status, or the error code. */
function call(base: string, client: { cert?: string; key?: string }): Promise<string> {
  const path = xksPath(DEMO_PREFIX, 'encrypt');
  const body = encryptBody('mtls');
  const url = new URL(base);
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path,
        headers: signXks(path, body),
        agent: false,
        rejectUnauthorized: false,
        ...(client.cert !== undefined ? { cert: readFileSync(client.cert), key: readFileSync(client.key!) } : {}),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(`HTTP ${res.statusCode}`));
      },
    );
    req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    req.end(body);
  });
}

describe('mTLS rejections in the log', () => {
  let d: OpsDir;
  let p: { proxy: RunningProxy; logs: Array<Record<string, unknown>> };

  beforeAll(async () => {
    d = await createOpsDir();
    const logs: Array<Record<string, unknown>> = [];
    const destination = new Writable({ write: (c, _e, cb) => (logs.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) });
    const config = demoConfig(d, {
      server: {
        host: '127.0.0.1',
        port: 0,
        requestTimeoutMs: 2000,
        tls: { cert: pki.serverCert, key: pki.serverKey, mtls: { clientCa: pki.caCert, clientSubjectCn: 'cks.kms.us-east-1.amazonaws.com' } },
      },
      logging: { level: 'info', pretty: false },
    });
    const proxy = await startProxy(
      { config: parseConfig(config, d.configFile), file: d.configFile, configDir: d.dir },
      { logger: createLogger({ level: 'info', destination }) },
    );
    p = { proxy, logs };
  });
  afterAll(async () => {
    await p?.proxy.close();
    await d?.cleanup();
  });

  const rejections = () => p.logs.filter((l) => l['msg'] === 'mTLS client certificate rejected');

  it.each([
    ['no certificate', () => ({}), 'no client certificate', undefined],
    [
      'a certificate from an unknown CA',
      () => ({ cert: pki.otherCaCert, key: pki.otherCaKey }),
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'CN=cks.kms.us-east-1.amazonaws.com',
    ],
    ['an expired certificate', () => ({ cert: expiredCert, key: pki.clientKey }), 'CERT_HAS_EXPIRED', 'CN=cks.kms.us-east-1.amazonaws.com'],
    [
      'the wrong subject',
      () => ({ cert: pki.wrongSubjectCert, key: pki.wrongSubjectKey }),
      'subject CN is not cks.kms.us-east-1.amazonaws.com',
      'CN=someone.else.example',
    ],
  ])('refuses %s with a warn naming peer, subject and verify error; the request never reaches the app', async (_name, client, verifyError, subject) => {
    const before = rejections().length;
    const requestLines = p.logs.filter((l) => l['msg'] === 'xks request').length;
    expect(await call(p.proxy.url, client())).toMatch(/^error /);
    await expect.poll(() => rejections().length).toBe(before + 1);
    const line = rejections().at(-1)!;
    expect(line).toMatchObject({ level: 40, peerAddress: '127.0.0.1', verifyError });
    if (subject !== undefined) expect(line['clientSubject']).toBe(subject);
    expect(p.logs.filter((l) => l['msg'] === 'xks request').slice(requestLines)).toEqual([]);
  });

  it('warns once per kind per minute: a flood of expired certificates is one line', async () => {
    const before = rejections().length;
    const requestLines = p.logs.filter((l) => l['msg'] === 'xks request').length;
    for (let i = 0; i < 5; i++) expect(await call(p.proxy.url, { cert: expiredCert, key: pki.clientKey })).toMatch(/^error /);
    expect(rejections().length).toBe(before);
    expect(p.logs.filter((l) => l['msg'] === 'xks request').length).toBe(requestLines);
  });

  it('over HTTP/2 too, a rejected client gets no answer and its request is not served', async () => {
    const requestLines = p.logs.filter((l) => l['msg'] === 'xks request').length;
    const path = xksPath(DEMO_PREFIX, 'encrypt');
    const body = encryptBody('h2');
    const outcome = await new Promise<string>((resolve) => {
      const session = http2.connect(p.proxy.url, {
        rejectUnauthorized: false,
        cert: readFileSync(pki.wrongSubjectCert),
        key: readFileSync(pki.wrongSubjectKey),
      });
      session.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      const req = session.request({ ':method': 'POST', ':path': path, ...signXks(path, body) });
      req.on('response', (h) => resolve(`HTTP ${h[':status']}`));
      req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      req.on('close', () => resolve('closed'));
      req.end(body);
    });
    expect(outcome).not.toMatch(/^HTTP/);
    await new Promise((r) => setTimeout(r, 200));
    expect(p.logs.filter((l) => l['msg'] === 'xks request').length).toBe(requestLines);
  });

  it('serves the right certificate', async () => {
    expect(await call(p.proxy.url, { cert: pki.clientCert, key: pki.clientKey })).toBe('HTTP 200');
  });
});

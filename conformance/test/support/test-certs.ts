/** A throwaway CA, server certificate (127.0.0.1) and client certificate, made with openssl in a temp dir. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { issueExpiredCert } from '../../src/untrusted-client-cert.ts';

const run = promisify(execFile);

/** PEM material for a TLS test. */
export interface TestCerts {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from the same CA that expired in 2020. */
  expiredClientCert: string;
  expiredClientKey: string;
}

/** Issues a client certificate of the test CA valid only on 1-2 January 2020. */
async function issueExpired(dir: string): Promise<void> {
  const subject = '/CN=cks.kms.us-east-1.amazonaws.com';
  await run('openssl', [
    'req',
    '-new',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'expired.key'),
    '-out',
    join(dir, 'expired.csr'),
    '-subj',
    subject,
  ]);
  await issueExpiredCert(dir, 'expired.csr', 'expired.pem');
}

async function issue(dir: string, name: string, subject: string, ext: string): Promise<void> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  await writeFile(extFile, ext);
  await run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    join(dir, 'ca.pem'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-out',
    join(dir, `${name}.pem`),
    '-days',
    '1',
    '-extfile',
    extFile,
  ]);
}

/** Makes the certificates and deletes the directory they were made in. */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'xks-conformance-certs-'));
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'ca.key'),
      '-out',
      join(dir, 'ca.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=conformance test CA',
    ]);
    await issue(dir, 'server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    await issue(dir, 'client', '/CN=cks.kms.us-east-1.amazonaws.com', 'extendedKeyUsage=clientAuth\n');
    await issueExpired(dir);
    const read = (f: string) => readFile(join(dir, f), 'utf8');
    return {
      ca: await read('ca.pem'),
      serverCert: await read('server.pem'),
      serverKey: await read('server.key'),
      clientCert: await read('client.pem'),
      clientKey: await read('client.key'),
      expiredClientCert: await read('expired.pem'),
      expiredClientKey: await read('expired.key'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

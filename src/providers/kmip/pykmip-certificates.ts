/**
 * A throwaway PKI for a local PyKMIP server (tests and `npm run demo:kmip`): a CA, a
 * server certificate for 127.0.0.1/localhost and a client certificate, made with the
 * `openssl` command. EC P-256 keys: generated in milliseconds, and PyKMIP's TLS 1.2 suite
 * offers ECDHE-ECDSA-AES256-GCM-SHA384. Never for production keys.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the generated PEM files. */
export interface KmipPkiFiles {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** The PEM file names `createKmipPki` writes into its directory. */
export function kmipPkiPaths(dir: string): KmipPkiFiles {
  return {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 20_000 });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (e as Error).message}`);
  }
}

async function issue(dir: string, name: string, subject: string, extensions: string, ca: KmipPkiFiles, days: number): Promise<void> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
  await writeFile(ext, extensions);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.caCert,
    '-CAkey',
    ca.caKey,
    '-CAcreateserial',
    '-out',
    join(dir, `${name}.pem`),
    '-days',
    String(days),
    '-extfile',
    ext,
  ]);
}

/**
 * Creates the CA, server and client certificates in `dir`. The client certificate's CN is
 * the identity that owns the keys it creates in PyKMIP; it carries extendedKeyUsage
 * clientAuth, which PyKMIP requires.
 */
export async function createKmipPki(dir: string, options: { clientCn?: string; days?: number } = {}): Promise<KmipPkiFiles> {
  const files = kmipPkiPaths(dir);
  const days = options.days ?? 825;
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    files.caKey,
    '-out',
    files.caCert,
    '-days',
    String(days),
    '-subj',
    '/CN=xks-proxy KMIP test CA',
  ]);
  await issue(dir, 'server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n', files, days);
  await issue(dir, 'client', `/CN=${options.clientCn ?? 'xks-proxy'}`, 'extendedKeyUsage=clientAuth\n', files, days);
  return files;
}

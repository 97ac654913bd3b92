/** A throwaway self-signed client certificate, to see that mTLS refuses untrusted clients. */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM certificate and key. */
export interface PemPair {
  cert: string;
  key: string;
}

/**
 * Makes a self-signed certificate with the CN KMS uses (so only the chain is wrong) using
 * the openssl command; resolves undefined when openssl is not installed.
 */
export async function makeUntrustedClientCert(region: string): Promise<PemPair | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'xks-conformance-'));
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      `/CN=cks.kms.${region}.amazonaws.com`,
    ]);
    return { cert: await readFile(join(dir, 'cert.pem'), 'utf8'), key: await readFile(join(dir, 'key.pem'), 'utf8') };
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `openssl ca` settings for signing one certificate with chosen validity dates. */
const CA_CONFIG = `[ca]
default_ca = throwaway
[throwaway]
database = index.txt
new_certs_dir = issued
serial = serial.txt
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
`;

/** The validity window of a certificate that expired long ago: 1-2 January 2020. */
const EXPIRED_WINDOW = { start: '20200101000000Z', end: '20200102000000Z' };

/**
 * Signs `csrFile` with the CA in `dir` (ca.pem, ca.key) into `outFile`, valid only on
 * 1-2 January 2020. `openssl req`/`x509` cannot back-date a certificate; `openssl ca` can,
 * given a database, a serial file and a config of its own, which this writes into `dir`.
 */
export async function issueExpiredCert(dir: string, csrFile: string, outFile: string): Promise<void> {
  await mkdir(join(dir, 'issued'));
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial.txt'), '01\n');
  await writeFile(join(dir, 'ca.cnf'), CA_CONFIG);
  const window = ['-startdate', EXPIRED_WINDOW.start, '-enddate', EXPIRED_WINDOW.end];
  await run('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', csrFile, '-out', outFile, ...window, '-notext'], {
    cwd: dir,
  });
}

/**
 * Makes a client certificate with the CN KMS uses that expired in 2020, issued by a
 * throwaway CA. Resolves undefined when openssl is not installed.
 */
export async function makeExpiredClientCert(region: string): Promise<PemPair | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'xks-conformance-'));
  const at = (f: string) => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await run('openssl', ['req', '-x509', ...ec, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '1', '-subj', '/CN=conformance throwaway CA']);
    await run('openssl', ['req', '-new', ...ec, '-keyout', at('key.pem'), '-out', at('req.csr'), '-subj', `/CN=cks.kms.${region}.amazonaws.com`]);
    await issueExpiredCert(dir, 'req.csr', 'cert.pem');
    return { cert: await readFile(at('cert.pem'), 'utf8'), key: await readFile(at('key.pem'), 'utf8') };
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

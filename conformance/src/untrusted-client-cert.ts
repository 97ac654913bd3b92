/** A throwaway self-signed client certificate, to see that mTLS refuses untrusted clients. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', `/CN=cks.kms.${region}.amazonaws.com`,
    ]);
    return { cert: await readFile(join(dir, 'cert.pem'), 'utf8'), key: await readFile(join(dir, 'key.pem'), 'utf8') };
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

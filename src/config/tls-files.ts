import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { ProxyConfig } from './schema.ts';

/** A TLS file of the config that the listener could not use, named by its field. */
export interface TlsFileProblem {
  field: string;
  message: string;
}

/** Node's error code or first line: enough to act on, without OpenSSL's stack of frames. */
function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES') return 'permission denied';
  return (err.message ?? String(e)).split('\n')[0]!;
}

function readField(field: string, file: string, configDir: string, problems: TlsFileProblem[]): Buffer | undefined {
  const path = resolve(configDir, file);
  try {
    return readFileSync(path);
  } catch (e) {
    problems.push({ field, message: `cannot read ${path}: ${reason(e)}` });
    return undefined;
  }
}

/** PEM certificates in a file, parsed one by one so a broken one is named. */
function parseCertificates(field: string, pem: Buffer, problems: TlsFileProblem[]): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    problems.push({ field, message: 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)' });
    return [];
  }
  const certs: X509Certificate[] = [];
  blocks.forEach((block, i) => {
    try {
      certs.push(new X509Certificate(block));
    } catch (e) {
      problems.push({ field, message: `certificate ${i + 1} cannot be parsed: ${reason(e)}` });
    }
  });
  return certs;
}

/**
 * Loads the listener's TLS files as `serve` would (certificate chain, private key, mTLS
 * client CA) and says which field is wrong: a missing file, a file that is not PEM, or a key
 * that does not belong to the certificate. Without this, `config check` said "valid" and
 * `serve` then stopped with OpenSSL's own text.
 */
export function checkTlsFiles(config: ProxyConfig, configDir: string): TlsFileProblem[] {
  const tls = config.server.tls;
  if (tls === undefined) return [];
  const problems: TlsFileProblem[] = [];
  const certPem = readField('server.tls.cert', tls.cert, configDir, problems);
  const keyPem = readField('server.tls.key', tls.key, configDir, problems);
  const leaf = certPem === undefined ? undefined : parseCertificates('server.tls.cert', certPem, problems)[0];
  let keyOk = false;
  if (keyPem !== undefined) {
    try {
      createPrivateKey(keyPem);
      keyOk = true;
    } catch (e) {
      problems.push({ field: 'server.tls.key', message: `is not a PEM private key: ${reason(e)}` });
    }
  }
  if (leaf !== undefined && keyOk && certPem !== undefined && keyPem !== undefined) {
    // The first certificate must be the one the key signs for (leaf first, then intermediates).
    try {
      if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) {
        problems.push({ field: 'server.tls.key', message: 'does not match server.tls.cert (the first certificate in that file must be the one for this key)' });
      } else {
        createSecureContext({ cert: certPem, key: keyPem });
      }
    } catch (e) {
      problems.push({ field: 'server.tls.cert', message: `cannot be used with server.tls.key: ${reason(e)}` });
    }
  }
  if (tls.mtls !== undefined) {
    const caPem = readField('server.tls.mtls.clientCa', tls.mtls.clientCa, configDir, problems);
    if (caPem !== undefined) parseCertificates('server.tls.mtls.clientCa', caPem, problems);
  }
  return problems;
}

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/load-config.ts';
import { errorText, fail, ok, type CheckResult } from './check-result.ts';
import { certificateChecks, type ServedTlsOptions } from './tls-check.ts';
import { splitPem } from './tls-config-check.ts';

/**
 * The configured certificate and key checked as files, for when no listener serves them:
 * the key belongs to the certificate, and expiry, host name, chain and KMS trust of the
 * chain in server.tls.cert (what the listener would send). Handshake and cipher suites need
 * a running listener and are not claimed here.
 */
export function checkCertificateFiles(loaded: LoadedConfig, opts: Omit<ServedTlsOptions, 'label'>): CheckResult[] {
  const tls = loaded.config.server.tls;
  if (tls === undefined) return [];
  const certFile = resolve(loaded.configDir, tls.cert);
  const subject = `server.tls.cert ${certFile} (file; not served)`;
  let chain: X509Certificate[];
  try {
    chain = splitPem(readFileSync(certFile, 'utf8')).map((pem) => new X509Certificate(pem));
  } catch (e) {
    return [
      fail({
        group: 'tls',
        id: 'tls.files',
        subject,
        message: `cannot read the certificate: ${errorText(e)}`,
        fix: 'point server.tls.cert at a PEM file (leaf first, then the intermediates)',
        kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
      }),
    ];
  }
  if (chain.length === 0) {
    return [
      fail({
        group: 'tls',
        id: 'tls.files',
        subject,
        message: 'the file holds no PEM certificate',
        fix: 'point server.tls.cert at a PEM file (leaf first, then the intermediates)',
        kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
      }),
    ];
  }
  const keyFile = resolve(loaded.configDir, tls.key);
  let keyLine: CheckResult;
  try {
    const matches = chain[0]!.checkPrivateKey(createPrivateKey(readFileSync(keyFile)));
    keyLine = matches
      ? ok({ group: 'tls', id: 'tls.files', subject, message: `server.tls.key ${keyFile} belongs to the certificate` })
      : fail({
          group: 'tls',
          id: 'tls.files',
          subject,
          message: `server.tls.key ${keyFile} does not match server.tls.cert`,
          fix: 'configure the key the certificate was issued for',
          kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
        });
  } catch (e) {
    keyLine = fail({
      group: 'tls',
      id: 'tls.files',
      subject,
      message: `cannot read server.tls.key ${keyFile}: ${errorText(e)}`,
      fix: 'point server.tls.key at the PEM private key of the certificate',
      kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
    });
  }
  return [keyLine, ...certificateChecks(chain, subject, opts)];
}

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/load-config.ts';
import { errorText, fail, ok, warn, type CheckResult } from './check-result.ts';
import { oneLineName } from './tls-chain.ts';

/**
 * The subject KMS's client certificate carries (spec "Authentication": CN
 * `cks.kms.<Region>.amazonaws.com`); `.cn` for the China partition.
 */
const KMS_CLIENT_CN = /^cks\.kms\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/** KMS's client certificate chains to Amazon Trust Services (spec "Authentication"). */
const AMAZON_TRUST_ROOTS = /^(Amazon Root CA [1-4]|Starfield Services Root Certificate Authority - G2)$/;

/** Checks of the TLS settings that need no connection: plain HTTP, and the mTLS client rules. */
export function checkTlsConfig(loaded: LoadedConfig, opts: { endpointGiven: boolean }): CheckResult[] {
  const { server, keyStores } = loaded.config;
  const subject = 'server.tls';
  if (server.tls === undefined) {
    if (opts.endpointGiven) {
      return [
        ok({
          group: 'tls',
          id: 'tls.listener',
          subject,
          message: 'the listener serves plain HTTP; TLS is terminated in front of it and checked at the endpoint below',
        }),
      ];
    }
    return [
      warn({
        group: 'tls',
        id: 'tls.listener',
        subject,
        message: 'the listener serves plain HTTP and KMS only connects over HTTPS',
        fix: 'set server.tls, or if a load balancer terminates TLS run the doctor with --endpoint https://<public name> to check it',
        kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
      }),
    ];
  }
  const mtls = server.tls.mtls;
  if (mtls === undefined) return [];
  const results: CheckResult[] = [];
  const regions = [...new Set(keyStores.map((k) => k.region))];
  const cn = KMS_CLIENT_CN.exec(mtls.clientSubjectCn);
  if (cn === null || !regions.includes(cn[1]!)) {
    const expected = regions.map((r) => `cks.kms.${r}.amazonaws.com`).join(' or ');
    results.push(
      fail({
        group: 'tls',
        id: 'tls.mtls-subject',
        subject: 'server.tls.mtls.clientSubjectCn',
        message: `KMS presents CN=${expected} but the listener requires CN=${mtls.clientSubjectCn}, so every KMS connection is refused`,
        fix: `set clientSubjectCn to ${expected} (the region of the key store)`,
        kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
      }),
    );
  } else {
    results.push(
      ok({
        group: 'tls',
        id: 'tls.mtls-subject',
        subject: 'server.tls.mtls.clientSubjectCn',
        message: `client certificates must have CN=${mtls.clientSubjectCn}, as KMS's does`,
      }),
    );
  }
  results.push(checkClientCa(resolve(loaded.configDir, mtls.clientCa)));
  return results;
}

function checkClientCa(file: string): CheckResult {
  const subject = 'server.tls.mtls.clientCa';
  let certs: X509Certificate[];
  try {
    certs = splitPem(readFileSync(file, 'utf8')).map((pem) => new X509Certificate(pem));
  } catch (e) {
    return fail({
      group: 'tls',
      id: 'tls.mtls-ca',
      subject,
      message: `cannot read ${file}: ${errorText(e)}`,
      fix: 'point clientCa at a PEM file of the Amazon Trust Services root CAs',
      kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
    });
  }
  const names = certs.map(
    (c) =>
      c.subject
        .split('\n')
        .find((p) => p.startsWith('CN='))
        ?.slice(3) ?? oneLineName(c.subject),
  );
  if (!names.some((n) => AMAZON_TRUST_ROOTS.test(n))) {
    return fail({
      group: 'tls',
      id: 'tls.mtls-ca',
      subject,
      message: `${file} holds ${names.length === 0 ? 'no certificate' : names.join(', ')}, but KMS's client certificate chains to Amazon Trust Services`,
      fix: 'put the Amazon Root CA 1-4 certificates (www.amazontrust.com/repository) in clientCa',
      kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
    });
  }
  return ok({
    group: 'tls',
    id: 'tls.mtls-ca',
    subject,
    message: `trusts ${names.filter((n) => AMAZON_TRUST_ROOTS.test(n)).join(', ')} for client certificates`,
  });
}

/** Every PEM certificate block in a file. */
export function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

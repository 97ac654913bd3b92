import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { packagePath } from '../package-root.ts';

/** One root CA that AWS KMS accepts for an XKS proxy's server certificate. */
export interface KmsTrustedCa {
  alias: string;
  /** Subject as the list prints it, e.g. `CN=Amazon Root CA 1, O=Amazon, C=US`. */
  subject: string;
  notAfter: string;
  /** SHA-256 fingerprint, lower-case hex without colons. */
  sha256: string;
}

/** The shipped list and where it came from. */
export interface KmsTrustedCaList {
  source: string;
  sourceCommit: string;
  /** Date of the list in the spec repository (YYYY-MM-DD). */
  listDate: string;
  authorities: KmsTrustedCa[];
}

let cached: KmsTrustedCaList | undefined;

/**
 * The TrustedCertificateAuthorities list of the XKS spec repository (spec "Authentication":
 * the proxy's certificate MUST be issued by one of these), shipped as data.
 */
export function kmsTrustedCas(): KmsTrustedCaList {
  cached ??= JSON.parse(readFileSync(packagePath('src', 'diagnostics', 'kms-trusted-cas.json'), 'utf8')) as KmsTrustedCaList;
  return cached;
}

/** Lower-case hex SHA-256 fingerprint of a certificate. */
export function sha256Fingerprint(cert: X509Certificate): string {
  return cert.fingerprint256.replace(/:/g, '').toLowerCase();
}

/**
 * The KMS-trusted CA a certificate is, if any: by fingerprint, else by the same subject
 * attributes (a root re-issued with the same name and key is still the same authority).
 */
export function findKmsTrustedCa(cert: X509Certificate, list: KmsTrustedCaList = kmsTrustedCas()): KmsTrustedCa | undefined {
  const fingerprint = sha256Fingerprint(cert);
  const byFingerprint = list.authorities.find((ca) => ca.sha256 === fingerprint);
  if (byFingerprint !== undefined) return byFingerprint;
  const subject = subjectKey(cert.subject.split('\n'));
  return list.authorities.find((ca) => subjectKey(splitListSubject(ca.subject)) === subject);
}

/** A subject as a sorted set of `attr=value`, so order and separators do not matter. */
function subjectKey(parts: string[]): string {
  return parts
    .map((p) => p.trim().replace(/\\,/g, ','))
    .filter((p) => p !== '')
    .sort()
    .join('|');
}

/** Splits `CN=a, O=b\, c, C=US` on the commas that separate attributes. */
function splitListSubject(subject: string): string[] {
  return subject.split(/, (?=[A-Za-z0-9.]+=)/);
}

import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { findKmsTrustedCa, type KmsTrustedCa } from './kms-trusted-cas.ts';

/** Where the trust anchor of a chain was found. */
export type RootSource = 'sent' | 'public-store' | 'extra-ca';

/** What the doctor learned about a served chain. */
export interface ChainAnalysis {
  /** Leaf first, then each issuer, up to the root when one was found. */
  path: X509Certificate[];
  /** True when the path reaches a self-signed root (sent, public or given with --ca). */
  complete: boolean;
  /** Issuer name of the last certificate when no issuer could be found for it. */
  missingIssuer?: string;
  root?: X509Certificate;
  rootSource?: RootSource;
  /** The first certificate of the path that KMS trusts, if any. */
  kmsTrusted?: KmsTrustedCa;
  /** Certificates the server sent that are not on the path (wrong or extra intermediates). */
  unused: X509Certificate[];
}

/** Trust stores the analysis searches for issuers the server did not send. */
export interface ChainStores {
  /** Roots the operator passed (e.g. a private CA) with --ca. */
  extraRoots?: readonly X509Certificate[];
  /** Public roots; default: the Mozilla store compiled into Node. */
  publicRoots?: readonly X509Certificate[];
}

let publicStore: X509Certificate[] | undefined;

/** Node's bundled public root store as certificates. */
export function publicRootStore(): X509Certificate[] {
  publicStore ??= tls.rootCertificates.map((pem) => new X509Certificate(pem));
  return publicStore;
}

/** True when `issuer` signed `cert` (name match and signature). */
function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** True for a self-signed certificate (a root, or a lone self-signed leaf). */
export function isSelfSigned(cert: X509Certificate): boolean {
  return issuedBy(cert, cert);
}

/**
 * Builds the path from the served leaf to a root the way a client does: issuers from what
 * the server sent first, then from the given stores. A path that stops at an issuer found
 * nowhere means an intermediate is missing (or the root is a private one not given).
 */
export function analyzeChain(sent: readonly X509Certificate[], stores: ChainStores = {}): ChainAnalysis {
  const leaf = sent[0];
  if (leaf === undefined) return { path: [], complete: false, unused: [] };
  const extra = stores.extraRoots ?? [];
  const publicRoots = stores.publicRoots ?? publicRootStore();
  const path: X509Certificate[] = [leaf];
  const used = new Set<X509Certificate>([leaf]);
  let rootSource: RootSource | undefined;
  let current = leaf;
  for (let depth = 0; depth < 10; depth++) {
    if (isSelfSigned(current)) {
      rootSource = rootSourceOf(current, extra, publicRoots);
      break;
    }
    const fromSent = sent.find((c) => !used.has(c) && issuedBy(current, c));
    if (fromSent !== undefined) {
      path.push(fromSent);
      used.add(fromSent);
      current = fromSent;
      continue;
    }
    const fromExtra = extra.find((c) => issuedBy(current, c));
    const fromPublic = fromExtra === undefined ? publicRoots.find((c) => issuedBy(current, c)) : undefined;
    const anchor = fromExtra ?? fromPublic;
    if (anchor !== undefined) {
      path.push(anchor);
      current = anchor;
      // An anchor from a store ends the path even if it is a cross-signed intermediate.
      rootSource = fromExtra !== undefined ? 'extra-ca' : 'public-store';
      break;
    }
    break;
  }
  const complete = rootSource !== undefined;
  const kmsTrusted = path.map((c) => findKmsTrustedCa(c)).find((ca) => ca !== undefined);
  return {
    path,
    complete,
    ...(complete ? { root: current, rootSource } : { missingIssuer: oneLineName(current.issuer) }),
    ...(kmsTrusted !== undefined ? { kmsTrusted } : {}),
    unused: sent.filter((c) => !used.has(c)),
  };
}

/** A self-signed certificate the server sent may still be a root some store holds. */
function rootSourceOf(root: X509Certificate, extra: readonly X509Certificate[], publicRoots: readonly X509Certificate[]): RootSource {
  const same = (c: X509Certificate) => c.fingerprint256 === root.fingerprint256;
  if (publicRoots.some(same)) return 'public-store';
  return extra.some(same) ? 'extra-ca' : 'sent';
}

/** A distinguished name on one line, `CN=x, O=y`. */
export function oneLineName(name: string): string {
  return name.split('\n').reverse().join(', ');
}

/** The CN of a certificate's subject (or its whole subject on one line when it has none), for short chain listings. */
export function shortName(cert: X509Certificate): string {
  return cert.subject.split('\n').find((part) => part.startsWith('CN=')) ?? oneLineName(cert.subject);
}

/** Whole days from `now` until the certificate expires (negative once expired). */
export function daysLeft(cert: X509Certificate, now: Date): number {
  return Math.floor((Date.parse(cert.validTo) - now.getTime()) / 86_400_000);
}

/** How a certificate's names match a host name KMS will use. */
export type HostnameMatch = { kind: 'san'; name: string } | { kind: 'cn-only'; name: string } | { kind: 'none' };

/**
 * Checks the leaf against the public host name with RFC 6125 rules (a wildcard covers one
 * left-most label only). A match through the subject CN alone is reported separately:
 * current TLS clients ignore the CN when deciding whether a name matches.
 */
export function matchHostname(leaf: X509Certificate, hostname: string): HostnameMatch {
  const ip = /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.includes(':');
  if (ip) return leaf.checkIP(hostname) !== undefined ? { kind: 'san', name: hostname } : { kind: 'none' };
  const options = { wildcards: true, partialWildcards: false, multiLabelWildcards: false, singleLabelSubdomains: false };
  const viaSan = leaf.checkHost(hostname, { ...options, subject: 'never' });
  if (viaSan !== undefined) return { kind: 'san', name: viaSan };
  const viaCn = leaf.checkHost(hostname, { ...options, subject: 'always' });
  return viaCn !== undefined ? { kind: 'cn-only', name: viaCn } : { kind: 'none' };
}

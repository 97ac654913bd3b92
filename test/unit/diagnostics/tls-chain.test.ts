import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findKmsTrustedCa, kmsTrustedCas } from '../../../src/diagnostics/kms-trusted-cas.ts';
import { splitPem } from '../../../src/diagnostics/tls-config-check.ts';
import { analyzeChain, daysLeft, matchHostname } from '../../../src/diagnostics/tls-chain.ts';
import { createBrokenPki, type BrokenPki } from './support/broken-pki.ts';

let pki: BrokenPki;
const certs = (file: string) => splitPem(readFileSync(file, 'utf8')).map((pem) => new X509Certificate(pem));
const publicRoot = (cn: string) => tls.rootCertificates.map((p) => new X509Certificate(p)).find((c) => c.subject.includes(`CN=${cn}`))!;

beforeAll(() => {
  pki = createBrokenPki();
});
afterAll(() => pki?.cleanup());

describe('chain analysis', () => {
  it('follows leaf -> intermediate -> private root given as an extra CA', () => {
    const chain = analyzeChain(certs(pki.fullChain), { extraRoots: certs(pki.rootCert) });
    expect(chain.complete).toBe(true);
    expect(chain.rootSource).toBe('extra-ca');
    expect(chain.path.map((c) => c.subject.split('\n')[0])).toEqual(['CN=xks.doctor.test', 'CN=Doctor Test Intermediate', 'CN=Doctor Test Root']);
    expect(chain.kmsTrusted).toBeUndefined();
  });

  it('names the issuer whose certificate the server did not send', () => {
    const chain = analyzeChain(certs(pki.leafOnly), { extraRoots: certs(pki.rootCert) });
    expect(chain.complete).toBe(false);
    expect(chain.missingIssuer).toContain('CN=Doctor Test Intermediate');
  });

  it('reports a complete chain whose root nobody trusts as ending in the server-sent root', () => {
    const sent = [...certs(pki.fullChain), ...certs(pki.rootCert)];
    const chain = analyzeChain(sent);
    expect(chain.complete).toBe(true);
    expect(chain.rootSource).toBe('sent');
  });

  it('treats a self-signed leaf as its own root', () => {
    const chain = analyzeChain(certs(pki.expiredCert));
    expect(chain.path).toHaveLength(1);
    expect(chain.rootSource).toBe('sent');
  });

  it('lists sent certificates that are not on the path', () => {
    const chain = analyzeChain([...certs(pki.leafOnly), ...certs(pki.expiredCert)], { extraRoots: certs(pki.rootCert) });
    expect(chain.unused).toHaveLength(1);
  });

  it('counts days left and goes negative once expired', () => {
    const [leaf] = certs(pki.soonChain);
    expect(daysLeft(leaf!, new Date())).toBeGreaterThanOrEqual(9);
    expect(daysLeft(leaf!, new Date())).toBeLessThanOrEqual(10);
    expect(daysLeft(certs(pki.expiredCert)[0]!, new Date('2020-03-01T00:00:00Z'))).toBe(-29);
  });
});

describe('hostname matching', () => {
  it('matches a SAN exactly and a wildcard for exactly one left-most label', () => {
    const [leaf] = certs(pki.leafOnly);
    expect(matchHostname(leaf!, 'xks.doctor.test')).toEqual({ kind: 'san', name: 'xks.doctor.test' });
    expect(matchHostname(leaf!, 'eu.wild.doctor.test').kind).toBe('san');
    expect(matchHostname(leaf!, 'a.b.wild.doctor.test').kind).toBe('none');
    expect(matchHostname(leaf!, 'wild.doctor.test').kind).toBe('none');
    expect(matchHostname(leaf!, 'other.doctor.test').kind).toBe('none');
    expect(matchHostname(leaf!, '127.0.0.1').kind).toBe('san');
  });

  it('tells a match through the subject CN alone apart from a SAN match', () => {
    const [leaf] = certs(pki.cnOnlyChain);
    expect(matchHostname(leaf!, 'cn-only.doctor.test').kind).toBe('cn-only');
  });
});

describe('KMS trusted CA list', () => {
  it('ships the spec repository list with its date and 130 authorities', () => {
    const list = kmsTrustedCas();
    expect(list.listDate).toBe('2022-11-10');
    expect(list.authorities).toHaveLength(130);
    expect(list.authorities.every((a) => /^[0-9a-f]{64}$/.test(a.sha256))).toBe(true);
  });

  it('recognises public roots on the list by fingerprint', () => {
    expect(findKmsTrustedCa(publicRoot('Amazon Root CA 1'))?.alias).toBe('amazonrootca1');
    expect(findKmsTrustedCa(publicRoot('ISRG Root X1'))?.alias).toBe('isrgrootx1');
  });

  it('does not recognise a private root', () => {
    expect(findKmsTrustedCa(certs(pki.rootCert)[0]!)).toBeUndefined();
  });

  it('marks a chain that reaches a listed root as KMS-trusted', () => {
    const amazon = publicRoot('Amazon Root CA 1');
    expect(analyzeChain([amazon]).kmsTrusted?.alias).toBe('amazonrootca1');
  });
});

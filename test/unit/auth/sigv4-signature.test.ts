import { describe, expect, it } from 'vitest';
import { buildStringToSign, credentialScope, deriveSigningKey, signatureHex } from '../../../src/auth/sigv4-signature.ts';
import { loadAwsTestSuite } from '../../support/sigv4-vectors/aws-test-suite.ts';

const suite = loadAwsTestSuite();
const secret = Buffer.from(suite.secret, 'utf8');
const date = suite.amzDate.slice(0, 8);
const scope = credentialScope(date, suite.region, suite.service);

describe('signing key', () => {
  it('matches the example in the AWS "derive a signing key" documentation', () => {
    // AWS General Reference: secret wJalr...EXAMPLEKEY, 20120215, us-east-1, iam.
    const key = deriveSigningKey(Buffer.from('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'), '20120215', 'us-east-1', 'iam');
    expect(key.toString('hex')).toBe('f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d');
  });

  it('differs for another day, region or service', () => {
    const base = deriveSigningKey(secret, '20150830', 'us-east-1', 'kms-xks-proxy').toString('hex');
    expect(deriveSigningKey(secret, '20150831', 'us-east-1', 'kms-xks-proxy').toString('hex')).not.toBe(base);
    expect(deriveSigningKey(secret, '20150830', 'eu-west-1', 'kms-xks-proxy').toString('hex')).not.toBe(base);
    expect(deriveSigningKey(secret, '20150830', 'us-east-1', 'kms').toString('hex')).not.toBe(base);
  });

  it("leaves the caller's secret bytes intact", () => {
    const copy = Buffer.from(secret);
    deriveSigningKey(copy, date, suite.region, suite.service);
    expect(copy.equals(secret)).toBe(true);
  });
});

describe('string to sign and signature against the published AWS SigV4 test suite', () => {
  it('uses the scope <date>/<region>/<service>/aws4_request', () => {
    expect(scope).toBe('20150830/us-east-1/service/aws4_request');
  });

  it.each(suite.cases.map((c) => [c.name, c] as const))('%s', (_name, v) => {
    const sts = buildStringToSign(suite.amzDate, scope, v.canonicalRequest);
    expect(sts).toBe(v.stringToSign);
    const signature = signatureHex(deriveSigningKey(secret, date, suite.region, suite.service), sts);
    expect(v.authorization.endsWith(`Signature=${signature}`)).toBe(true);
  });
});

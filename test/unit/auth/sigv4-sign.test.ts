import { describe, expect, it } from 'vitest';
import { CredentialSet } from '../../../src/auth/credential-set.ts';
import { sha256Hex } from '../../../src/auth/sigv4-canonical.ts';
import { signRequest } from '../../../src/auth/sigv4-sign.ts';
import { verifySigV4 } from '../../../src/auth/sigv4-verify.ts';
import { loadAwsTestSuite } from '../../support/sigv4-vectors/aws-test-suite.ts';
import { signWithAws4 } from './aws4-signed-request.ts';

const AKID = 'AKIAXKSPROXYTEST2345';
const SECRET = 'kzJ8s7PqL0m9vB3xY6tR2wQ5eN1cH4dF8gK0jA7uZ3o=';
const T = new Date('2024-05-17T10:20:30Z');
const BODY = '{"requestMetadata":{"kmsOperation":"Decrypt"},"ciphertext":"AAAA"}';
const base = { region: 'us-east-1', service: 'kms-xks-proxy', accessKeyId: AKID, secret: SECRET, now: T };

describe('signRequest equals aws4 for the same input', () => {
  it('signs a KMS-shaped request over host and x-amz-date only', () => {
    const ours = signRequest({ ...base, method: 'POST', url: 'https://xks.example.com/p1/kms/xks/v1/keys/k-1/decrypt', body: BODY });
    const theirs = signWithAws4({ time: T, accessKeyId: AKID, secret: SECRET, path: '/p1/kms/xks/v1/keys/k-1/decrypt', body: BODY });
    expect(ours.authorization).toBe(theirs.headers['authorization']);
    expect(ours['x-amz-date']).toBe('20240517T102030Z');
  });

  it('signs extra headers and a host with a port the same way', () => {
    const headers = { 'Content-Type': 'application/json', 'X-Custom': '  a   b ' };
    const ours = signRequest({ ...base, method: 'post', url: 'https://127.0.0.1:8443/kms/xks/v1/health', headers, body: Buffer.from(BODY) });
    const theirs = signWithAws4({ time: T, accessKeyId: AKID, secret: SECRET, host: '127.0.0.1:8443', path: '/kms/xks/v1/health', headers, body: BODY });
    expect(ours.authorization).toBe(theirs.headers['authorization']);
  });

  it('signs x-amz-content-sha256 only when asked, as aws4 does when given it', () => {
    const url = 'https://xks.example.com/kms/xks/v1/keys/k/encrypt';
    expect(signRequest({ ...base, method: 'POST', url, body: BODY })['x-amz-content-sha256']).toBeUndefined();
    const ours = signRequest({ ...base, method: 'POST', url, body: BODY, signPayloadHash: true });
    expect(ours['x-amz-content-sha256']).toBe(sha256Hex(BODY));
    const theirs = signWithAws4({
      time: T,
      accessKeyId: AKID,
      secret: SECRET,
      path: '/kms/xks/v1/keys/k/encrypt',
      body: BODY,
      headers: { 'X-Amz-Content-Sha256': sha256Hex(BODY) },
    });
    expect(ours.authorization).toBe(theirs.headers['authorization']);
  });
});

describe('signRequest', () => {
  it('reproduces the published AWS suite for requests a URL can carry unchanged', () => {
    const suite = loadAwsTestSuite();
    const names = [
      'get-vanilla',
      'post-vanilla',
      'get-vanilla-query-order-key-case',
      'post-header-key-sort',
      'get-header-value-trim',
      'post-x-www-form-urlencoded',
    ];
    for (const name of names) {
      const v = suite.cases.find((c) => c.name === name)!;
      const { host, 'x-amz-date': _date, ...headers } = v.request.headers;
      const query = v.request.query ? `?${v.request.query}` : '';
      const out = signRequest({
        method: v.request.method,
        url: `https://${host}${v.request.path}${query}`,
        headers,
        body: v.request.body,
        region: suite.region,
        service: suite.service,
        accessKeyId: suite.accessKeyId,
        secret: suite.secret,
        now: new Date('2015-08-30T12:36:00Z'),
      });
      expect(out.authorization, name).toBe(v.authorization);
    }
  });

  it('leaves transport headers such as user-agent and connection unsigned', () => {
    const out = signRequest({ ...base, method: 'POST', url: 'https://h/x', headers: { 'User-Agent': 'x', Connection: 'keep-alive', Accept: '*/*' } });
    expect(out.authorization).toContain('SignedHeaders=accept;host;x-amz-date,');
  });

  it('produces requests verifySigV4 accepts, and a different secret does not', () => {
    const url = new URL('https://xks.example.com:4443/p1/kms/xks/v1/keys/k-1/encrypt');
    const added = signRequest({ ...base, method: 'POST', url, headers: { 'content-type': 'application/json' }, body: BODY });
    const req = {
      method: 'POST',
      path: url.pathname,
      query: '',
      headers: { host: url.host, 'content-type': 'application/json', ...added },
      body: Buffer.from(BODY),
    };
    const opts = { region: 'us-east-1', service: 'kms-xks-proxy', now: T };
    expect(verifySigV4(req, { ...opts, credentials: new CredentialSet([{ accessKeyId: AKID, secret: SECRET }]) }).ok).toBe(true);
    const other = new CredentialSet([{ accessKeyId: AKID, secret: SECRET.replace('k', 'K') }]);
    expect(verifySigV4(req, { ...opts, credentials: other })).toMatchObject({ ok: false, reason: 'signature-mismatch' });
  });
});

import { describe, expect, it } from 'vitest';
import { CredentialSet } from '../../../src/auth/credential-set.ts';
import { headerValue, sha256Hex } from '../../../src/auth/sigv4-canonical.ts';
import { verifySigV4 } from '../../../src/auth/sigv4-verify.ts';
import type { SignedRequest, VerifyResult } from '../../../src/auth/sigv4-verify.ts';
import { loadAwsTestSuite } from '../../support/sigv4-vectors/aws-test-suite.ts';
import { signWithAws4 } from './aws4-signed-request.ts';

const AKID = 'AKIAXKSPROXYTEST2345';
const SECRET = 'kzJ8s7PqL0m9vB3xY6tR2wQ5eN1cH4dF8gK0jA7uZ3o=';
const AKID_2 = 'AKIAXKSPROXYNEXT6723';
const SECRET_2 = 'Qm7r2T9wX4zB8nL1pV6yC3kH5sD0fG2jE9aU4iO7tR1=';
const T = new Date('2024-05-17T10:20:30Z');
const credentials = new CredentialSet([{ accessKeyId: AKID, secret: SECRET }]);
const opts = { region: 'us-east-1', service: 'kms-xks-proxy', now: T, credentials };

const signed = (over: Partial<Parameters<typeof signWithAws4>[0]> = {}): SignedRequest => signWithAws4({ time: T, accessKeyId: AKID, secret: SECRET, ...over });
const at = (ms: number) => new Date(T.getTime() + ms);
const withHeaders = (req: SignedRequest, headers: Record<string, string | undefined>): SignedRequest => ({
  ...req,
  headers: { ...req.headers, ...headers },
});
const reason = (r: VerifyResult) => (r.ok ? 'ok' : r.reason);
const detail = (r: VerifyResult) => (r.ok ? '' : r.detail);

/** The operator log must never see a secret or the presented signature. */
function expectLogSafe(r: VerifyResult, req: SignedRequest): void {
  const sig = /Signature=([0-9a-f]+)/.exec(headerValue(req.headers, 'authorization') ?? '')?.[1] ?? 'no-signature';
  for (const secret of [SECRET, SECRET_2, sig]) expect(detail(r)).not.toContain(secret);
}

describe('verifySigV4 accepts correctly signed requests', () => {
  it('accepts a KMS-shaped request signed by aws4 (host;x-amz-date)', () => {
    const req = signed();
    expect(req.headers['authorization']).toContain('SignedHeaders=host;x-amz-date,');
    expect(verifySigV4(req, opts)).toEqual({ ok: true, accessKeyId: AKID });
  });

  it('accepts extra signed headers such as content-type', () => {
    const req = signed({ headers: { 'Content-Type': 'application/json', 'X-Custom': '  spaced   out ' } });
    expect(req.headers['authorization']).toContain('SignedHeaders=content-type;host;x-amz-date;x-custom,');
    expect(verifySigV4(req, opts)).toEqual({ ok: true, accessKeyId: AKID });
  });

  it('ignores unsigned headers added in transit', () => {
    const req = withHeaders(signed(), { 'user-agent': 'proxy/1', 'x-forwarded-for': '10.0.0.1' });
    expect(verifySigV4(req, opts).ok).toBe(true);
  });

  it('accepts a date exactly 300 s in the past or in the future', () => {
    expect(verifySigV4(signed({ time: at(-300_000) }), opts).ok).toBe(true);
    expect(verifySigV4(signed({ time: at(300_000) }), opts).ok).toBe(true);
  });

  it('accepts two credentials at once, and drops one after a replace', () => {
    const both = new CredentialSet([
      { accessKeyId: AKID, secret: SECRET },
      { accessKeyId: AKID_2, secret: SECRET_2 },
    ]);
    const fromOld = signed();
    const fromNew = signed({ accessKeyId: AKID_2, secret: SECRET_2 });
    expect(verifySigV4(fromOld, { ...opts, credentials: both })).toEqual({ ok: true, accessKeyId: AKID });
    expect(verifySigV4(fromNew, { ...opts, credentials: both })).toEqual({ ok: true, accessKeyId: AKID_2 });
    both.replace([{ accessKeyId: AKID_2, secret: SECRET_2 }]);
    expect(reason(verifySigV4(fromOld, { ...opts, credentials: both }))).toBe('unknown-access-key-id');
    expect(verifySigV4(fromNew, { ...opts, credentials: both }).ok).toBe(true);
  });

  it('accepts HTTP/2 requests when the caller passes :authority as host', () => {
    const { host, ...rest } = signed({ host: 'xks.example.com:8443' }).headers;
    const http2Style: SignedRequest = { ...signed({ host: 'xks.example.com:8443' }), headers: rest };
    const without = verifySigV4(http2Style, opts);
    expect(reason(without)).toBe('signature-mismatch');
    expect(detail(without)).toContain('HTTP/2: pass :authority as host');
    const authority = host as string; // what the app reads from the :authority pseudo-header
    expect(verifySigV4(withHeaders(http2Style, { host: authority }), opts).ok).toBe(true);
  });

  it('accepts a signed x-amz-content-sha256 that matches the body', () => {
    const body = '{"a":1}';
    const req = signed({ body, headers: { 'X-Amz-Content-Sha256': sha256Hex(body) } });
    expect(req.headers['authorization']).toContain('x-amz-content-sha256');
    expect(verifySigV4(req, opts).ok).toBe(true);
  });

  const suite = loadAwsTestSuite();
  it.each(suite.cases.map((c) => [c.name, c] as const))('accepts the published AWS suite case %s', (_name, v) => {
    const req: SignedRequest = {
      method: v.request.method,
      path: v.request.path,
      query: v.request.query,
      headers: { ...v.request.headers, authorization: v.authorization },
      body: Buffer.from(v.request.body),
    };
    const result = verifySigV4(req, {
      region: suite.region,
      service: suite.service,
      now: new Date('2015-08-30T12:36:00Z'),
      credentials: new CredentialSet([{ accessKeyId: suite.accessKeyId, secret: suite.secret }]),
    });
    expect(result).toEqual({ ok: true, accessKeyId: suite.accessKeyId });
  });
});

describe('verifySigV4 rejects', () => {
  it('a request signed with the wrong secret', () => {
    const req = signed({ secret: SECRET_2 });
    const r = verifySigV4(req, opts);
    expect(reason(r)).toBe('signature-mismatch');
    expect(detail(r)).toContain(AKID);
    expectLogSafe(r, req);
  });

  it('an unknown access key id, naming it in the log detail', () => {
    const req = signed({ accessKeyId: AKID_2, secret: SECRET_2 });
    const r = verifySigV4(req, opts);
    expect(reason(r)).toBe('unknown-access-key-id');
    expect(detail(r)).toContain(AKID_2);
    expectLogSafe(r, req);
  });

  it('a date more than 5 minutes old, giving the skew in seconds', () => {
    const r = verifySigV4(signed({ time: at(-301_000) }), opts);
    expect(reason(r)).toBe('date-out-of-window');
    expect(detail(r)).toBe('x-amz-date 20240517T101529Z is 301 s in the past, outside the 300 s window');
  });

  it('a date more than 5 minutes ahead', () => {
    const r = verifySigV4(signed({ time: at(412_000) }), opts);
    expect(reason(r)).toBe('date-out-of-window');
    expect(detail(r)).toContain('412 s in the future');
  });

  it('a date outside a narrower configured window', () => {
    const r = verifySigV4(signed({ time: at(-61_000) }), { ...opts, maxSkewMs: 60_000 });
    expect(detail(r)).toContain('61 s in the past, outside the 60 s window');
  });

  it('a body changed after signing', () => {
    const req = { ...signed(), body: Buffer.from('{"requestMetadata":{"kmsOperation":"Encrypt"},"plaintext":"aGVsbG9="}') };
    expect(reason(verifySigV4(req, opts))).toBe('signature-mismatch');
  });

  it('a path changed after signing (another key)', () => {
    const req = { ...signed(), path: '/xks/kms/xks/v1/keys/key-2/encrypt' };
    expect(reason(verifySigV4(req, opts))).toBe('signature-mismatch');
  });

  it('a signed header changed after signing', () => {
    const req = withHeaders(signed({ headers: { 'Content-Type': 'application/json' } }), { 'content-type': 'text/plain' });
    expect(reason(verifySigV4(req, opts))).toBe('signature-mismatch');
  });

  it('a request without Authorization, or with an empty one', () => {
    expect(reason(verifySigV4(withHeaders(signed(), { authorization: undefined }), opts))).toBe('missing-authorization');
    expect(reason(verifySigV4(withHeaders(signed(), { authorization: '  ' }), opts))).toBe('missing-authorization');
  });

  it.each([
    ['garbage', 'not a signature at all'],
    ['no signature', (a: string) => a.replace(/, Signature=[0-9a-f]+/, '')],
    ['a truncated signature', (a: string) => a.slice(0, -1)],
    ['a credential scope without a region', (a: string) => a.replace('/us-east-1/', '/')],
    ['a repeated component', (a: string) => a + ', SignedHeaders=host'],
  ] as const)('a malformed Authorization: %s', (_what, change) => {
    const req = signed();
    const header = req.headers['authorization'] as string;
    const mutated = typeof change === 'string' ? `AWS4-HMAC-SHA256 ${change}` : change(header);
    const r = verifySigV4(withHeaders(req, { authorization: mutated }), opts);
    expect(reason(r)).toBe('malformed-authorization');
    expectLogSafe(r, req);
  });

  it('another signing algorithm', () => {
    const req = signed();
    const header = (req.headers['authorization'] as string).replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256');
    expect(reason(verifySigV4(withHeaders(req, { authorization: header }), opts))).toBe('unsupported-algorithm');
  });

  it('a signature for another service', () => {
    const r = verifySigV4(signed({ service: 'kms' }), opts);
    expect(reason(r)).toBe('wrong-service');
    expect(detail(r)).toBe("credential scope service 'kms' is not 'kms-xks-proxy'");
  });

  it('a signature for another region', () => {
    const r = verifySigV4(signed({ region: 'eu-west-1' }), opts);
    expect(reason(r)).toBe('wrong-region');
    expect(detail(r)).toBe("credential scope region 'eu-west-1' is not 'us-east-1'");
  });

  it('a signature that does not cover host', () => {
    const req = signed({ unsignedHost: true });
    expect(req.headers['authorization']).toContain('SignedHeaders=x-amz-date,');
    const r = verifySigV4(req, opts);
    expect(reason(r)).toBe('missing-signed-header');
    expect(detail(r)).toContain('host is not signed');
  });

  it('a signature that does not cover x-amz-date', () => {
    const req = signed({ unsignedDate: true });
    expect(req.headers['authorization']).toContain('SignedHeaders=host,');
    const r = verifySigV4(req, opts);
    expect(reason(r)).toBe('missing-signed-header');
    expect(detail(r)).toContain('x-amz-date is not signed');
  });

  it('a missing or malformed x-amz-date', () => {
    expect(reason(verifySigV4(withHeaders(signed(), { 'x-amz-date': undefined }), opts))).toBe('missing-date');
    expect(reason(verifySigV4(withHeaders(signed(), { 'x-amz-date': '2024-05-17T10:20:30Z' }), opts))).toBe('malformed-date');
  });

  it('a credential scope date that is not the x-amz-date day', () => {
    const nearMidnight = new Date('2024-05-17T23:59:50Z');
    const req = withHeaders(signWithAws4({ time: nearMidnight, accessKeyId: AKID, secret: SECRET }), { 'x-amz-date': '20240518T000010Z' });
    const r = verifySigV4(req, { ...opts, now: nearMidnight });
    expect(reason(r)).toBe('credential-date-mismatch');
  });

  it('a signed x-amz-content-sha256 that does not match the body', () => {
    const req = { ...signed({ headers: { 'X-Amz-Content-Sha256': sha256Hex('{"a":1}') }, body: '{"a":1}' }), body: Buffer.from('{"a":2}') };
    expect(reason(verifySigV4(req, opts))).toBe('payload-hash-mismatch');
    const unsignedPayload = signed({ headers: { 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' } });
    expect(reason(verifySigV4(unsignedPayload, opts))).toBe('payload-hash-mismatch');
  });

  it('a signed header that is absent from the request', () => {
    const req = withHeaders(signed({ headers: { 'X-Custom': 'v' } }), { 'x-custom': undefined });
    const r = verifySigV4(req, opts);
    expect(reason(r)).toBe('signature-mismatch');
    expect(detail(r)).toContain('x-custom is absent');
  });

  it('a signed header named after an Object.prototype member, in a header map with a prototype (as Node gives it)', () => {
    for (const name of ['constructor', '__proto__']) {
      const req = signed();
      const authorization = headerValue(req.headers, 'authorization')!.replace('SignedHeaders=', `SignedHeaders=${name};`);
      // Node's IncomingMessage#headers is an ordinary object: only its own entries are headers.
      const nodeStyle: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') nodeStyle[k] = v;
      nodeStyle.authorization = authorization;
      const r = verifySigV4({ ...req, headers: nodeStyle }, opts);
      expect(reason(r), name).toBe('signature-mismatch');
      expect(detail(r), name).toContain(`signed header ${name} is absent`);
    }
  });

  it("reads Node's set-cookie array as one joined value", () => {
    expect(headerValue({ 'set-cookie': ['a=1', 'b=2'] }, 'set-cookie')).toBe('a=1, b=2');
    expect(headerValue({}, 'toString')).toBeUndefined();
  });
});

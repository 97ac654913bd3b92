import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CHECKS, selectChecks, summarize } from '../run.ts';
import type { CheckResult, ConformanceReport } from '../run.ts';
import { encryptValueProblems, healthSchemaProblems, keyMetadataProblems } from '../src/answer-values.ts';
import { computeCdiv } from '../src/cdiv.ts';
import { parseDuration } from '../src/load/load-options.ts';
import { formatJunitReport } from '../src/report/junit-report.ts';
import { formatTextReport } from '../src/report/text-report.ts';
import { signRequest } from '../src/sign-request.ts';
import { formatAuthorization, rawSignature } from '../src/sigv4-raw.ts';
import { verifySigV4 } from './support/reference-sigv4.ts';
import { REFERENCE_CREDENTIALS, startReferenceServer } from './support/reference-xks-server.ts';
import type { ReferenceServer } from './support/reference-xks-server.ts';

describe('CDIV', () => {
  it('matches the worked example of the spec (Appendix C)', () => {
    const cdiv = computeCdiv({
      aad: Buffer.from('project=nile,department=marketing'),
      metadata: Buffer.from('key_version=1'),
      iv: Buffer.from('HMrlRw85cAJUd5Ax', 'base64'),
      ciphertext: Buffer.from('ghxkK1txeDNn3q8Y', 'base64'),
      tag: Buffer.from('vBxN2ncH1oEkR8WVXpmyYQ==', 'base64'),
    });
    expect(cdiv.toString('base64')).toBe('qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=');
  });
});

describe('value rules for 200 answers', () => {
  it('accept the spec spellings and extra usages, refuse near misses of keySpec, keyUsage and keyStatus', () => {
    expect(keyMetadataProblems({ keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'DECRYPT', 'WRAP'], keyStatus: 'DISABLED' })).toEqual([]);
    expect(keyMetadataProblems({ keySpec: 'RSA_0', keyUsage: ['ENCRYPT'], keyStatus: 'ENABLED' })).toEqual(['keySpec is "RSA_0", must be "AES_256"']);
    expect(keyMetadataProblems({ keySpec: 'AES_256', keyUsage: ['ENCRYPT_DECRYPT'], keyStatus: 'ENABLED' })[0]).toMatch(
      /"ENCRYPT_DECRYPT" is not "ENCRYPT" or "DECRYPT"/,
    );
    expect(keyMetadataProblems({ keySpec: 'AES_256', keyUsage: ['Encrypt'], keyStatus: 'Enabled' })).toHaveLength(2);
    expect(keyMetadataProblems({ keySpec: 'AES_256', keyUsage: ['ENCRYPT', 'ENCRYPT'], keyStatus: 'ENABLED' })[0]).toMatch(/repeats a value/);
  });

  it('hold health to 1-10 entries with id, model and a known status, and a fleet size >= 1', () => {
    const ok = {
      xksProxyFleetSize: 1,
      xksProxyVendor: 'v',
      xksProxyModel: 'm',
      ekmVendor: 'e',
      ekmFleetDetails: [{ id: 'a', model: 'b', healthStatus: 'DEGRADED' }],
    };
    expect(healthSchemaProblems(ok)).toEqual([]);
    expect(
      healthSchemaProblems({
        ...ok,
        xksProxyFleetSize: 0,
        ekmFleetDetails: Array.from({ length: 11 }, () => ({ id: 'a', model: 'b', healthStatus: 'ACTIVE' })),
      }),
    ).toHaveLength(2);
    expect(healthSchemaProblems({ ...ok, ekmFleetDetails: [{ id: 'a', healthStatus: 'OK' }] })).toHaveLength(2);
  });

  it('recompute the CDIV of an encrypt answer from the request AAD and say when it leaves the AAD out', () => {
    const f = { iv: Buffer.alloc(12, 1), ciphertext: Buffer.alloc(5, 2), tag: Buffer.alloc(16, 3), metadata: Buffer.from('kv=1') };
    const aad = Buffer.from('aad');
    const request = {
      plaintext: Buffer.alloc(5).toString('base64'),
      additionalAuthenticatedData: aad.toString('base64'),
      ciphertextDataIntegrityValueAlgorithm: 'SHA_256',
    };
    const answer = (cdiv: Buffer, extra: Record<string, unknown> = {}) => ({
      ciphertext: f.ciphertext.toString('base64'),
      initializationVector: f.iv.toString('base64'),
      authenticationTag: f.tag.toString('base64'),
      ciphertextMetadata: f.metadata.toString('base64'),
      ciphertextDataIntegrityValue: cdiv.toString('base64'),
      ...extra,
    });
    expect(encryptValueProblems(request, answer(computeCdiv({ ...f, aad })))).toEqual([]);
    expect(encryptValueProblems(request, answer(computeCdiv(f)))[0]).toMatch(/leaves out the AAD/);
    const tagged = answer(computeCdiv({ ...f, aad }), { ciphertext: Buffer.concat([f.ciphertext, f.tag]).toString('base64') });
    expect(encryptValueProblems(request, tagged)[0]).toMatch(/ciphertext is 21 bytes for 5 bytes of plaintext/);
  });
});

describe('check selection (--only)', () => {
  const ids = (only: string) => selectChecks(only).map((c) => c.id);

  it('selects a whole group by name', () => {
    expect(ids('cdiv')).toEqual(['cdiv.with-aad', 'cdiv.without-aad']);
  });

  it('selects single ids and globs, comma-separated, in harness order', () => {
    expect(ids('health.schema, tamper.aad-*')).toEqual([
      'health.schema',
      'tamper.aad-changed',
      'tamper.aad-removed',
      'tamper.aad-added',
      'tamper.aad-metadata-boundary',
    ]);
  });

  it('selects everything when empty and nothing for an unknown name', () => {
    expect(ids('').length).toBe(ALL_CHECKS.length);
    expect(ids('no-such-group')).toEqual([]);
  });
});

describe('SigV4 signing', () => {
  const input = {
    method: 'POST',
    host: 'xks.example.com',
    path: '/p/kms/xks/v1/health',
    body: '{"requestMetadata":{}}',
    accessKeyId: REFERENCE_CREDENTIALS.accessKeyId,
    secretAccessKey: REFERENCE_CREDENTIALS.secretAccessKey,
    region: 'us-east-1',
  };
  const rules = { ...REFERENCE_CREDENTIALS, windowMs: 300_000, anyService: false, trustContentShaHeader: false, broken: new Set<never>() };

  it('signs host;x-amz-date only by default, as KMS does, and an independent verifier accepts it', () => {
    const h = signRequest(input);
    expect(h.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=BETWEEN2TENAND3TENCHARACTERS\/\d{8}\/us-east-1\/kms-xks-proxy\/aws4_request, SignedHeaders=host;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(verifySigV4('POST', input.path, h, [h.authorization!], Buffer.from(input.body), rules)).toBeUndefined();
  });

  it('the raw signer of the malformed-signature checks gives the same signature as aws4 for a well-formed request', () => {
    const date = new Date('2026-03-04T05:06:07Z');
    for (const signedHeaders of ['kms', 'all'] as const) {
      const h = signRequest({ ...input, date, signedHeaders });
      const names = signedHeaders === 'kms' ? ['host', 'x-amz-date'] : ['content-length', 'content-type', 'host', 'x-amz-date'];
      const sig = rawSignature({
        method: 'POST',
        path: input.path,
        body: input.body,
        headers: h,
        signedHeaders: names,
        amzDate: h['x-amz-date']!,
        scope: ['20260304', 'us-east-1', 'kms-xks-proxy', 'aws4_request'],
        secretAccessKey: input.secretAccessKey,
      });
      expect(h.authorization).toBe(
        formatAuthorization([
          ['Credential', `${input.accessKeyId}/20260304/us-east-1/kms-xks-proxy/aws4_request`],
          ['SignedHeaders', names.join(';')],
          ['Signature', sig],
        ]),
      );
    }
  });

  it('pins the signing time so stale and future signatures can be built', () => {
    const date = new Date(Date.now() - 15 * 60_000);
    const h = signRequest({ ...input, date });
    expect(h['x-amz-date']).toBe(date.toISOString().replace(/[:-]|\.\d{3}/g, ''));
    expect(verifySigV4('POST', input.path, h, [h.authorization!], Buffer.from(input.body), rules)).toBe('request time outside the window');
  });
});

describe('a request signed by curl (an independent SigV4 signer)', () => {
  let server: ReferenceServer;
  beforeAll(async () => {
    server = await startReferenceServer();
  });
  afterAll(() => server.close());

  it('is accepted by the reference server the harness is tested against', async () => {
    const c = REFERENCE_CREDENTIALS;
    const { stdout } = await promisify(execFile)('curl', [
      '-s',
      '--aws-sigv4',
      `aws:amz:${c.region}:kms-xks-proxy`,
      '--user',
      `${c.accessKeyId}:${c.secretAccessKey}`,
      '-H',
      'Content-Type: application/json',
      '-d',
      '{"requestMetadata":{"kmsRequestId":"r1","kmsOperation":"KmsHealthCheck"}}',
      `${server.endpoint}/${c.prefix}/kms/xks/v1/health`,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ xksProxyFleetSize: 1 });
  });
});

describe('reports', () => {
  const result = (id: string, status: CheckResult['status'], detail?: string): CheckResult => ({
    id,
    group: id.split('.')[0]!,
    title: `title of ${id}`,
    spec: 'Error codes',
    level: status === 'warn' ? 'SHOULD' : 'MUST',
    status,
    durationMs: 1.5,
    ...(detail ? { detail } : {}),
  });
  const results = [
    result('routing.a', 'pass'),
    result('routing.b', 'fail', 'expected 405, got 404 <x> & "y"'),
    result('tls.c', 'skip', 'endpoint is not https'),
    result('errors.d', 'warn', 'body matches at x'),
  ];
  const report: ConformanceReport = {
    endpoint: 'http://127.0.0.1:1',
    prefix: 'p',
    startedAt: '2024-01-01T00:00:00.000Z',
    durationMs: 1234,
    preflight: { attempts: 1, ok: true, durationMs: 3 },
    results,
    summary: summarize(results),
  };

  it('counts a failed SHOULD check as a warning and only a failed MUST check as non-conformant', () => {
    expect(report.summary).toEqual({ passed: 1, failed: 1, warnings: 1, skipped: 1, conformant: false });
    expect(summarize(results.filter((r) => r.status !== 'fail')).conformant).toBe(true);
  });

  it('prints one line per check under its group, reasons for non-passes and a summary line', () => {
    const text = formatTextReport(report);
    expect(text).toContain('\nrouting\n  PASS  MUST   routing.a  title of routing.a  [Error codes]\n  FAIL  MUST   routing.b');
    expect(text).toContain('-> expected 405, got 404 <x> & "y"');
    expect(text).toContain('  WARN  SHOULD errors.d');
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      'Summary: 1 passed, 1 failed, 1 warnings (SHOULD), 1 skipped in 1.2 s: NOT CONFORMANT (a MUST check failed)',
    );
  });

  it('writes JUnit XML with a failure for the MUST failure, skipped for skips and escaped text', () => {
    const xml = formatJunitReport(report);
    expect(xml).toContain('<testsuites name="xks-conformance http://127.0.0.1:1" tests="4" failures="1" errors="0" skipped="1"');
    expect(xml).toContain('<failure type="MUST" message="expected 405, got 404 &lt;x&gt; &amp; &quot;y&quot;">');
    expect(xml).toContain('<skipped message="endpoint is not https"/>');
    expect(xml).toContain('<system-out>WARNING (SHOULD, Error codes): body matches at x</system-out>');
    expect(xml.match(/<testsuite /g)?.length).toBe(3);
  });
});

describe('load durations', () => {
  it('reads seconds, minutes, milliseconds and bare seconds', () => {
    expect([parseDuration('30s'), parseDuration('2m'), parseDuration('500ms'), parseDuration('1.5')]).toEqual([30_000, 120_000, 500, 1500]);
    expect(() => parseDuration('thirty')).toThrow(/cannot read duration/);
  });
});

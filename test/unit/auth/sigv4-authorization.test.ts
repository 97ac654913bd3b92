import { describe, expect, it } from 'vitest';
import { parseAuthorization } from '../../../src/auth/sigv4-authorization.ts';

const SIG = 'a'.repeat(64);
const CRED = 'Credential=AKIDEXAMPLE/20150830/us-east-1/kms-xks-proxy/aws4_request';

describe('parseAuthorization', () => {
  it('reads the header KMS sends', () => {
    const r = parseAuthorization(`AWS4-HMAC-SHA256 ${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG}`);
    expect(r).toEqual({
      ok: true,
      value: {
        accessKeyId: 'AKIDEXAMPLE',
        date: '20150830',
        region: 'us-east-1',
        service: 'kms-xks-proxy',
        signedHeaders: ['host', 'x-amz-date'],
        signature: SIG,
      },
    });
  });

  it('accepts the components in any order and with any whitespace around commas', () => {
    const r = parseAuthorization(`  AWS4-HMAC-SHA256   Signature=${SIG} ,SignedHeaders=host;x-amz-date,\t${CRED}  `);
    expect(r.ok && r.value.accessKeyId).toBe('AKIDEXAMPLE');
    expect(r.ok && r.value.signedHeaders).toEqual(['host', 'x-amz-date']);
  });

  it('reports another algorithm as unsupported-algorithm without echoing a token', () => {
    const r = parseAuthorization('Bearer abc.def');
    expect(r).toMatchObject({ ok: false, reason: 'unsupported-algorithm' });
    expect(!r.ok && r.detail).toContain("'Bearer'");
    const noSpace = parseAuthorization(`AWS4-HMAC-SHA256,${CRED},Signature=${SIG}`);
    expect(noSpace).toMatchObject({ ok: false, reason: 'unsupported-algorithm' });
    expect(!noSpace.ok && noSpace.detail).not.toContain(SIG);
  });

  const malformed: Array<[string, string]> = [
    ['algorithm only', 'AWS4-HMAC-SHA256'],
    ['no Signature', `AWS4-HMAC-SHA256 ${CRED}, SignedHeaders=host;x-amz-date`],
    ['no Credential', `AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=${SIG}`],
    ['no SignedHeaders', `AWS4-HMAC-SHA256 ${CRED}, Signature=${SIG}`],
    ['a component twice', `AWS4-HMAC-SHA256 ${CRED}, ${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG}`],
    ['an unknown component', `AWS4-HMAC-SHA256 ${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG}, Extra=1`],
    ['a trailing comma', `AWS4-HMAC-SHA256 ${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG},`],
    ['commas missing', `AWS4-HMAC-SHA256 ${CRED} SignedHeaders=host;x-amz-date Signature=${SIG}`],
    ['a short credential scope', `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/aws4_request, SignedHeaders=host;x-amz-date, Signature=${SIG}`],
    ['a wrong terminator', `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kms-xks-proxy/aws5_request, SignedHeaders=host;x-amz-date, Signature=${SIG}`],
    [
      'a non-numeric scope date',
      `AWS4-HMAC-SHA256 Credential=AKID/2015-08-30/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host;x-amz-date, Signature=${SIG}`,
    ],
    ['an empty access key id', `AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/kms-xks-proxy/aws4_request, SignedHeaders=host;x-amz-date, Signature=${SIG}`],
    ['upper-case signed header names', `AWS4-HMAC-SHA256 ${CRED}, SignedHeaders=Host;X-Amz-Date, Signature=${SIG}`],
    ['an empty signed header name', `AWS4-HMAC-SHA256 ${CRED}, SignedHeaders=host;;x-amz-date, Signature=${SIG}`],
    ['a repeated signed header', `AWS4-HMAC-SHA256 ${CRED}, SignedHeaders=host;host;x-amz-date, Signature=${SIG}`],
    ['a short signature', `AWS4-HMAC-SHA256 ${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG.slice(1)}`],
    ['an upper-case hex signature', `AWS4-HMAC-SHA256 ${CRED}, SignedHeaders=host;x-amz-date, Signature=${'A'.repeat(64)}`],
  ];

  it.each(malformed)('rejects a header with %s as malformed', (_what, header) => {
    const r = parseAuthorization(header);
    expect(r).toMatchObject({ ok: false, reason: 'malformed-authorization' });
    expect(!r.ok && r.detail).not.toContain(SIG);
  });
});

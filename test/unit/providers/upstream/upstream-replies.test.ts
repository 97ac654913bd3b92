import { describe, expect, it } from 'vitest';
import { UpstreamFault } from '../../../../src/providers/upstream/upstream-fault.ts';
import { encryptReply, healthReply, metadataReply, upstreamError, decryptReply } from '../../../../src/providers/upstream/upstream-replies.ts';
import { XksError } from '../../../../src/xks/errors.ts';
import type { DecryptRequest, EncryptRequest } from '../../../../src/xks/requests.ts';

const md = { kmsRequestId: 'r', kmsOperation: 'Encrypt' };

/** The CDIV test vector of the XKS spec (Appendix C). */
const VECTOR = {
  aad: Buffer.from('project=nile,department=marketing'),
  ciphertextMetadata: Buffer.from('key_version=1').toString('base64'),
  initializationVector: 'HMrlRw85cAJUd5Ax',
  ciphertext: 'ghxkK1txeDNn3q8Y',
  authenticationTag: 'vBxN2ncH1oEkR8WVXpmyYQ==',
  cdiv: 'qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=',
};

const encryptRequest = (wantsCdiv: boolean): EncryptRequest => ({ requestMetadata: md, plaintext: Buffer.alloc(12, 1), aad: VECTOR.aad, wantsCdiv });

const vectorReply = (extra: Record<string, unknown> = {}) => ({
  status: 200,
  json: {
    ciphertext: VECTOR.ciphertext,
    ciphertextMetadata: VECTOR.ciphertextMetadata,
    initializationVector: VECTOR.initializationVector,
    authenticationTag: VECTOR.authenticationTag,
    ...extra,
  },
});

function fault(run: () => unknown): UpstreamFault {
  try {
    run();
  } catch (e) {
    if (e instanceof UpstreamFault) return e;
    throw e;
  }
  throw new Error('expected an UpstreamFault');
}

describe('upstream error answers', () => {
  it.each([
    ['ValidationException', 400],
    ['InvalidStateException', 400],
    ['InvalidCiphertextException', 400],
    ['InvalidKeyUsageException', 400],
    ['AccessDeniedException', 403],
    ['KeyNotFoundException', 404],
    ['ThrottlingException', 429],
    ['UnsupportedOperationException', 501],
  ])('passes %s through with its status and message', (errorName, status) => {
    const error = upstreamError({ status, json: { errorName, errorMessage: 'from upstream' } }, 'x');
    expect(error).toBeInstanceOf(XksError);
    expect([error.errorName, error.status, error.message]).toEqual([errorName, status, 'from upstream']);
  });

  it.each(['InternalException', 'DependencyTimeoutException'])('turns the upstream %s into a fault that keeps its name', (errorName) => {
    const f = fault(() => upstreamError({ status: 500, json: { errorName } }, 'x'));
    expect([f.kind, f.xksError.errorName]).toEqual(['upstream-error', errorName]);
  });

  it.each(['AuthenticationFailedException', 'InvalidUriPathException'])("turns the upstream %s into InternalException: our config, not KMS's", (errorName) => {
    const f = fault(() => upstreamError({ status: errorName === 'AuthenticationFailedException' ? 401 : 404, json: { errorName } }, 'x'));
    expect([f.kind, f.xksError.errorName, f.xksError.status]).toEqual(['misconfigured', 'InternalException', 500]);
  });

  it.each([
    [502, undefined],
    [500, { errorName: 'NoSuchThing' }],
    // Inherited members of the status table are not spec names (issue 15: `in` let them through).
    [500, { errorName: 'constructor' }],
    [500, { errorName: 'toString' }],
    [404, { message: 'Not Found' }],
  ])('calls HTTP %i with %j malformed', (status, json) => {
    expect(fault(() => upstreamError({ status, json }, 'x')).kind).toBe('malformed');
  });

  it('keeps an upstream message within the spec limits (printable ASCII, under 512)', () => {
    const error = upstreamError({ status: 400, json: { errorName: 'ValidationException', errorMessage: `bad\n${'x'.repeat(900)}` } }, 'x');
    expect(error.message).toMatch(/^bad\?x+\.\.\.$/);
    expect(error.message.length).toBeLessThan(512);
  });
});

describe('GetKeyMetadata answers', () => {
  it('keeps ENCRYPT and DECRYPT and drops usages KMS does not use', () => {
    expect(metadataReply({ status: 200, json: { keySpec: 'AES_256', keyUsage: ['WRAP', 'DECRYPT', 'ENCRYPT'], keyStatus: 'DISABLED' } })).toEqual({
      keySpec: 'AES_256',
      keyUsage: ['DECRYPT', 'ENCRYPT'],
      keyStatus: 'DISABLED',
    });
  });

  it.each([
    { keySpec: 'RSA_2048', keyUsage: [], keyStatus: 'ENABLED' },
    { keySpec: 'AES_256', keyUsage: 'ENCRYPT', keyStatus: 'ENABLED' },
    { keySpec: 'AES_256', keyUsage: [], keyStatus: 'MAYBE' },
  ])('calls %j malformed', (json) => {
    expect(fault(() => metadataReply({ status: 200, json })).kind).toBe('malformed');
  });
});

describe('Encrypt answers', () => {
  it('accepts the spec CDIV test vector and returns its fields', () => {
    const out = encryptReply(vectorReply({ ciphertextDataIntegrityValue: VECTOR.cdiv }), encryptRequest(true));
    expect(out).toEqual({
      ciphertext: VECTOR.ciphertext,
      ciphertextMetadata: VECTOR.ciphertextMetadata,
      initializationVector: VECTOR.initializationVector,
      authenticationTag: VECTOR.authenticationTag,
      ciphertextDataIntegrityValue: VECTOR.cdiv,
    });
  });

  it('rejects a CDIV that does not match the returned fields', () => {
    const tampered = vectorReply({ ciphertextDataIntegrityValue: VECTOR.cdiv, ciphertextMetadata: Buffer.from('key_version=2').toString('base64') });
    expect(fault(() => encryptReply(tampered, encryptRequest(true))).detail).toMatch(/does not match/);
  });

  it('rejects an answer without the CDIV that was asked for', () => {
    expect(fault(() => encryptReply(vectorReply(), encryptRequest(true))).detail).toMatch(/missing/);
  });

  it('does not invent a CDIV that was not asked for', () => {
    expect(encryptReply(vectorReply(), encryptRequest(false))).not.toHaveProperty('ciphertextDataIntegrityValue');
  });

  it.each([
    ['a 20-byte-plus ciphertextMetadata', { ciphertextMetadata: Buffer.alloc(21).toString('base64') }],
    ['an 8-byte IV', { initializationVector: Buffer.alloc(8).toString('base64') }],
    ['a 12-byte tag', { authenticationTag: Buffer.alloc(12).toString('base64') }],
    ['a short ciphertext', { ciphertext: Buffer.alloc(11).toString('base64') }],
    ['URL-safe Base64', { authenticationTag: 'vBxN2ncH1oEkR8WVXpmy_Q==' }],
  ])('rejects %s', (_name, extra) => {
    expect(fault(() => encryptReply(vectorReply(extra), encryptRequest(false))).kind).toBe('malformed');
  });
});

describe('Decrypt answers', () => {
  const req: DecryptRequest = {
    requestMetadata: md,
    ciphertext: Buffer.alloc(5),
    iv: Buffer.alloc(12),
    tag: Buffer.alloc(16),
    aad: undefined,
    ciphertextMetadata: undefined,
  };

  it('returns a plaintext as long as the ciphertext', () => {
    expect(decryptReply({ status: 200, json: { plaintext: Buffer.from('hello').toString('base64') } }, req)).toEqual({ plaintext: 'aGVsbG8=' });
  });

  it('rejects a plaintext of another length', () => {
    expect(fault(() => decryptReply({ status: 200, json: { plaintext: 'aGk=' } }, req)).kind).toBe('malformed');
  });

  it('passes InvalidCiphertextException through', () => {
    expect(() => decryptReply({ status: 400, json: { errorName: 'InvalidCiphertextException' } }, req)).toThrow(
      expect.objectContaining({ errorName: 'InvalidCiphertextException' }),
    );
  });
});

describe('GetHealthStatus answers', () => {
  it('reads the fleet and vendor', () => {
    const json = { ekmVendor: 'V', ekmFleetDetails: [{ id: 'a', model: 'm', healthStatus: 'DEGRADED' }] };
    expect(healthReply({ status: 200, json })).toEqual({ ekmVendor: 'V', fleet: [{ id: 'a', model: 'm', healthStatus: 'DEGRADED' }] });
  });

  it.each([{ ekmFleetDetails: [] }, { ekmFleetDetails: [{ id: 'a', model: 'm' }] }, {}])('calls %j malformed', (json) => {
    expect(fault(() => healthReply({ status: 200, json })).kind).toBe('malformed');
  });
});

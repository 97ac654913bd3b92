import { describe, expect, it } from 'vitest';
import { computeCdiv } from '../../../src/xks/cdiv.ts';

describe('computeCdiv', () => {
  it('reproduces the published vector of the XKS spec (Appendix C)', () => {
    const cdiv = computeCdiv({
      aad: Buffer.from('project=nile,department=marketing'),
      ciphertextMetadata: Buffer.from('key_version=1'),
      iv: Buffer.from('HMrlRw85cAJUd5Ax', 'base64'),
      ciphertext: Buffer.from('ghxkK1txeDNn3q8Y', 'base64'),
      tag: Buffer.from('vBxN2ncH1oEkR8WVXpmyYQ==', 'base64'),
    });
    expect(cdiv).toBe('qHA/ImC9h5HsLRXqCyPmWgYx7tzyoTplzILbP0fPXsc=');
  });

  it('treats absent AAD and metadata as empty, so the hash covers only iv, ciphertext and tag', () => {
    const parts = { iv: Buffer.alloc(12, 1), ciphertext: Buffer.from('abc'), tag: Buffer.alloc(16, 2) };
    const withEmpty = computeCdiv({ ...parts, aad: Buffer.alloc(0), ciphertextMetadata: Buffer.alloc(0) });
    expect(computeCdiv({ ...parts, aad: undefined, ciphertextMetadata: undefined })).toBe(withEmpty);
    expect(computeCdiv({ ...parts, aad: Buffer.from('x'), ciphertextMetadata: undefined })).not.toBe(withEmpty);
  });
});

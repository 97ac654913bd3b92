import { describe, expect, it } from 'vitest';
import { decodeCiphertextMetadata, encodeCiphertextMetadata } from '../../../src/xks/ciphertext-metadata.ts';

describe('ciphertextMetadata', () => {
  it('records the key version and round-trips it', () => {
    const md = encodeCiphertextMetadata(42);
    expect(md.length).toBeLessThanOrEqual(20);
    expect(decodeCiphertextMetadata(md)).toEqual({ keyVersion: 42, construction: 'spec' });
  });

  it('treats metadata from another proxy as foreign', () => {
    expect(decodeCiphertextMetadata(Buffer.from('key_version=1'))).toBeUndefined();
    expect(decodeCiphertextMetadata(undefined)).toBeUndefined();
    const ours = encodeCiphertextMetadata(1);
    ours[2] = 9; // unknown format
    expect(decodeCiphertextMetadata(ours)).toBeUndefined();
  });
});

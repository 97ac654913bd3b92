import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildGcmAad } from '../../../src/xks/gcm-aad.ts';

describe('buildGcmAad (spec construction)', () => {
  it('prefixes the AAD with its 2-byte big-endian length and the metadata with its 1-byte length', () => {
    const out = buildGcmAad(Buffer.from('abc'), Buffer.from([9, 8]), 'spec');
    expect([...out]).toEqual([0, 3, 0x61, 0x62, 0x63, 2, 9, 8]);
  });

  it('encodes absent AAD and metadata as zero lengths', () => {
    expect([...buildGcmAad(undefined, undefined, 'spec')]).toEqual([0, 0, 0]);
  });

  it('gives different bytes when a byte moves from the end of the AAD to the metadata', () => {
    const a = buildGcmAad(Buffer.from('abcd'), Buffer.from('xy'), 'spec');
    const b = buildGcmAad(Buffer.from('abc'), Buffer.from('dxy'), 'spec');
    expect(a.equals(b)).toBe(false);
  });

  it('handles the largest AAD the spec requires (8192 bytes)', () => {
    const out = buildGcmAad(Buffer.alloc(8192, 7), Buffer.alloc(20, 1), 'spec');
    expect(out.readUInt16BE(0)).toBe(8192);
    expect(out.length).toBe(2 + 8192 + 1 + 20);
  });
});

describe('buildGcmAad (aws-sample-sha256 construction)', () => {
  it('puts SHA-256 of the AAD in place of the AAD but keeps the original length', () => {
    const aad = Buffer.from('project=nile');
    const out = buildGcmAad(aad, Buffer.from([1]), 'aws-sample-sha256');
    expect(out.readUInt16BE(0)).toBe(aad.length);
    expect(out.subarray(2, 34).equals(createHash('sha256').update(aad).digest())).toBe(true);
    expect([...out.subarray(34)]).toEqual([1, 1]);
  });

  it('hashes an AAD field that was sent empty, unlike an absent one', () => {
    const empty = buildGcmAad(Buffer.alloc(0), undefined, 'aws-sample-sha256');
    expect(empty.length).toBe(2 + 32 + 1);
    expect(buildGcmAad(undefined, undefined, 'aws-sample-sha256').length).toBe(3);
  });
});

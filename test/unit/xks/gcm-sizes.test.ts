import { describe, expect, it } from 'vitest';
import { GCM_IV_BYTES, GCM_IV_LENGTHS, GCM_TAG_BYTES, isSpecIvLength } from '../../../src/xks/gcm-sizes.ts';

describe('the AES-GCM sizes of the XKS API', () => {
  it('are the spec numbers: IV 12 or 16 bytes, 12 when we make one, tag 16', () => {
    expect(GCM_IV_BYTES).toBe(12);
    expect(GCM_IV_LENGTHS).toEqual([12, 16]);
    expect(GCM_TAG_BYTES).toBe(16);
  });

  it('accept exactly the IV lengths the spec lists', () => {
    const accepted = Array.from({ length: 40 }, (_, n) => n).filter(isSpecIvLength);
    expect(accepted).toEqual([...GCM_IV_LENGTHS]);
  });
});

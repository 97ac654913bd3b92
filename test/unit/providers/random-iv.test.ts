import { describe, expect, it } from 'vitest';
import { randomIv } from '../../../src/providers/random-iv.ts';

describe('randomIv', () => {
  it('hands out 12-byte IVs that never repeat, across many refills of the pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const iv = randomIv();
      expect(iv.length).toBe(12);
      seen.add(iv.toString('hex'));
    }
    expect(seen.size).toBe(20_000);
  });

  it('gives each caller its own bytes: changing one IV changes no other', () => {
    const a = randomIv();
    const b = randomIv();
    const before = Buffer.from(b);
    a.fill(0xff);
    expect(b.equals(before)).toBe(true);
  });

  it('has no visible bias: each bit is set about half the time', () => {
    let ones = 0;
    const samples = 4_000;
    for (let i = 0; i < samples; i++) for (const byte of randomIv()) for (let bit = 0; bit < 8; bit++) ones += (byte >> bit) & 1;
    const ratio = ones / (samples * 96);
    expect(ratio).toBeGreaterThan(0.49);
    expect(ratio).toBeLessThan(0.51);
  });
});

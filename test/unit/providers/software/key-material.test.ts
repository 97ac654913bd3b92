import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KeyMaterial } from '../../../../src/providers/software/key-material.ts';

const bytes = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', 'hex');

describe('KeyMaterial', () => {
  it('never shows its bytes through toString, JSON, inspect or template strings', () => {
    const m = new KeyMaterial(bytes);
    // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- rendering the key is what this test checks
    const renderings = [String(m), `${m}`, JSON.stringify({ m }), inspect(m), inspect({ nested: { m } }, { depth: 5 })];
    for (const text of renderings) {
      expect(text).not.toContain(bytes.toString('hex'));
      expect(text).not.toContain(bytes.toString('base64'));
      expect(text).toContain('redacted');
    }
  });

  it('keeps its own copy, so the caller can wipe the source', () => {
    const source = Buffer.from(bytes);
    const m = new KeyMaterial(source);
    source.fill(0);
    expect(m.expose().equals(bytes)).toBe(true);
  });

  it('zeroes its bytes and refuses use afterwards', () => {
    const m = new KeyMaterial(bytes);
    const view = m.expose();
    m.zero();
    expect(view.every((b) => b === 0)).toBe(true);
    expect(() => m.expose()).toThrow(/zeroed/);
  });
});

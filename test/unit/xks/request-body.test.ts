import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64Field, isPaddedBase64 } from '../../../src/xks/request-body.ts';

// The rule as a regex: the readable statement of what isPaddedBase64 must decide.
const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

describe('isPaddedBase64', () => {
  it('accepts what Buffer encodes, for every length up to 64 bytes', () => {
    for (let n = 0; n <= 64; n++) expect(isPaddedBase64(randomBytes(n).toString('base64'))).toBe(true);
  });

  it.each(['A', 'AA', 'AAA', 'AA=', 'A===', '====', 'AA==AAAA', 'AAAA=', 'AA-_', 'AAA\u00e9', 'AAA\u0100', ' AAA', 'AAAA\n', 'AA=A'])('refuses %j', (value) => {
    expect(isPaddedBase64(value)).toBe(false);
  });

  it('decides like the regex on 20,000 strings mutated from valid Base64', () => {
    const noise = 'AZaz09+/=-_ \n\u00ff.';
    for (let i = 0; i < 20_000; i++) {
      const chars = [...randomBytes(1 + (i % 13)).toString('base64')];
      const at = i % chars.length;
      if (i % 3 === 0) chars[at] = noise[i % noise.length]!;
      else if (i % 3 === 1) chars.splice(at, 1);
      else chars.splice(at, 0, noise[i % noise.length]!);
      const value = chars.join('');
      expect(isPaddedBase64(value), value).toBe(PADDED_BASE64.test(value));
    }
  });
});

describe('decodeBase64Field', () => {
  it('names the field and the rule that failed', () => {
    expect(() => decodeBase64Field('AA=', 'plaintext', {})).toThrow('Field plaintext is not valid Base64');
    expect(() => decodeBase64Field('AAAA', 'initializationVector', { oneOf: [12, 16] })).toThrow('must decode to 12 or 16 bytes, got 3');
    expect(() => decodeBase64Field('AAAAAAAA', 'aad', { max: 4 })).toThrow('Field aad is too long');
  });

  it('decodes valid input to its bytes', () => {
    const bytes = randomBytes(32);
    expect(decodeBase64Field(bytes.toString('base64'), 'plaintext', { min: 1, max: 4096 }).equals(bytes)).toBe(true);
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64Field, decodePaddedBase64 } from '../../../src/xks/request-body.ts';

// The rule as a regex: the readable statement of what decodePaddedBase64 must accept.
const PADDED_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Accepted exactly when the regex accepts, and then the bytes Buffer decodes. */
function expectLikeTheGrammar(value: string): void {
  const decoded = decodePaddedBase64(value);
  expect(decoded !== undefined, JSON.stringify(value)).toBe(PADDED_BASE64.test(value));
  if (decoded !== undefined) expect(decoded.equals(Buffer.from(value, 'base64')), JSON.stringify(value)).toBe(true);
}

describe('decodePaddedBase64', () => {
  it('decodes what Buffer encodes, for every length up to 64 bytes', () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = randomBytes(n);
      expect(decodePaddedBase64(bytes.toString('base64'))?.equals(bytes)).toBe(true);
    }
  });

  // Node's own decoder takes every one of these (skipping, stopping, or reading the
  // URL-safe alphabet or a character's low byte): '\u0141' reads as 'A', '\u013d' as '='.
  it.each([
    'A',
    'AA',
    'AAA',
    'AA=',
    'A===',
    '====',
    'AA==AAAA',
    'AAAA=',
    'AA-_',
    'AAA\u00e9',
    'AAA\u0100',
    'AAA\u0141',
    'QQ\u013d\u013d',
    'AAA\ud800',
    ' AAA',
    'AAAA\n',
    'AA=A',
    'A\tAA',
  ])('refuses %j', (value) => {
    expect(decodePaddedBase64(value)).toBeUndefined();
  });

  it('decides like the regex on 60,000 strings mutated from valid Base64', () => {
    const noise = 'AZaz09+/=-_ \n\t\u0000\u007f\u00ff.\u00c1\u0100\u0141\u013d\u012b\u022f\ud800\udc00';
    for (let i = 0; i < 60_000; i++) {
      const chars = [...randomBytes(1 + (i % 13)).toString('base64')];
      // One to three mutations: a character replaced, removed or inserted.
      for (let m = 0; m <= i % 3; m++) {
        const at = (i * 7 + m * 5) % (chars.length + 1);
        const pick = noise[(i + m * 11) % noise.length]!;
        const kind = (i + m) % 3;
        if (kind === 0 && at < chars.length) chars[at] = pick;
        else if (kind === 1 && at < chars.length) chars.splice(at, 1);
        else chars.splice(at, 0, pick);
      }
      expectLikeTheGrammar(chars.join(''));
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

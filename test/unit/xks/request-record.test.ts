import { describe, expect, it } from 'vitest';
import { RequestRecord } from '../../../src/xks/request-event.ts';

/** JSON.stringify's members of the record, the reference jsonMembers must match. */
const reference = (r: RequestRecord) => {
  const json = JSON.stringify(r);
  return json.length > 2 ? `,${json.slice(1, -1)}` : '';
};

// Strings a request can put into the record: plain, quotes and backslashes, controls,
// non-ASCII, a surrogate pair, lone surrogates, the JSON-legal U+2028, and the empty string.
const STRINGS = [
  'foo',
  'a"b',
  'back\\slash',
  'tab\tnew\nline\u0000\u001f',
  'k\u00e9y',
  '\ud83d\udd11',
  'lone \ud800',
  'lone \udfff end',
  '\u2028',
  '',
  '\u007f',
];
const NUMBERS = [200, 0, -0, 0.123, 1e21, 1e-7, 0.1 + 0.2, Number.NaN, Number.POSITIVE_INFINITY, -5];

const STRING_FIELDS = [
  'prefix',
  'keyId',
  'accessKeyId',
  'kmsRequestId',
  'kmsOperation',
  'awsPrincipalArn',
  'kmsKeyArn',
  'errorName',
  'reason',
  'method',
] as const;
const NUMBER_FIELDS = ['status', 'latencyMs', 'at'] as const;

/** A small deterministic generator, so a failure names a reproducible case. */
function* cases(count: number): Generator<RequestRecord> {
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < count; i++) {
    const r = new RequestRecord();
    for (const field of STRING_FIELDS) if (next(3) > 0) r[field] = STRINGS[next(STRINGS.length)];
    for (const field of NUMBER_FIELDS) if (next(3) > 0) r[field] = NUMBERS[next(NUMBERS.length)];
    if (next(2) === 0) r.operation = 'encrypt';
    if (next(2) === 0) r.outcome = 'error';
    yield r;
  }
}

describe('RequestRecord.jsonMembers', () => {
  it('is what JSON.stringify writes between the braces, for every field and awkward values', () => {
    for (const r of cases(2000)) expect(r.jsonMembers()).toBe(reference(r));
  });

  it('is empty for an empty record and keeps the declared field order', () => {
    expect(new RequestRecord().jsonMembers()).toBe('');
    const r = new RequestRecord();
    r.outcome = 'ok';
    r.prefix = 'p';
    r.status = 200;
    expect(r.jsonMembers()).toBe(',"prefix":"p","status":200,"outcome":"ok"');
  });

  it('covers every field the record has (a new field must be written too)', () => {
    const r = new RequestRecord();
    for (const key of Object.keys(r) as Array<keyof RequestRecord>) {
      (r as unknown as Record<string, unknown>)[key] = NUMBER_FIELDS.includes(key as (typeof NUMBER_FIELDS)[number]) ? 1 : 'x';
    }
    expect(r.jsonMembers()).toBe(reference(r));
    expect(Object.keys(r)).toHaveLength(STRING_FIELDS.length + NUMBER_FIELDS.length + 2); // + operation, outcome
  });
});

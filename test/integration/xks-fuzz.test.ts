import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hono } from 'hono';
import { createSoftwareApp, type SoftwareFixture } from '../support/software-tenant.ts';
import { b64, DEMO_PREFIX, requestMetadata, signXks, xksPath } from '../support/xks-client.ts';

let fx: SoftwareFixture;
let app: Hono;

beforeAll(async () => {
  ({ fx, app } = await createSoftwareApp());
});
afterAll(() => fx.cleanup());

/** A small seeded PRNG so a failure can be reproduced from the printed seed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const WEIRD_VALUES: unknown[] = [null, true, 0, -1, 1e308, '', ' ', '====', 'AA', 'A'.repeat(20_000), [], {}, [1], { a: 1 }, '\u0000', '\ud800', '../../etc'];

function mutate(value: unknown, rand: () => number, depth = 0): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < 3) {
    const obj = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(obj);
    const key = keys[Math.floor(rand() * keys.length)];
    const roll = rand();
    if (key === undefined || roll < 0.15) obj[`extra${Math.floor(rand() * 9)}`] = WEIRD_VALUES[Math.floor(rand() * WEIRD_VALUES.length)];
    else if (roll < 0.3) delete obj[key];
    else if (roll < 0.6) obj[key] = WEIRD_VALUES[Math.floor(rand() * WEIRD_VALUES.length)];
    else obj[key] = mutate(obj[key], rand, depth + 1);
    return obj;
  }
  return WEIRD_VALUES[Math.floor(rand() * WEIRD_VALUES.length)];
}

describe('mutated request bodies', () => {
  it('never get a 500, a non-JSON answer or a stack trace (2,000 signed mutations)', async () => {
    const seed = Date.now() % 100_000;
    const rand = prng(seed);
    const templates: Array<[string, Record<string, unknown>]> = [
      [xksPath(DEMO_PREFIX, 'health'), { requestMetadata: { kmsRequestId: 'r', kmsOperation: 'KmsHealthCheck' } }],
      [xksPath(DEMO_PREFIX, 'metadata'), { requestMetadata: requestMetadata('DescribeKey') }],
      [xksPath(DEMO_PREFIX, 'encrypt'), { requestMetadata: requestMetadata('Encrypt'), plaintext: b64('p'), encryptionAlgorithm: 'AES_GCM', additionalAuthenticatedData: b64('a') }],
      [xksPath(DEMO_PREFIX, 'decrypt'), {
        requestMetadata: requestMetadata('Decrypt'), ciphertext: b64('c'), initializationVector: b64(Buffer.alloc(12)),
        authenticationTag: b64(Buffer.alloc(16)), encryptionAlgorithm: 'AES_GCM', ciphertextMetadata: b64('m'),
      }],
    ];
    for (let i = 0; i < 2000; i++) {
      const [path, template] = templates[i % templates.length]!;
      let body = template as unknown;
      const rounds = 1 + Math.floor(rand() * 3);
      for (let r = 0; r < rounds; r++) body = mutate(body, rand);
      const text = JSON.stringify(body) ?? 'null';
      const res = await app.request(path, { method: 'POST', headers: signXks(path, text), body: text });
      const raw = await res.text();
      const context = `seed ${seed}, request ${i}: ${res.status} ${raw.slice(0, 200)} for ${text.slice(0, 200)}`;
      expect(res.status, context).toBeLessThan(500);
      expect(res.headers.get('content-type'), context).toContain('application/json');
      const json = JSON.parse(raw) as Record<string, unknown>;
      if (res.status !== 200) {
        expect(typeof json.errorName, context).toBe('string');
        expect(String(json.errorMessage), context).toMatch(/^[\x20-\x7e]{1,511}$/);
        expect(String(json.errorMessage), context).not.toMatch(/\s+at\s+\S+\s+\(/);
      }
    }
  });
});

/** Key usage is enforced: a key only does what its usage allows (spec "Error codes", InvalidKeyUsageException). */
import { randomBytes } from 'node:crypto';
import type { CheckDefinition } from '../check.ts';
import { CheckFailure, fail, skip } from '../check.ts';
import { decryptInputFor, decryptOk, encryptOk } from '../crypto-answers.ts';
import type { EncryptOutput } from '../crypto-answers.ts';
import { expectError, expectSuccess } from '../expect-answer.ts';
import type { ConformanceKeys } from '../options.ts';

const GROUP = 'key-usage';
const SPEC = 'Error codes (InvalidKeyUsageException)';

function keyOrSkip(keys: ConformanceKeys, role: keyof ConformanceKeys): string {
  if (keys[role] === '') skip(`no ${role} key configured`);
  return keys[role];
}

/** A forged but well-formed decrypt input. */
function forged() {
  return { ciphertext: randomBytes(32), iv: randomBytes(12), tag: randomBytes(16) };
}

const MATRIX_AAD = Buffer.from('project=nile,department=marketing');

/**
 * One row of the key usage x operation x CDIV matrix: every Encrypt variant (with and
 * without AAD, with and without a CDIV algorithm), Decrypt and GetKeyMetadata on one key,
 * each with the answer the spec and the AWS test client expect:
 * - Encrypt without CDIV: 200 iff the key may ENCRYPT, else InvalidKeyUsageException.
 * - Encrypt with CDIV: 200 iff the key may ENCRYPT *and* DECRYPT, since the proxy must
 *   decrypt its output before vouching for it (Appendix C); else InvalidKeyUsageException
 *   (the AWS client expects exactly this for its encrypt-only key).
 * - Decrypt of the key's own ciphertexts (or, for a key that cannot encrypt, a forged one):
 *   the plaintext iff the key may DECRYPT (forged: InvalidCiphertextException), else
 *   InvalidKeyUsageException.
 * - GetKeyMetadata: ENCRYPT and DECRYPT reported exactly as allowed.
 * Every cell is tried and every wrong one reported, not only the first.
 */
function usageMatrix(role: keyof ConformanceKeys, mayEncrypt: boolean, mayDecrypt: boolean): CheckDefinition {
  const name = role.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const usage = [mayEncrypt ? 'ENCRYPT' : '', mayDecrypt ? 'DECRYPT' : ''].filter(Boolean).join('+') || 'no usage';
  return {
    id: `key-usage.matrix-${name}`,
    group: GROUP,
    title: `the ${name} key (${usage}): Encrypt with/without AAD and CDIV, Decrypt and GetKeyMetadata each give the expected answer`,
    spec: 'Encrypt; Decrypt; GetKeyMetadata; Appendix C; Error codes (InvalidKeyUsageException)',
    level: 'MUST',
    async run({ client, options }) {
      const key = keyOrSkip(options.keys, role);
      const problems: string[] = [];
      const cells: string[] = [];
      const cell = async (label: string, body: () => Promise<void>) => {
        try {
          await body();
          cells.push(label);
        } catch (e) {
          if (!(e instanceof CheckFailure)) throw e;
          problems.push(e.message);
        }
      };
      const made: Array<{ out: EncryptOutput; aad?: Buffer; plaintext: Buffer }> = [];
      for (const aad of [undefined, MATRIX_AAD]) {
        for (const cdiv of [false, true]) {
          const label = `encrypt ${aad ? 'with' : 'without'} AAD, ${cdiv ? 'with' : 'without'} CDIV on ${key}`;
          const allowed = mayEncrypt && (!cdiv || mayDecrypt);
          await cell(label, async () => {
            const plaintext = randomBytes(24);
            const input = { plaintext, ...(aad ? { aad } : {}), ...(cdiv ? { cdiv } : {}) };
            if (!allowed) {
              expectError(await client.encrypt(key, input), ['InvalidKeyUsageException'], label);
              return;
            }
            const out = await encryptOk(client, key, input, label);
            made.push({ out, plaintext, ...(aad ? { aad } : {}) });
          });
        }
      }
      if (mayEncrypt) {
        for (const m of made) {
          const label = `decrypt ${key}'s own ciphertext ${m.aad ? 'with' : 'without'} AAD${m.out.cdiv ? ' (made with a CDIV)' : ''}`;
          await cell(label, async () => {
            if (mayDecrypt) await decryptOk(client, key, decryptInputFor(m.out, m.aad), m.plaintext, label);
            else expectError(await client.decrypt(key, decryptInputFor(m.out, m.aad)), ['InvalidKeyUsageException'], label);
          });
        }
      } else {
        const label = `decrypt a forged ciphertext with ${key}`;
        await cell(label, async () => {
          expectError(await client.decrypt(key, forged()), [mayDecrypt ? 'InvalidCiphertextException' : 'InvalidKeyUsageException'], label);
        });
      }
      await cell(`metadata of ${key}`, async () => {
        const body = expectSuccess(await client.metadata(key), `metadata of ${key}`);
        const got = body.keyUsage as string[];
        if (got.includes('ENCRYPT') !== mayEncrypt || got.includes('DECRYPT') !== mayDecrypt)
          fail(`metadata of ${key}: keyUsage ${JSON.stringify(got)}, expected ${usage}`);
      });
      if (problems.length > 0) fail(problems.join('; '));
      return `${cells.length} cells as expected`;
    },
  };
}

/** Checks of key usage enforcement. */
export const keyUsageChecks: CheckDefinition[] = [
  usageMatrix('main', true, true),
  usageMatrix('encryptOnly', true, false),
  usageMatrix('decryptOnly', false, true),
  usageMatrix('impotent', false, false),
  {
    id: 'key-usage.encrypt-only-cannot-decrypt',
    group: GROUP,
    title: 'the encrypt-only key encrypts, but decrypting its own ciphertext is 400 InvalidKeyUsageException',
    spec: SPEC,
    level: 'MUST',
    async run({ client, options }) {
      const key = keyOrSkip(options.keys, 'encryptOnly');
      const aad = Buffer.from('conformance');
      const out = await encryptOk(client, key, { plaintext: randomBytes(32), aad }, `encrypt with ${key}`);
      expectError(await client.decrypt(key, decryptInputFor(out, aad)), ['InvalidKeyUsageException'], `decrypt with ${key}`);
    },
  },
  {
    id: 'key-usage.decrypt-only-cannot-encrypt',
    group: GROUP,
    title: 'encrypting with the decrypt-only key is 400 InvalidKeyUsageException',
    spec: SPEC,
    level: 'MUST',
    async run({ client, options }) {
      const key = keyOrSkip(options.keys, 'decryptOnly');
      expectError(await client.encrypt(key, { plaintext: randomBytes(32) }), ['InvalidKeyUsageException'], `encrypt with ${key}`);
      expectError(
        await client.encrypt(key, { plaintext: randomBytes(32), aad: randomBytes(8), cdiv: true }),
        ['InvalidKeyUsageException'],
        `encrypt with ${key}, AAD and CDIV`,
      );
    },
  },
  {
    id: 'key-usage.decrypt-only-can-decrypt',
    group: GROUP,
    title: 'the decrypt-only key may decrypt: a forged ciphertext is 400 InvalidCiphertextException, not a usage error',
    spec: 'Decrypt; Error codes',
    level: 'MUST',
    async run({ client, options }) {
      const key = keyOrSkip(options.keys, 'decryptOnly');
      expectError(await client.decrypt(key, forged()), ['InvalidCiphertextException'], `decrypt a forged ciphertext with ${key}`);
    },
  },
  {
    id: 'key-usage.impotent-cannot-encrypt',
    group: GROUP,
    title: 'encrypting with the key without usages is 400 InvalidKeyUsageException',
    spec: SPEC,
    level: 'MUST',
    async run({ client, options }) {
      const key = keyOrSkip(options.keys, 'impotent');
      expectError(await client.encrypt(key, { plaintext: randomBytes(32) }), ['InvalidKeyUsageException'], `encrypt with ${key}`);
    },
  },
  {
    id: 'key-usage.impotent-cannot-decrypt',
    group: GROUP,
    title: 'decrypting with the key without usages is 400 InvalidKeyUsageException',
    spec: SPEC,
    level: 'MUST',
    async run({ client, options }) {
      const key = keyOrSkip(options.keys, 'impotent');
      expectError(await client.decrypt(key, forged()), ['InvalidKeyUsageException'], `decrypt with ${key}`);
    },
  },
];

/** Key usage is enforced: a key only does what its usage allows (spec "Error codes", InvalidKeyUsageException). */
import { randomBytes } from 'node:crypto';
import type { CheckDefinition } from '../check.ts';
import { skip } from '../check.ts';
import { decryptInputFor, encryptOk } from '../crypto-answers.ts';
import { expectError } from '../expect-answer.ts';
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

/** Checks of key usage enforcement. */
export const keyUsageChecks: CheckDefinition[] = [
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
      expectError(await client.encrypt(key, { plaintext: randomBytes(32), aad: randomBytes(8), cdiv: true }), ['InvalidKeyUsageException'], `encrypt with ${key}, AAD and CDIV`);
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

/** Encrypt/Decrypt round trips, IV uniqueness and key binding (spec Encrypt, Decrypt). */
import { randomBytes } from 'node:crypto';
import type { CheckDefinition } from '../check.ts';
import { fail, skip } from '../check.ts';
import { decryptInputFor, decryptOk, encryptOk } from '../crypto-answers.ts';
import type { EncryptOutput } from '../crypto-answers.ts';
import { expectError } from '../expect-answer.ts';

const GROUP = 'crypto';
/** How many encrypt calls are in flight at once in the IV uniqueness check. */
const IV_CONCURRENCY = 8;

/** Checks of the cryptographic core. */
export const cryptoChecks: CheckDefinition[] = [
  {
    id: 'crypto.round-trip',
    group: GROUP,
    title: 'encrypt without AAD returns well-formed fields and the ciphertext decrypts to the plaintext',
    spec: 'Encrypt; Decrypt',
    level: 'MUST',
    async run({ client, options }) {
      const plaintext = randomBytes(64);
      const out = await encryptOk(client, options.keys.main, { plaintext });
      if (out.ciphertext.equals(plaintext)) fail('the ciphertext equals the plaintext');
      await decryptOk(client, options.keys.main, decryptInputFor(out), plaintext);
      return `IV ${out.iv.length} bytes, ciphertextMetadata ${out.metadata ? `${out.metadata.length} bytes` : 'absent'}`;
    },
  },
  {
    id: 'crypto.round-trip-aad',
    group: GROUP,
    title: 'encrypt with AAD decrypts to the plaintext with the same AAD',
    spec: 'Encrypt; Decrypt (additionalAuthenticatedData)',
    level: 'MUST',
    async run({ client, options }) {
      const plaintext = randomBytes(48);
      const aad = Buffer.from('project=nile,department=marketing');
      const out = await encryptOk(client, options.keys.main, { plaintext, aad }, 'encrypt with AAD');
      await decryptOk(client, options.keys.main, decryptInputFor(out, aad), plaintext, 'decrypt with the same AAD');
    },
  },
  {
    id: 'crypto.round-trip-empty-aad',
    group: GROUP,
    title: 'an AAD field that is present but empty round-trips',
    spec: 'Encrypt; Decrypt (additionalAuthenticatedData)',
    level: 'SHOULD',
    async run({ client, options }) {
      const plaintext = randomBytes(16);
      const aad = Buffer.alloc(0);
      const out = await encryptOk(client, options.keys.main, { plaintext, aad }, 'encrypt with an empty AAD');
      await decryptOk(client, options.keys.main, decryptInputFor(out, aad), plaintext, 'decrypt with an empty AAD');
    },
  },
  {
    id: 'crypto.iv-unique',
    group: GROUP,
    title: 'IVs never repeat across many encryptions of the same plaintext (some in parallel)',
    spec: 'Encrypt (initializationVector); AES-GCM requires a unique IV per key',
    level: 'MUST',
    async run({ client, options }) {
      const plaintext = Buffer.alloc(32, 0x42);
      const outs: EncryptOutput[] = [];
      for (let i = 0; i < options.ivSamples; i += IV_CONCURRENCY) {
        const batch = Math.min(IV_CONCURRENCY, options.ivSamples - i);
        outs.push(...(await Promise.all(Array.from({ length: batch }, () => encryptOk(client, options.keys.main, { plaintext })))));
      }
      const ivs = new Set(outs.map((o) => o.iv.toString('hex')));
      if (ivs.size !== outs.length) fail(`${outs.length - ivs.size} repeated IVs in ${outs.length} encryptions`);
      const cts = new Set(outs.map((o) => o.ciphertext.toString('hex')));
      if (cts.size !== outs.length) fail(`${outs.length - cts.size} repeated ciphertexts in ${outs.length} encryptions of one plaintext`);
      return `${outs.length} distinct IVs`;
    },
  },
  {
    id: 'crypto.key-binding',
    group: GROUP,
    title: 'a ciphertext made under the main key does not decrypt under another key (decrypt-only key)',
    spec: 'API operations (externalKeyId identifies one key); Decrypt',
    level: 'MUST',
    async run({ client, options }) {
      if (options.keys.decryptOnly === '') skip('no decryptOnly key configured');
      const out = await encryptOk(client, options.keys.main, { plaintext: randomBytes(32) });
      expectError(
        await client.decrypt(options.keys.decryptOnly, decryptInputFor(out)),
        ['InvalidCiphertextException'],
        `decrypt ${options.keys.main}'s ciphertext with ${options.keys.decryptOnly}`,
      );
    },
  },
];

/** Size limits, at the edge and one past it (spec Encrypt, Decrypt, "API operations"). */
import { randomBytes } from 'node:crypto';
import type { CheckDefinition } from '../check.ts';
import { fail } from '../check.ts';
import { decryptInputFor, decryptOk, encryptOk, readEncryptOutput } from '../crypto-answers.ts';
import { computeCdiv } from '../cdiv.ts';
import { expectError, expectSuccessOrError } from '../expect-answer.ts';
import type { SpecErrorName } from '../error-table.ts';
import { requestMetadata, type EncryptInput } from '../request-bodies.ts';
import type { XksClient } from '../xks-client.ts';

const GROUP = 'limits';
/** Above a spec minimum a proxy may still work, or refuse with one of these (spec "Error codes", 501 row). */
const PAST_LIMIT: SpecErrorName[] = ['ValidationException', 'UnsupportedOperationException'];

/**
 * Encrypts an input one byte past a spec minimum: a proxy may accept it (then the answer
 * must be a valid encryption) or refuse it with one of PAST_LIMIT, never anything else.
 */
async function encryptPastLimit(client: XksClient, keyId: string, input: EncryptInput, label: string): Promise<string> {
  const a = await client.encrypt(keyId, input);
  const r = expectSuccessOrError(a, PAST_LIMIT, label);
  if (r === 'ok') readEncryptOutput(a.json as Record<string, unknown>, input, label);
  return r === 'ok' ? 'accepted' : `refused with ${r}`;
}
/** Wrongly sized decrypt fields are bad input or a corrupt ciphertext. */
const BAD_SIZE: SpecErrorName[] = ['ValidationException', 'InvalidCiphertextException'];

/** Checks of the sizes the spec requires a proxy to handle. */
export const limitChecks: CheckDefinition[] = [
  {
    id: 'limits.plaintext-4300',
    group: GROUP,
    title: 'a 4300-byte plaintext encrypts and decrypts back',
    spec: 'Encrypt (plaintext: MUST support up to 4300 bytes); Decrypt (ciphertext)',
    level: 'MUST',
    async run({ client, options }) {
      const plaintext = randomBytes(4300);
      const out = await encryptOk(client, options.keys.main, { plaintext }, 'encrypt 4300 bytes');
      await decryptOk(client, options.keys.main, decryptInputFor(out), plaintext, 'decrypt 4300 bytes');
    },
  },
  {
    id: 'limits.plaintext-4301',
    group: GROUP,
    title: 'a 4301-byte plaintext is encrypted or refused with 400 ValidationException / 501, never a crash',
    spec: 'Encrypt (plaintext); Error codes (UnsupportedOperationException)',
    level: 'MUST',
    async run({ client, options }) {
      return encryptPastLimit(client, options.keys.main, { plaintext: randomBytes(4301) }, 'encrypt 4301 bytes');
    },
  },
  {
    id: 'limits.aad-8192',
    group: GROUP,
    title: 'an 8192-byte AAD encrypts and decrypts back',
    spec: 'Encrypt, Decrypt (additionalAuthenticatedData: MUST handle up to 8192 bytes)',
    level: 'MUST',
    async run({ client, options }) {
      const plaintext = randomBytes(32);
      const aad = randomBytes(8192);
      const out = await encryptOk(client, options.keys.main, { plaintext, aad }, 'encrypt with 8192 bytes of AAD');
      await decryptOk(client, options.keys.main, decryptInputFor(out, aad), plaintext, 'decrypt with 8192 bytes of AAD');
    },
  },
  {
    id: 'limits.aad-8193',
    group: GROUP,
    title: 'an 8193-byte AAD is accepted or refused with 400 ValidationException / 501, never a crash',
    spec: 'Encrypt (additionalAuthenticatedData); Error codes (UnsupportedOperationException)',
    level: 'MUST',
    async run({ client, options }) {
      const input = { plaintext: randomBytes(32), aad: randomBytes(8193) };
      return encryptPastLimit(client, options.keys.main, input, 'encrypt with 8193 bytes of AAD');
    },
  },
  {
    id: 'limits.max-sizes-with-cdiv',
    group: GROUP,
    title: '4300 bytes of plaintext with 8192 bytes of AAD and a CDIV round-trip, CDIV correct',
    spec: 'Encrypt; Decrypt; Appendix C',
    level: 'MUST',
    async run({ client, options }) {
      const plaintext = randomBytes(4300);
      const aad = randomBytes(8192);
      const out = await encryptOk(client, options.keys.main, { plaintext, aad, cdiv: true }, 'encrypt at maximum sizes');
      if (!computeCdiv({ aad, ...out }).equals(out.cdiv!)) fail('ciphertextDataIntegrityValue does not match SHA-256 over the response fields');
      await decryptOk(client, options.keys.main, decryptInputFor(out, aad), plaintext, 'decrypt at maximum sizes');
    },
  },
  {
    id: 'limits.ciphertext-4301',
    group: GROUP,
    title: 'decrypting a 4301-byte (forged) ciphertext is refused with a 400 or 501, never a crash',
    spec: 'Decrypt (ciphertext); Error codes',
    level: 'MUST',
    async run({ client, options }) {
      const a = await client.decrypt(options.keys.main, { ciphertext: randomBytes(4301), iv: randomBytes(12), tag: randomBytes(16) });
      expectError(a, ['InvalidCiphertextException', ...PAST_LIMIT], 'decrypt 4301 forged bytes');
    },
  },
  {
    id: 'limits.iv-16-bytes',
    group: GROUP,
    title: 'a 16-byte IV is a legal size: a forged one is answered 400 InvalidCiphertextException',
    spec: 'Decrypt (initializationVector: 12 or 16 bytes)',
    level: 'MUST',
    async run({ client, options }) {
      const a = await client.decrypt(options.keys.main, { ciphertext: randomBytes(32), iv: randomBytes(16), tag: randomBytes(16) });
      expectError(a, ['InvalidCiphertextException'], 'decrypt with a forged 16-byte IV');
    },
  },
  {
    id: 'limits.iv-bad-lengths',
    group: GROUP,
    title: 'IVs of 0, 11, 13, 15 and 17 bytes are refused with 400',
    spec: 'Decrypt (initializationVector: 12 or 16 bytes)',
    level: 'MUST',
    async run({ client, options }) {
      for (const n of [0, 11, 13, 15, 17]) {
        const a = await client.decrypt(options.keys.main, { ciphertext: randomBytes(32), iv: randomBytes(n), tag: randomBytes(16) });
        expectError(a, BAD_SIZE, `decrypt with a ${n}-byte IV`);
      }
    },
  },
  {
    id: 'limits.tag-length',
    group: GROUP,
    title: 'authentication tags of 0, 12, 15 and 17 bytes are refused with 400',
    spec: 'Decrypt (authenticationTag: 16 bytes)',
    level: 'MUST',
    async run({ client, options }) {
      for (const n of [0, 12, 15, 17]) {
        const a = await client.decrypt(options.keys.main, { ciphertext: randomBytes(32), iv: randomBytes(12), tag: randomBytes(n) });
        expectError(a, BAD_SIZE, `decrypt with a ${n}-byte tag`);
      }
    },
  },
  {
    id: 'limits.ciphertext-metadata-21',
    group: GROUP,
    title: 'a 21-byte ciphertextMetadata is refused with 400',
    spec: 'Decrypt (ciphertextMetadata: at most 20 bytes)',
    level: 'MUST',
    async run({ client, options }) {
      const a = await client.decrypt(options.keys.main, { ciphertext: randomBytes(32), iv: randomBytes(12), tag: randomBytes(16), metadata: randomBytes(21) });
      expectError(a, BAD_SIZE, 'decrypt with 21 bytes of ciphertextMetadata');
    },
  },
  {
    id: 'limits.arn-2048',
    group: GROUP,
    title: 'ARNs of 2048 characters in requestMetadata are accepted',
    spec: 'API operations (ARN lengths up to 2048)',
    level: 'MUST',
    async run({ client, options }) {
      const principal = 'arn:aws:iam::123456789012:role/';
      const key = 'arn:aws:kms:us-east-1:123456789012:key/';
      const meta = requestMetadata('Encrypt', {
        awsPrincipalArn: principal + 'p'.repeat(2048 - principal.length),
        kmsKeyArn: key + 'k'.repeat(2048 - key.length),
      });
      const plaintext = randomBytes(32);
      const out = await encryptOk(client, options.keys.main, { plaintext }, 'encrypt with 2048-character ARNs', meta);
      await decryptOk(client, options.keys.main, decryptInputFor(out), plaintext, 'decrypt with 2048-character ARNs', { ...meta, kmsOperation: 'Decrypt' });
    },
  },
];

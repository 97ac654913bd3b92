/** CDIV: present when asked for and equal to SHA-256 over the response fields (spec Encrypt, Appendix C). */
import { randomBytes } from 'node:crypto';
import type { CheckDefinition } from '../check.ts';
import { fail } from '../check.ts';
import { computeCdiv } from '../cdiv.ts';
import { decryptInputFor, decryptOk, encryptOk } from '../crypto-answers.ts';

const GROUP = 'cdiv';

function cdivCheck(id: string, title: string, aad: Buffer | undefined): CheckDefinition {
  return {
    id: `cdiv.${id}`,
    group: GROUP,
    title,
    spec: 'Encrypt (ciphertextDataIntegrityValue); Appendix C',
    level: 'MUST',
    async run({ client, options }) {
      const plaintext = randomBytes(32);
      const out = await encryptOk(client, options.keys.main, aad ? { plaintext, aad, cdiv: true } : { plaintext, cdiv: true }, 'encrypt with CDIV');
      const expected = computeCdiv({ aad, ...out });
      if (!expected.equals(out.cdiv!)) {
        const withoutAad = computeCdiv({ ...out });
        const hint = aad && withoutAad.equals(out.cdiv!) ? ' (it leaves out the AAD)' : '';
        fail(
          `ciphertextDataIntegrityValue ${out.cdiv!.toString('base64')} differs from SHA-256(aad || metadata || iv || ciphertext || tag) = ${expected.toString('base64')}${hint}`,
        );
      }
      // KMS reads a CDIV as a promise that the same fields decrypt (Appendix C).
      await decryptOk(client, options.keys.main, decryptInputFor(out, aad), plaintext, 'decrypt the CDIV-vouched ciphertext');
    },
  };
}

/** Checks of the ciphertext data integrity value. */
export const cdivChecks: CheckDefinition[] = [
  cdivCheck(
    'with-aad',
    'with AAD, the CDIV equals SHA-256(aad || metadata || iv || ciphertext || tag) and the output decrypts',
    Buffer.from('project=nile,department=marketing'),
  ),
  cdivCheck('without-aad', 'without AAD, the CDIV equals SHA-256(metadata || iv || ciphertext || tag) and the output decrypts', undefined),
];

/**
 * The software keystore's crypto ceiling: AES-256-GCM with node:crypto (the functions the
 * software provider calls), in one process, in the proxy's request mix and sizes.
 * Run: node --import tsx bench/ceilings/crypto-ceiling.ts <seconds> <plaintextBytes> <aadBytes>
 */
import { randomBytes } from 'node:crypto';
import { gcmDecrypt, gcmEncrypt } from '../../src/providers/software/software-aes-gcm.ts';
import { gcmAadBytes, measureMix, printCeiling } from './request-mix.ts';

const [seconds = '5', plaintextBytes = '256', aadBytes = '64'] = process.argv.slice(2);
const key = randomBytes(32);
const plaintext = randomBytes(Number(plaintextBytes));
const aad = randomBytes(gcmAadBytes(Number(aadBytes)));
const sealedIv = randomBytes(12);
const sealed = gcmEncrypt(key, sealedIv, plaintext, aad);

function request(i: number): void {
  if (i % 2 === 0) {
    // Encrypt with CDIV: a fresh IV, then the verification decrypt.
    const iv = randomBytes(12);
    const out = gcmEncrypt(key, iv, plaintext, aad);
    if (gcmDecrypt(key, iv, out.ciphertext, out.tag, aad) === null) throw new Error('round trip failed');
  } else if (gcmDecrypt(key, sealedIv, sealed.ciphertext, sealed.tag, aad) === null) {
    throw new Error('decrypt failed');
  }
}

await measureMix(1, 0.5, request); // warm-up
printCeiling(await measureMix(1, Number(seconds), request));

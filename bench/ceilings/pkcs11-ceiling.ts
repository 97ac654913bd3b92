/**
 * The PKCS#11 ceiling: pkcs11js called directly on the token the softhsm target uses, with
 * as many sessions as the provider's pool (each session looping on its own, the async API
 * on the libuv thread pool as the provider does), in the proxy's request mix and sizes.
 * Run: node --import tsx bench/ceilings/pkcs11-ceiling.ts <seconds> <sessions> <plaintextBytes> <aadBytes>
 * with PKCS11_MODULE, PKCS11_TOKEN_LABEL, PKCS11_PIN and PKCS11_KEY_LABEL in the environment
 * (and SOFTHSM2_CONF for SoftHSM2).
 */
import { randomBytes } from 'node:crypto';
import { openBenchToken } from './pkcs11-bench-token.ts';
import { gcmAadBytes, measureMix, printCeiling } from './request-mix.ts';

const [seconds = '5', sessionCount = '8', plaintextBytes = '256', aadBytes = '64'] = process.argv.slice(2);
const { p, sessions, key, gcm, close } = openBenchToken(Number(sessionCount));

const plaintext = randomBytes(Number(plaintextBytes));
const aad = randomBytes(gcmAadBytes(Number(aadBytes)));

async function encrypt(session: Buffer, iv: Buffer): Promise<Buffer> {
  p.C_EncryptInit(session, gcm(iv, aad), key);
  return Buffer.from(await p.C_EncryptAsync(session, plaintext, Buffer.alloc(plaintext.length + 16)));
}

async function decrypt(session: Buffer, iv: Buffer, sealed: Buffer): Promise<void> {
  p.C_DecryptInit(session, gcm(iv, aad), key);
  const out = await p.C_DecryptAsync(session, sealed, Buffer.alloc(sealed.length));
  if (out.length !== plaintext.length) throw new Error('decrypt returned the wrong length');
}

const sealedIv = randomBytes(12);
const sealed = await encrypt(sessions[0]!, sealedIv);
async function request(i: number, session: Buffer): Promise<void> {
  if (i % 2 === 0) {
    const iv = randomBytes(12);
    await decrypt(session, iv, await encrypt(session, iv));
  } else {
    await decrypt(session, sealedIv, sealed);
  }
}

// Each loop owns one session: one operation at a time per session, as PKCS#11 requires.
const run = (durationS: number) => measureMix(sessions.length, durationS, (i, loop) => request(i, sessions[loop]!));

await run(1); // warm-up
const result = await run(Number(seconds));
printCeiling(result);
close();

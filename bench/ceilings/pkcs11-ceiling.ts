/**
 * The PKCS#11 ceiling: pkcs11js called directly on the token the softhsm target uses, with
 * as many sessions as the provider's pool (each session looping on its own, the async API
 * on the libuv thread pool as the provider does), in the proxy's request mix and sizes.
 * Run: node --import tsx bench/ceilings/pkcs11-ceiling.ts <seconds> <sessions> <plaintextBytes> <aadBytes>
 * with PKCS11_MODULE, PKCS11_TOKEN_LABEL, PKCS11_PIN and PKCS11_KEY_LABEL in the environment
 * (and SOFTHSM2_CONF for SoftHSM2).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { gcmAadBytes, measureMix, printCeiling } from './request-mix.ts';

const require = createRequire(import.meta.url);
const pkcs11js = require('pkcs11js') as typeof Pkcs11js;

const [seconds = '5', sessionCount = '8', plaintextBytes = '256', aadBytes = '64'] = process.argv.slice(2);
const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const p = new pkcs11js.PKCS11();
p.load(env('PKCS11_MODULE'));
// CKF_OS_LOCKING_OK: concurrent calls from the thread pool need the library's locking.
p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === env('PKCS11_TOKEN_LABEL'));
if (slot === undefined) throw new Error('token not found');
const sessions = Array.from({ length: Number(sessionCount) }, () => p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
try {
  p.C_Login(sessions[0]!, pkcs11js.CKU_USER, env('PKCS11_PIN'));
} catch (e) {
  if ((e as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw e;
}
p.C_FindObjectsInit(sessions[0]!, [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
  { type: pkcs11js.CKA_LABEL, value: env('PKCS11_KEY_LABEL') },
]);
const [key] = p.C_FindObjects(sessions[0]!, 1);
p.C_FindObjectsFinal(sessions[0]!);
if (key === undefined) throw new Error('key not found');

const plaintext = randomBytes(Number(plaintextBytes));
const aad = randomBytes(gcmAadBytes(Number(aadBytes)));
const gcm = (iv: Buffer): Pkcs11js.Mechanism => ({
  mechanism: pkcs11js.CKM_AES_GCM,
  parameter: { type: pkcs11js.CK_PARAMS_GCM, iv, ivBits: 96, aad, tagBits: 128 } as Pkcs11js.IParams,
});

async function encrypt(session: Buffer, iv: Buffer): Promise<Buffer> {
  p.C_EncryptInit(session, gcm(iv), key!);
  return Buffer.from(await p.C_EncryptAsync(session, plaintext, Buffer.alloc(plaintext.length + 16)));
}

async function decrypt(session: Buffer, iv: Buffer, sealed: Buffer): Promise<void> {
  p.C_DecryptInit(session, gcm(iv), key!);
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
for (const s of sessions) p.C_CloseSession(s);
p.C_Finalize();

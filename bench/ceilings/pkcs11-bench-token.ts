/**
 * The bench token as the PKCS#11 ceilings open it: pkcs11js loaded with the module named
 * in the environment (PKCS11_MODULE, PKCS11_TOKEN_LABEL, PKCS11_PIN, PKCS11_KEY_LABEL,
 * and SOFTHSM2_CONF for SoftHSM2), `count` logged-in sessions, the key's handle, and the
 * AES-GCM mechanism the provider uses (96-bit IV, 128-bit tag).
 */
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';

const require = createRequire(import.meta.url);
const pkcs11js = require('pkcs11js') as typeof Pkcs11js;

/** An open token: the library, its sessions and the bench key. */
export interface BenchToken {
  p: Pkcs11js.PKCS11;
  sessions: Buffer[];
  key: Buffer;
  /** AES-256-GCM with this IV and AAD. */
  gcm: (iv: Buffer, aad: Buffer) => Pkcs11js.Mechanism;
  close: () => void;
}

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

/** Opens the token named in the environment with `count` sessions, logged in as the user. */
export function openBenchToken(count: number): BenchToken {
  const p = new pkcs11js.PKCS11();
  p.load(env('PKCS11_MODULE'));
  // CKF_OS_LOCKING_OK: concurrent calls from the thread pool need the library's locking.
  p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === env('PKCS11_TOKEN_LABEL'));
  if (slot === undefined) throw new Error('token not found');
  const sessions = Array.from({ length: count }, () => p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
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
  return {
    p,
    sessions,
    key,
    gcm: (iv, aad) => ({
      mechanism: pkcs11js.CKM_AES_GCM,
      parameter: { type: pkcs11js.CK_PARAMS_GCM, iv, ivBits: 96, aad, tagBits: 128 } as Pkcs11js.IParams,
    }),
    close: () => {
      for (const s of sessions) p.C_CloseSession(s);
      p.C_Finalize();
    },
  };
}

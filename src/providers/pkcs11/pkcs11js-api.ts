import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import type { Pkcs11Api, Pkcs11Mechanism } from './pkcs11-api.ts';
import { CKF_OS_LOCKING_OK } from './pkcs11-constants.ts';

// pkcs11js is CommonJS with a native addon; load it lazily so importing this provider
// (e.g. for config schemas) never loads native code.
const require = createRequire(import.meta.url);
let binding: typeof Pkcs11js | undefined;
function pkcs11js(): typeof Pkcs11js {
  binding ??= require('pkcs11js') as typeof Pkcs11js;
  return binding;
}

function toNativeMechanism(m: Pkcs11Mechanism): Pkcs11js.Mechanism {
  if (m.gcm === undefined) return { mechanism: m.mechanism };
  const { iv, aad, tagBits } = m.gcm;
  // CK_PARAMS_GCM is pkcs11js's CK_GCM_PARAMS (v2.40, with ulIvBits); pIv points into `iv`.
  return {
    mechanism: m.mechanism,
    parameter: { type: pkcs11js().CK_PARAMS_GCM, iv, ivBits: iv.length * 8, aad, tagBits } as Pkcs11js.IParams,
  };
}

/** Loads a PKCS#11 library through pkcs11js and exposes it as a Pkcs11Api. */
export function loadPkcs11js(modulePath: string): Pkcs11Api {
  const lib = pkcs11js();
  const p = new lib.PKCS11();
  p.load(modulePath);
  return {
    C_Initialize: (libraryParameters) =>
      p.C_Initialize(libraryParameters === undefined ? { flags: CKF_OS_LOCKING_OK } : { flags: CKF_OS_LOCKING_OK, libraryParameters }),
    C_GetInfo: () => p.C_GetInfo(),
    C_Finalize: () => p.C_Finalize(),
    close: () => p.close(),
    C_GetSlotList: (tokenPresent) => p.C_GetSlotList(tokenPresent),
    C_GetTokenInfo: (slot) => p.C_GetTokenInfo(slot),
    C_OpenSession: (slot, flags) => p.C_OpenSession(slot, flags),
    C_CloseSession: (session) => p.C_CloseSession(session),
    C_GetSessionInfo: (session) => p.C_GetSessionInfo(session),
    C_Login: (session, userType, pin) => p.C_Login(session, userType, pin),
    C_FindObjectsInit: (session, template) => p.C_FindObjectsInit(session, template),
    C_FindObjects: (session, max) => p.C_FindObjects(session, max),
    C_FindObjectsFinal: (session) => p.C_FindObjectsFinal(session),
    C_GetAttributeValue: (session, object, template) => p.C_GetAttributeValue(session, object, template),
    C_GenerateRandom: (session, buffer) => p.C_GenerateRandom(session, buffer),
    C_GenerateKey: (session, mechanism, template) => p.C_GenerateKey(session, toNativeMechanism(mechanism), template),
    C_EncryptInit: (session, mechanism, key) => p.C_EncryptInit(session, toNativeMechanism(mechanism), key),
    C_EncryptAsync: (session, input, output) => p.C_EncryptAsync(session, input, output),
    C_DecryptInit: (session, mechanism, key) => p.C_DecryptInit(session, toNativeMechanism(mechanism), key),
    C_DecryptAsync: (session, input, output) => p.C_DecryptAsync(session, input, output),
  };
}

import { XksError } from '../../xks/errors.ts';
import type { KeyUsage } from '../../xks/key-provider-port.ts';
import type { Pkcs11Api, Pkcs11Attribute, Pkcs11Handle } from './pkcs11-api.ts';
import { CKA, CKK_AES, CKO_SECRET_KEY, CKR, CKS_USER_STATES } from './pkcs11-constants.ts';
import { Pkcs11CallError } from './pkcs11-call-error.ts';

/** A key found in the token: its handle (valid until logout / session loss) and usages. */
export interface Pkcs11KeyEntry {
  handle: Pkcs11Handle;
  usages: KeyUsage[];
}

/** Reads a CK_ULONG attribute (native-endian, 4 or 8 bytes as the platform's unsigned long). */
export function readCkUlong(value: Buffer): number {
  if (value.length === 8) return Number(value.readBigUInt64LE(0));
  if (value.length === 4) return value.readUInt32LE(0);
  throw new Error(`unexpected CK_ULONG size ${value.length}`);
}

/** Reads a CK_BBOOL attribute (one byte). */
export function readCkBool(value: Buffer): boolean {
  return value.length > 0 && value[0] !== 0;
}

function attr(attrs: Pkcs11Attribute[], type: number): Buffer {
  const found = attrs.find((a) => a.type === type)?.value;
  if (!Buffer.isBuffer(found)) throw new Error(`attribute 0x${type.toString(16)} missing`);
  return found;
}

/** All objects matching `template`, up to `max` (a find is always finished, even on error). */
export function findObjects(api: Pkcs11Api, session: Pkcs11Handle, template: Pkcs11Attribute[], max: number): Pkcs11Handle[] {
  api.C_FindObjectsInit(session, template);
  try {
    return api.C_FindObjects(session, max);
  } finally {
    api.C_FindObjectsFinal(session);
  }
}

/**
 * Finds the AES-256 key labelled `label` and reads its usages from CKA_ENCRYPT /
 * CKA_DECRYPT. A label that names no key is KeyNotFoundException; one that names some
 * other object, a non-AES or non-256-bit key, or several keys is InvalidStateException:
 * the key exists but cannot serve XKS, which only knows AES_256 (spec GetKeyMetadata),
 * and the message tells the operator why. Private objects are invisible while logged
 * out, so when the token is used logged in (`loginRequired`), an empty search in a
 * logged-out session raises USER_NOT_LOGGED_IN (recoverable) instead of a wrong "not
 * found"; a token used without login (NSS database, public keys) is never logged in.
 */
export function lookupAesKey(api: Pkcs11Api, session: Pkcs11Handle, label: string, loginRequired = true): Pkcs11KeyEntry {
  const handles = findObjects(
    api,
    session,
    [
      { type: CKA.CLASS, value: CKO_SECRET_KEY },
      { type: CKA.LABEL, value: label },
    ],
    2,
  );
  if (handles.length === 0) {
    if (loginRequired && !CKS_USER_STATES.has(api.C_GetSessionInfo(session).state)) throw new Pkcs11CallError(CKR.USER_NOT_LOGGED_IN);
    if (findObjects(api, session, [{ type: CKA.LABEL, value: label }], 1).length > 0) {
      throw new XksError('InvalidStateException', `HSM object "${label}" is not a secret key; XKS keys must be AES-256.`);
    }
    throw new XksError('KeyNotFoundException', `No key labelled "${label}" in the HSM.`);
  }
  if (handles.length > 1) {
    throw new XksError('InvalidStateException', `Several HSM keys are labelled "${label}"; labels of XKS keys must be unique.`);
  }
  const handle = handles[0] as Pkcs11Handle;
  const attrs = api.C_GetAttributeValue(session, handle, [{ type: CKA.KEY_TYPE }, { type: CKA.VALUE_LEN }, { type: CKA.ENCRYPT }, { type: CKA.DECRYPT }]);
  const keyType = readCkUlong(attr(attrs, CKA.KEY_TYPE));
  const bytes = readCkUlong(attr(attrs, CKA.VALUE_LEN));
  if (keyType !== CKK_AES || bytes !== 32) {
    const what = keyType === CKK_AES ? `AES-${bytes * 8}` : `key type 0x${keyType.toString(16)}`;
    throw new XksError('InvalidStateException', `HSM key "${label}" is ${what}; XKS keys must be AES-256.`);
  }
  const usages: KeyUsage[] = [];
  if (readCkBool(attr(attrs, CKA.ENCRYPT))) usages.push('ENCRYPT');
  if (readCkBool(attr(attrs, CKA.DECRYPT))) usages.push('DECRYPT');
  return { handle, usages };
}

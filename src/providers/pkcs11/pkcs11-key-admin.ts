import { randomBytes } from 'node:crypto';
import type { Pkcs11Api, Pkcs11Attribute, Pkcs11Handle } from './pkcs11-api.ts';
import { CKA, CKK_AES, CKM, CKO_SECRET_KEY } from './pkcs11-constants.ts';
import { findObjects, readCkBool, readCkUlong } from './pkcs11-key-lookup.ts';

/** Which operations a new key allows (CKA_ENCRYPT / CKA_DECRYPT). */
export interface Pkcs11KeyUsageSpec {
  encrypt: boolean;
  decrypt: boolean;
}

/** Parses the CLI's --usage value: encrypt,decrypt | encrypt | decrypt | none. */
export function parsePkcs11KeyUsage(value: string): Pkcs11KeyUsageSpec {
  const parts = value === 'none' ? [] : value.split(',').map((p) => p.trim().toLowerCase());
  const unknown = parts.filter((p) => p !== 'encrypt' && p !== 'decrypt');
  if (unknown.length > 0 || (parts.length === 0 && value !== 'none')) {
    throw new Error(`invalid usage "${value}": use encrypt,decrypt | encrypt | decrypt | none`);
  }
  return { encrypt: parts.includes('encrypt'), decrypt: parts.includes('decrypt') };
}

/**
 * Generates an AES-256 key inside the token: a token object, sensitive and never
 * extractable, with only the requested usages (no wrap, sign or derive). It is a private
 * object (visible only after login) unless `isPrivate` is false, for tokens used without
 * login (config `login: none`: a private object cannot be created or found there). Refuses
 * a label that is already used, since XKS finds keys by label.
 */
export function generatePkcs11AesKey(api: Pkcs11Api, session: Pkcs11Handle, label: string, usage: Pkcs11KeyUsageSpec, isPrivate = true): Pkcs11Handle {
  if (findObjects(api, session, [{ type: CKA.LABEL, value: label }], 1).length > 0) {
    throw new Error(`an object labelled "${label}" already exists in the token`);
  }
  const template: Pkcs11Attribute[] = [
    { type: CKA.CLASS, value: CKO_SECRET_KEY },
    { type: CKA.KEY_TYPE, value: CKK_AES },
    { type: CKA.VALUE_LEN, value: 32 },
    { type: CKA.LABEL, value: label },
    { type: CKA.ID, value: randomBytes(16) },
    { type: CKA.TOKEN, value: true },
    { type: CKA.PRIVATE, value: isPrivate },
    { type: CKA.SENSITIVE, value: true },
    { type: CKA.EXTRACTABLE, value: false },
    { type: CKA.ENCRYPT, value: usage.encrypt },
    { type: CKA.DECRYPT, value: usage.decrypt },
    { type: CKA.WRAP, value: false },
    { type: CKA.UNWRAP, value: false },
    { type: CKA.SIGN, value: false },
    { type: CKA.VERIFY, value: false },
    { type: CKA.DERIVE, value: false },
  ];
  return api.C_GenerateKey(session, { mechanism: CKM.AES_KEY_GEN }, template);
}

/** One secret key as `hsm keys list` shows it. */
export interface Pkcs11KeyListing {
  label: string;
  id: string;
  type: string;
  bits: number | undefined;
  encrypt: boolean;
  decrypt: boolean;
  sensitive: boolean;
  extractable: boolean;
  /** Why XKS cannot use this key, or undefined if it can. */
  problem: string | undefined;
}

function read(api: Pkcs11Api, session: Pkcs11Handle, handle: Pkcs11Handle, type: number): Buffer | undefined {
  try {
    const value = api.C_GetAttributeValue(session, handle, [{ type }])[0]?.value;
    return Buffer.isBuffer(value) ? value : undefined;
  } catch {
    // Attribute not defined for this key type (CKR_ATTRIBUTE_TYPE_INVALID): show it as unknown.
    return undefined;
  }
}

/** Every secret key in the token with its attributes and whether XKS can use it. */
export function listPkcs11SecretKeys(api: Pkcs11Api, session: Pkcs11Handle): Pkcs11KeyListing[] {
  const handles = findObjects(api, session, [{ type: CKA.CLASS, value: CKO_SECRET_KEY }], 10_000);
  const listing = handles.map((h): Pkcs11KeyListing => {
    const bool = (type: number): boolean => {
      const v = read(api, session, h, type);
      return v !== undefined && readCkBool(v);
    };
    const keyType = read(api, session, h, CKA.KEY_TYPE);
    const len = read(api, session, h, CKA.VALUE_LEN);
    const isAes = keyType !== undefined && readCkUlong(keyType) === CKK_AES;
    const bits = len === undefined ? undefined : readCkUlong(len) * 8;
    const label = read(api, session, h, CKA.LABEL)?.toString('utf8') ?? '';
    return {
      label,
      id: read(api, session, h, CKA.ID)?.toString('hex') ?? '',
      type: keyType === undefined ? 'unknown' : isAes ? 'AES' : `0x${readCkUlong(keyType).toString(16)}`,
      bits,
      encrypt: bool(CKA.ENCRYPT),
      decrypt: bool(CKA.DECRYPT),
      sensitive: bool(CKA.SENSITIVE),
      extractable: bool(CKA.EXTRACTABLE),
      problem: !isAes || bits !== 256 ? 'not AES-256' : label === '' ? 'no label' : undefined,
    };
  });
  const seen = new Map<string, number>();
  for (const k of listing) seen.set(k.label, (seen.get(k.label) ?? 0) + 1);
  for (const k of listing) if (k.problem === undefined && (seen.get(k.label) ?? 0) > 1) k.problem = 'label not unique';
  return listing.sort((a, b) => a.label.localeCompare(b.label));
}

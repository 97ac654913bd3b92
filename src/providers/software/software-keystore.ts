import type { KeyUsage } from '../../xks/key-provider-port.ts';
import { KEY_ID_PATTERN, normalizeUsages, zeroContents, type KeystoreContents, type SoftwareKey } from './software-keystore-contents.ts';
import { KeystoreFileError } from './software-keystore-errors.ts';
import { generateKeyMaterial, SoftwareKeystoreFile } from './software-keystore-file.ts';
import type { KeystoreSecret, ScryptParams } from './software-keystore-kek.ts';

/** What `keys list` shows about a key: everything except key material. */
export interface KeySummary {
  keyId: string;
  usages: KeyUsage[];
  enabled: boolean;
  currentVersion: number;
  createdAt: string;
  versions: { version: number; createdAt: string }[];
}

/** Options for a new key. */
export interface NewKeyOptions {
  usages: readonly KeyUsage[];
  enabled: boolean;
}

/** Key summary without material (safe to print). */
export function summarizeKey(key: SoftwareKey): KeySummary {
  return {
    keyId: key.keyId,
    usages: [...key.usages],
    enabled: key.enabled,
    currentVersion: key.versions.length,
    createdAt: key.createdAt,
    versions: key.versions.map((v) => ({ version: v.version, createdAt: v.createdAt })),
  };
}

/** Throws unless `keyId` has the spec's externalKeyId format. */
export function assertValidKeyId(file: string, keyId: string): void {
  if (!KEY_ID_PATTERN.test(keyId)) {
    throw new KeystoreFileError('invalid-key-id', file, `invalid key id "${keyId.slice(0, 140)}": use 1-128 characters of A-Za-z0-9._- (spec externalKeyId)`);
  }
}

/** Adds a key with version 1 to `contents`. */
export function addKey(file: string, contents: KeystoreContents, keyId: string, options: NewKeyOptions): KeySummary {
  assertValidKeyId(file, keyId);
  if (contents.keys.has(keyId)) throw new KeystoreFileError('key-exists', file, `key ${keyId} already exists in keystore file ${file}`);
  const now = new Date().toISOString();
  const key: SoftwareKey = {
    keyId,
    usages: normalizeUsages(options.usages),
    enabled: options.enabled,
    createdAt: now,
    versions: [{ version: 1, createdAt: now, material: generateKeyMaterial() }],
  };
  contents.keys.set(keyId, key);
  return summarizeKey(key);
}

/** Adds a new version to a key; new encryptions use it, older versions still decrypt. */
export function rotateKey(file: string, contents: KeystoreContents, keyId: string): KeySummary {
  const key = requireKey(file, contents, keyId);
  key.versions.push({ version: key.versions.length + 1, createdAt: new Date().toISOString(), material: generateKeyMaterial() });
  return summarizeKey(key);
}

/** Enables or disables a key (a disabled key answers InvalidStateException). */
export function setKeyEnabled(file: string, contents: KeystoreContents, keyId: string, enabled: boolean): KeySummary {
  const key = requireKey(file, contents, keyId);
  key.enabled = enabled;
  return summarizeKey(key);
}

/** All keys, sorted by id. */
export function listKeys(contents: KeystoreContents): KeySummary[] {
  return [...contents.keys.values()].map(summarizeKey).sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
}

function requireKey(file: string, contents: KeystoreContents, keyId: string): SoftwareKey {
  const key = contents.keys.get(keyId);
  if (!key) throw new KeystoreFileError('key-not-found', file, `key ${keyId} does not exist in keystore file ${file}`);
  return key;
}

/** Creates an empty keystore file (with its health canary); refuses to overwrite one. */
export async function initKeystore(path: string, secret: KeystoreSecret, params?: ScryptParams): Promise<void> {
  const file = new SoftwareKeystoreFile(path, secret);
  try {
    await file.create(undefined, params);
  } finally {
    file.close();
  }
}

/** Runs one locked change on a keystore file and returns its result. */
export async function changeKeystore<T>(path: string, secret: KeystoreSecret, change: (file: string, contents: KeystoreContents) => T): Promise<T> {
  const file = new SoftwareKeystoreFile(path, secret);
  try {
    return await file.update((contents) => change(path, contents));
  } finally {
    file.close();
  }
}

/** Lists the keys of a keystore file. */
export async function readKeySummaries(path: string, secret: KeystoreSecret): Promise<KeySummary[]> {
  const file = new SoftwareKeystoreFile(path, secret);
  try {
    const { contents } = await file.read();
    try {
      return listKeys(contents);
    } finally {
      zeroContents(contents);
    }
  } finally {
    file.close();
  }
}

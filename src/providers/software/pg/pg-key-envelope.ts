import { gcmDecrypt, gcmEncrypt } from '../software-aes-gcm.ts';
import { KeyMaterial } from '../key-material.ts';
import { randomIv } from '../../random-iv.ts';
import { GCM_IV_BYTES, GCM_TAG_BYTES } from '../../../xks/gcm-sizes.ts';

/**
 * How a key lives in the database: AES-256-GCM under the store key (derived from the KEK
 * inside the proxy, exactly as the keystore file's key is), with the key id and version
 * as AAD. The database therefore holds no key in clear, and a row copied to another key
 * id or version fails authentication instead of silently becoming that key.
 */
export interface SealedKey {
  iv: Buffer;
  /** ciphertext (32 bytes) || tag (16 bytes) */
  sealed: Buffer;
}

function keyAad(keyId: string, version: number): Buffer {
  return Buffer.from(`xks-proxy postgres key v1\0${keyId}\0${version}`, 'utf8');
}

const CANARY_AAD = Buffer.from('xks-proxy postgres canary v1', 'utf8');

function seal(storeKey: KeyMaterial, material: KeyMaterial, aad: Buffer): SealedKey {
  const iv = Buffer.from(randomIv());
  const { ciphertext, tag } = gcmEncrypt(storeKey.expose(), iv, material.expose(), aad);
  return { iv, sealed: Buffer.concat([ciphertext, tag]) };
}

function open(storeKey: KeyMaterial, row: SealedKey, aad: Buffer): KeyMaterial | null {
  if (row.iv.length !== GCM_IV_BYTES || row.sealed.length !== 32 + GCM_TAG_BYTES) return null;
  const tagAt = row.sealed.length - GCM_TAG_BYTES;
  const plain = gcmDecrypt(storeKey.expose(), row.iv, row.sealed.subarray(0, tagAt), row.sealed.subarray(tagAt), aad);
  if (plain === null) return null;
  const material = new KeyMaterial(plain);
  plain.fill(0);
  return material;
}

/** Seals one key version for its row. */
export function sealKeyVersion(storeKey: KeyMaterial, keyId: string, version: number, material: KeyMaterial): SealedKey {
  return seal(storeKey, material, keyAad(keyId, version));
}

/** Opens one key version row; null when it fails authentication (tampered, moved or another KEK). */
export function openKeyVersion(storeKey: KeyMaterial, keyId: string, version: number, row: SealedKey): KeyMaterial | null {
  return open(storeKey, row, keyAad(keyId, version));
}

/** Seals the health canary key. */
export function sealCanary(storeKey: KeyMaterial, material: KeyMaterial): SealedKey {
  return seal(storeKey, material, CANARY_AAD);
}

/** Opens the health canary key; null when it fails authentication. */
export function openCanary(storeKey: KeyMaterial, row: SealedKey): KeyMaterial | null {
  return open(storeKey, row, CANARY_AAD);
}

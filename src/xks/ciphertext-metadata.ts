import type { AadConstruction } from './gcm-aad.ts';

/**
 * The ciphertextMetadata this proxy returns from Encrypt (spec: at most 20 bytes of
 * vendor housekeeping, authenticated through the AAD). Layout, 7 bytes:
 *   "xk" (magic) | format (1 = spec AAD construction) | uint32_be key version
 * Recording the construction follows the spec's advice to encode AAD behaviour in the
 * metadata, so a later change of construction keeps old ciphertexts decryptable.
 */

const MAGIC_0 = 0x78; // 'x'
const MAGIC_1 = 0x6b; // 'k'
const FORMAT_SPEC_AAD = 1;
const METADATA_LENGTH = 7;

/** What our metadata records about how a ciphertext was made. */
export interface CiphertextOrigin {
  keyVersion: number;
  construction: AadConstruction;
}

/** Encodes the metadata for a new ciphertext (always the spec construction). */
export function encodeCiphertextMetadata(keyVersion: number): Buffer {
  const out = Buffer.allocUnsafe(METADATA_LENGTH);
  out[0] = MAGIC_0;
  out[1] = MAGIC_1;
  out[2] = FORMAT_SPEC_AAD;
  out.writeUInt32BE(keyVersion, 3);
  return out;
}

/**
 * Reads metadata written by this proxy; returns undefined for metadata that is absent or
 * was not made by us (a ciphertext from a proxy we replaced), which the key store then
 * treats by its `foreignCiphertextAad` setting. A forged or altered value still fails
 * decryption, because the metadata bytes are part of the GCM AAD.
 */
export function decodeCiphertextMetadata(metadata: Uint8Array | undefined): CiphertextOrigin | undefined {
  if (metadata === undefined || metadata.length !== METADATA_LENGTH) return undefined;
  if (metadata[0] !== MAGIC_0 || metadata[1] !== MAGIC_1 || metadata[2] !== FORMAT_SPEC_AAD) return undefined;
  return { keyVersion: Buffer.from(metadata).readUInt32BE(3), construction: 'spec' };
}

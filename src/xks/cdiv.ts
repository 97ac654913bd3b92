import { createHash } from 'node:crypto';

/**
 * Ciphertext Data Integrity Value (spec Appendix C): Base64 of
 * SHA-256(aad || ciphertextMetadata || iv || ciphertext || tag) over decoded bytes,
 * absent fields as empty, no length prefixes.
 */
export function computeCdiv(parts: {
  aad: Uint8Array | undefined;
  ciphertextMetadata: Uint8Array | undefined;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}): string {
  const hash = createHash('sha256');
  if (parts.aad !== undefined) hash.update(parts.aad);
  if (parts.ciphertextMetadata !== undefined) hash.update(parts.ciphertextMetadata);
  hash.update(parts.iv).update(parts.ciphertext).update(parts.tag);
  return hash.digest('base64');
}

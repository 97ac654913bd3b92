import { hash } from 'node:crypto';

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
  const bytes: Uint8Array[] = [];
  if (parts.aad !== undefined) bytes.push(parts.aad);
  if (parts.ciphertextMetadata !== undefined) bytes.push(parts.ciphertextMetadata);
  bytes.push(parts.iv, parts.ciphertext, parts.tag);
  // One-shot hash over the joined bytes (a few hundred): no native Hash object per
  // Encrypt, which each young-generation GC would otherwise have to finalise.
  return hash('sha256', Buffer.concat(bytes), 'base64');
}

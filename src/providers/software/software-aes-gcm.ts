import { createCipheriv, createDecipheriv } from 'node:crypto';
import { GCM_TAG_BYTES } from '../../xks/gcm-sizes.ts';

/**
 * AES-256-GCM encryption with node:crypto (OpenSSL, AES-NI): many times faster than
 * @noble/ciphers (docs/software-keystore.md, "Which AES-GCM implementation").
 */
export function gcmEncrypt(key: Buffer, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/**
 * AES-256-GCM decryption. Returns null when authentication fails (wrong key, IV, AAD,
 * tag or ciphertext) — GCM cannot tell these apart, and callers map it to their own error.
 * Any IV length works (the spec allows 12 or 16 bytes; OpenSSL hashes non-96-bit IVs).
 */
export function gcmDecrypt(key: Buffer, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array): Buffer | null {
  // A short tag would be accepted by OpenSSL as a truncated tag; the spec requires 16 bytes.
  if (tag.length !== GCM_TAG_BYTES || iv.length === 0) return null;
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const head = decipher.update(ciphertext);
  try {
    return Buffer.concat([head, decipher.final()]);
  } catch {
    // Unauthenticated plaintext must not survive in memory.
    head.fill(0);
    return null;
  }
}

/**
 * The AES-GCM sizes of the XKS API, written once: the spec's Encrypt answer and Decrypt
 * request carry an `initializationVector` of 12 or 16 bytes and an `authenticationTag` of
 * 16 bytes. Every AES-GCM encryption this proxy makes (for KMS, and for its own keystore
 * file and key rows) uses a 12-byte IV and a 16-byte tag.
 */

/** The IV of every encryption made here: 12 bytes, GCM's native 96 bits (NIST SP 800-38D section 8.2). */
export const GCM_IV_BYTES = 12;

/** The other IV length the spec accepts (an upstream or key manager may produce it). */
export const GCM_LONG_IV_BYTES = 16;

/** The IV lengths the spec accepts, for validation messages and decoders. */
export const GCM_IV_LENGTHS: readonly number[] = [GCM_IV_BYTES, GCM_LONG_IV_BYTES];

/** The only authenticationTag length (128 bits). */
export const GCM_TAG_BYTES = 16;

/** True when `length` is an IV length the spec accepts (12 or 16 bytes). */
export function isSpecIvLength(length: number): boolean {
  return length === GCM_IV_BYTES || length === GCM_LONG_IV_BYTES;
}

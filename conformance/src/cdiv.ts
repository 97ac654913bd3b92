/** The Ciphertext Data Integrity Value, recomputed from the fields (spec Appendix C). */
import { createHash } from 'node:crypto';

/** Fields the CDIV covers; absent optional fields count as empty. */
export interface CdivFields {
  aad?: Uint8Array;
  metadata?: Uint8Array;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/** SHA-256(aad || ciphertextMetadata || iv || ciphertext || tag), no lengths (Appendix C). */
export function computeCdiv(f: CdivFields): Buffer {
  const h = createHash('sha256');
  if (f.aad) h.update(f.aad);
  if (f.metadata) h.update(f.metadata);
  h.update(f.iv).update(f.ciphertext).update(f.tag);
  return h.digest();
}

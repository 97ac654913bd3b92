import { createHash } from 'node:crypto';

/**
 * How the bytes given to AES-GCM as AAD are built from the request's AAD and the
 * ciphertextMetadata (spec Encrypt, "ciphertextMetadata"):
 * - `spec`: uint16_be(len(aad)) || aad || uint8(len(md)) || md. The explicit lengths stop
 *   bytes from moving between AAD and metadata.
 * - `aws-sample-sha256`: what the AWS sample proxy built: SHA-256(aad) in place of aad
 *   (the 2-byte length stays the original AAD's length; the digest is present whenever
 *   the AAD field was sent, even empty). Only used to decrypt ciphertexts that proxy made.
 */
export type AadConstruction = 'spec' | 'aws-sample-sha256';

/** Builds the AES-GCM AAD for one call. `aad` undefined means the field was absent. */
export function buildGcmAad(aad: Uint8Array | undefined, metadata: Uint8Array | undefined, construction: AadConstruction): Buffer {
  const aadLength = aad?.length ?? 0;
  const mdLength = metadata?.length ?? 0;
  const aadPart = aad === undefined ? Buffer.alloc(0) : construction === 'spec' ? aad : createHash('sha256').update(aad).digest();
  const out = Buffer.allocUnsafe(2 + aadPart.length + 1 + mdLength);
  out.writeUInt16BE(aadLength, 0);
  out.set(aadPart, 2);
  out.writeUInt8(mdLength, 2 + aadPart.length);
  if (metadata !== undefined) out.set(metadata, 3 + aadPart.length);
  return out;
}

/** AES-256-GCM as a conforming XKS proxy does it, with switches to do it wrong. */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Breakage } from './breakages.ts';

/** The fields of one encryption. */
export interface GcmResult {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
  metadata: Buffer;
}

/** Opaque ciphertextMetadata the reference returns (a key version, as vendors do). */
export const REFERENCE_METADATA = Buffer.from('kv=1');
const LONG_METADATA = Buffer.from('kv=1;vendor-housekeeping');

const FIXED_IV = Buffer.alloc(12, 0x24);

/** The AAD AES-GCM sees: uint16(len aad) || aad || uint8(len md) || md (spec Encrypt, ciphertextMetadata). */
export function gcmAad(aad: Buffer | undefined, metadata: Buffer | undefined, broken: ReadonlySet<Breakage>): Buffer {
  const a = broken.has('ignore-aad') ? Buffer.alloc(0) : (aad ?? Buffer.alloc(0));
  const m = broken.has('metadata-unauthenticated') ? Buffer.alloc(0) : (metadata ?? Buffer.alloc(0));
  if (broken.has('aad-without-lengths')) return Buffer.concat([a, m]);
  const aLen = Buffer.alloc(2);
  aLen.writeUInt16BE(a.length);
  return Buffer.concat([aLen, a, Buffer.from([m.length]), m]);
}

/** Encrypts with a fresh 12-byte IV (or the fixed one when broken). */
export function gcmEncrypt(key: Buffer, plaintext: Buffer, aad: Buffer | undefined, broken: ReadonlySet<Breakage>): GcmResult {
  const iv = broken.has('reuse-iv') ? FIXED_IV : randomBytes(broken.has('short-iv') ? 8 : 12);
  const metadata = broken.has('long-ciphertext-metadata') ? LONG_METADATA : REFERENCE_METADATA;
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(gcmAad(aad, metadata, broken));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  const ciphertext = broken.has('tag-appended') ? Buffer.concat([body, tag]) : body;
  return { ciphertext, iv, tag, metadata };
}

/** Decrypts; throws when the tag does not verify (unless broken). */
export function gcmDecrypt(
  key: Buffer,
  f: { ciphertext: Buffer; iv: Buffer; tag: Buffer; aad?: Buffer; metadata?: Buffer },
  broken: ReadonlySet<Breakage>,
): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, f.iv);
  decipher.setAAD(gcmAad(f.aad, f.metadata, broken));
  decipher.setAuthTag(f.tag);
  const out = decipher.update(f.ciphertext);
  if (broken.has('ignore-tag')) return out;
  return Buffer.concat([out, decipher.final()]);
}

/** SHA-256(aad || metadata || iv || ciphertext || tag) (spec Appendix C). */
export function referenceCdiv(aad: Buffer | undefined, r: GcmResult, broken: ReadonlySet<Breakage>): Buffer {
  const h = createHash('sha256');
  if (aad && !broken.has('cdiv-without-aad')) h.update(aad);
  return h.update(r.metadata).update(r.iv).update(r.ciphertext).update(r.tag).digest();
}

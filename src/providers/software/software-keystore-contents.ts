import { z } from 'zod';
import type { KeyUsage } from '../../xks/key-provider-port.ts';
import { AES_256_KEY_BYTES, KeyMaterial } from './key-material.ts';

/** Spec format of externalKeyId: 1-128 characters of A-Za-z0-9._- */
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** One version of a software key. */
export interface SoftwareKeyVersion {
  version: number;
  createdAt: string;
  material: KeyMaterial;
}

/** One customer key with all its versions; the last version is the current one. */
export interface SoftwareKey {
  keyId: string;
  usages: KeyUsage[];
  enabled: boolean;
  createdAt: string;
  versions: SoftwareKeyVersion[];
}

/** Everything the keystore file holds once decrypted. */
export interface KeystoreContents {
  createdAt: string;
  /** Health-only key (spec GetHealthStatus): kept apart from customer keys, never listed. */
  canary: KeyMaterial;
  keys: Map<string, SoftwareKey>;
}

// Key bytes never pass through JSON (strings cannot be zeroed): the JSON part holds indexes
// into a binary tail of 32-byte keys.
const bodyJsonSchema = z
  .object({
    createdAt: z.string(),
    canary: z.number().int().nonnegative(),
    keys: z.array(
      z
        .object({
          keyId: z.string().regex(KEY_ID_PATTERN),
          usages: z.array(z.enum(['ENCRYPT', 'DECRYPT'])),
          enabled: z.boolean(),
          createdAt: z.string(),
          versions: z
            .array(z.object({ version: z.number().int().positive(), createdAt: z.string(), material: z.number().int().nonnegative() }).strict())
            .min(1),
        })
        .strict(),
    ),
  })
  .strict();

type BodyJson = z.infer<typeof bodyJsonSchema>;

/** Serializes contents to the plaintext of the keystore file: uint32 JSON length, JSON, key bytes. */
export function encodeContents(contents: KeystoreContents): Buffer {
  const materials: KeyMaterial[] = [contents.canary];
  const json: BodyJson = {
    createdAt: contents.createdAt,
    canary: 0,
    keys: [...contents.keys.values()].map((key) => ({
      keyId: key.keyId,
      usages: [...key.usages],
      enabled: key.enabled,
      createdAt: key.createdAt,
      versions: key.versions.map((v) => ({ version: v.version, createdAt: v.createdAt, material: materials.push(v.material) - 1 })),
    })),
  };
  const jsonBytes = Buffer.from(JSON.stringify(json), 'utf8');
  const out = Buffer.alloc(4 + jsonBytes.length + materials.length * AES_256_KEY_BYTES);
  out.writeUInt32BE(jsonBytes.length, 0);
  jsonBytes.copy(out, 4);
  materials.forEach((m, i) => m.expose().copy(out, 4 + jsonBytes.length + i * AES_256_KEY_BYTES));
  return out;
}

/** Parses the plaintext of the keystore file; throws with the reason when it is malformed. */
export function decodeContents(plain: Buffer): KeystoreContents {
  if (plain.length < 4) throw new Error('contents too short');
  const jsonLength = plain.readUInt32BE(0);
  const tailStart = 4 + jsonLength;
  if (tailStart > plain.length) throw new Error('contents length field out of range');
  const tailLength = plain.length - tailStart;
  if (tailLength % AES_256_KEY_BYTES !== 0) throw new Error('key material section has a partial key');
  const materialCount = tailLength / AES_256_KEY_BYTES;

  let raw: unknown;
  try {
    raw = JSON.parse(plain.subarray(4, tailStart).toString('utf8'));
  } catch {
    throw new Error('contents are not valid JSON');
  }
  const parsed = bodyJsonSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`contents do not match the format: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const body = parsed.data;

  const used = new Set<number>();
  const material = (index: number): KeyMaterial => {
    if (index >= materialCount || used.has(index)) throw new Error('contents reference key material that is missing or shared');
    used.add(index);
    const start = tailStart + index * AES_256_KEY_BYTES;
    return new KeyMaterial(plain.subarray(start, start + AES_256_KEY_BYTES));
  };

  const keys = new Map<string, SoftwareKey>();
  const contents: KeystoreContents = { createdAt: body.createdAt, canary: material(body.canary), keys };
  try {
    for (const k of body.keys) {
      if (keys.has(k.keyId)) throw new Error(`key ${k.keyId} appears twice`);
      k.versions.forEach((v, i) => {
        if (v.version !== i + 1) throw new Error(`key ${k.keyId} has versions out of order`);
      });
      keys.set(k.keyId, {
        keyId: k.keyId,
        usages: normalizeUsages(k.usages),
        enabled: k.enabled,
        createdAt: k.createdAt,
        versions: k.versions.map((v) => ({ version: v.version, createdAt: v.createdAt, material: material(v.material) })),
      });
    }
  } catch (e) {
    zeroContents(contents);
    throw e;
  }
  return contents;
}

/** De-duplicates usages and puts them in the spec's order (ENCRYPT before DECRYPT). */
export function normalizeUsages(usages: readonly KeyUsage[]): KeyUsage[] {
  return (['ENCRYPT', 'DECRYPT'] as const).filter((u) => usages.includes(u));
}

/** Zeroes every key in `contents` (canary included). */
export function zeroContents(contents: KeystoreContents): void {
  contents.canary.zero();
  for (const key of contents.keys.values()) for (const v of key.versions) v.material.zero();
}

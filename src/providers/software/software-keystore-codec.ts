import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { GCM_IV_BYTES, GCM_TAG_BYTES } from '../../xks/gcm-sizes.ts';
import { gcmDecrypt, gcmEncrypt } from './software-aes-gcm.ts';
import { decodeContents, encodeContents, type KeystoreContents } from './software-keystore-contents.ts';
import { KeystoreFileError } from './software-keystore-errors.ts';
import { checkValuesMatch, secretKindOf, type FileKeys, type KekHeader } from './software-keystore-kek.ts';

/**
 * The keystore file is two text lines:
 *   1. a JSON header (format, KDF and its parameters, key check value, IV), and
 *   2. base64(AES-256-GCM ciphertext || tag) of the contents.
 * The GCM AAD is the exact bytes of line 1, so any change to the header (salt, scrypt
 * cost, IV, check value) fails authentication just like a change to the body.
 */
export const KEYSTORE_FORMAT = 'xks-proxy-software-keystore';
/** Current version of the on-disk format. */
export const KEYSTORE_FORMAT_VERSION = 1;

const base64 = z.string().regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'not base64');

const headerSchema = z
  .object({
    format: z.literal(KEYSTORE_FORMAT),
    formatVersion: z.literal(KEYSTORE_FORMAT_VERSION),
    kek: z.discriminatedUnion('type', [
      z.object({ type: z.literal('scrypt'), salt: base64, N: z.number().int(), r: z.number().int(), p: z.number().int() }).strict(),
      z.object({ type: z.literal('raw'), salt: base64 }).strict(),
    ]),
    kcv: base64,
    cipher: z.literal('aes-256-gcm'),
    iv: base64,
  })
  .strict();

/** The parsed, not yet authenticated, header of a keystore file. */
export type KeystoreHeader = z.infer<typeof headerSchema>;

/** A keystore file split into its parts, before decryption. */
export interface ParsedKeystoreFile {
  headerLine: string;
  header: KeystoreHeader;
  sealed: Buffer;
}

/** Splits and checks the file's structure; throws a `corrupt` error naming the file otherwise. */
export function parseKeystoreFile(file: string, data: Buffer): ParsedKeystoreFile {
  const corrupt = (why: string) => new KeystoreFileError('corrupt', file, `keystore file ${file} is corrupt or truncated (${why}); it was left unchanged`);
  if (data.length === 0) throw corrupt('the file is empty');
  const text = data.toString('utf8');
  const lines = text.split('\n');
  if (lines.length !== 3 || lines[2] !== '') throw corrupt('expected a header line and a data line');
  const [headerLine, bodyLine] = lines as [string, string, string];
  let raw: unknown;
  try {
    raw = JSON.parse(headerLine);
  } catch {
    throw corrupt('the header is not valid JSON');
  }
  if (typeof raw === 'object' && raw !== null && (raw as { format?: unknown }).format !== KEYSTORE_FORMAT) {
    throw new KeystoreFileError('corrupt', file, `${file} is not an xks-proxy software keystore file`);
  }
  const header = headerSchema.safeParse(raw);
  if (!header.success) {
    const issue = header.error.issues[0];
    throw corrupt(`header field ${issue?.path.join('.') || '?'}: ${issue?.message ?? 'invalid'}`);
  }
  if (!base64.safeParse(bodyLine).success) throw corrupt('the data line is not base64');
  const sealed = Buffer.from(bodyLine, 'base64');
  if (sealed.length < GCM_TAG_BYTES + 4) throw corrupt('the data line is too short');
  return { headerLine, header: header.data, sealed };
}

/**
 * Checks the secret against the key check value, authenticates and decrypts the file,
 * and decodes the contents. Errors name the file and say which problem it is.
 */
export function openKeystoreFile(file: string, parsed: ParsedKeystoreFile, keys: FileKeys): KeystoreContents {
  const kind = secretKindOf(parsed.header.kek);
  if (!checkValuesMatch(Buffer.from(parsed.header.kcv, 'base64'), keys.checkValue)) {
    throw new KeystoreFileError('wrong-secret', file, `wrong ${kind} for keystore file ${file}`);
  }
  const ciphertext = parsed.sealed.subarray(0, parsed.sealed.length - GCM_TAG_BYTES);
  const tag = parsed.sealed.subarray(parsed.sealed.length - GCM_TAG_BYTES);
  const plain = gcmDecrypt(keys.fileKey.expose(), Buffer.from(parsed.header.iv, 'base64'), ciphertext, tag, Buffer.from(parsed.headerLine, 'utf8'));
  if (plain === null) {
    throw new KeystoreFileError(
      'corrupt',
      file,
      `keystore file ${file} failed authentication: it is corrupt, truncated or was modified; it was left unchanged`,
    );
  }
  try {
    return decodeContents(plain);
  } catch (e) {
    throw new KeystoreFileError('corrupt', file, `keystore file ${file} has invalid contents (${(e as Error).message})`);
  } finally {
    plain.fill(0);
  }
}

/** Encrypts contents into the bytes of a keystore file (fresh random IV on every write). */
export function sealKeystoreFile(contents: KeystoreContents, kek: KekHeader, keys: FileKeys): Buffer {
  const header: KeystoreHeader = {
    format: KEYSTORE_FORMAT,
    formatVersion: KEYSTORE_FORMAT_VERSION,
    kek,
    kcv: keys.checkValue.toString('base64'),
    cipher: 'aes-256-gcm',
    iv: randomBytes(GCM_IV_BYTES).toString('base64'),
  };
  const headerLine = JSON.stringify(header);
  const plain = encodeContents(contents);
  try {
    const { ciphertext, tag } = gcmEncrypt(keys.fileKey.expose(), Buffer.from(header.iv, 'base64'), plain, Buffer.from(headerLine, 'utf8'));
    return Buffer.from(`${headerLine}\n${Buffer.concat([ciphertext, tag]).toString('base64')}\n`, 'utf8');
  } finally {
    plain.fill(0);
  }
}

import { hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { AES_256_KEY_BYTES, KeyMaterial } from './key-material.ts';

/** The resolved secret that opens a keystore: a passphrase, or a raw 32-byte KEK (base64 or hex). */
export type KeystoreSecret = { passphrase: string } | { kek: string };

/** scrypt cost parameters recorded in the keystore header. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * Default cost for new keystores: N=2^16, r=8, p=1 (64 MiB). RFC 7914 suggests N=2^20 for
 * file encryption, which takes seconds and 1 GiB; the proxy derives once at start and the
 * CLI once per command, so the default keeps each derivation to a fraction of a second
 * (timings: docs/software-keystore.md, "Key-encryption key").
 */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 2 ** 16, r: 8, p: 1 };

/** How the keystore's KEK is obtained; stored (and authenticated) in the file header. */
export type KekHeader = { type: 'scrypt'; salt: string; N: number; r: number; p: number } | { type: 'raw'; salt: string };

/** Keys derived from the KEK: one encrypts the file, one proves the secret is right. */
export interface FileKeys {
  fileKey: KeyMaterial;
  /** Key check value: lets us tell "wrong passphrase" from "corrupt file". Not secret. */
  checkValue: Buffer;
}

const SALT_BYTES = 16;
const CHECK_VALUE_BYTES = 16;
// Bounds for header values read from disk: the header is only authenticated after the
// derivation, so a tampered header must not be able to make us burn seconds or gigabytes
// (N=2^20 is 1 GiB per attempt; timings in docs/software-keystore.md). The default ceiling
// is two steps above the default cost: 2^17 is 128 MiB. A deployment that made its
// keystore with a higher cost raises it with the provider's `maxScryptN`.
/** Highest scrypt N accepted from a file header unless the config raises it. */
export const DEFAULT_MAX_SCRYPT_N = 2 ** 17;
/** Highest `maxScryptN` a config may set (RFC 7914's file-encryption cost). */
export const CEILING_SCRYPT_N = 2 ** 20;
const MIN_SCRYPT_N = 2 ** 10;
const MAX_SCRYPT_R = 32;
const MAX_SCRYPT_P = 16;

/** Which secret kind a header needs, for error messages. */
export function secretKindOf(header: KekHeader): 'passphrase' | 'kek' {
  return header.type === 'scrypt' ? 'passphrase' : 'kek';
}

/** Which secret kind the caller supplied. */
export function suppliedSecretKind(secret: KeystoreSecret): 'passphrase' | 'kek' {
  return 'passphrase' in secret ? 'passphrase' : 'kek';
}

/** A fresh header for a new keystore opened by `secret`. */
export function newKekHeader(secret: KeystoreSecret, params: ScryptParams = DEFAULT_SCRYPT_PARAMS, maxScryptN: number = DEFAULT_MAX_SCRYPT_N): KekHeader {
  const salt = randomBytes(SALT_BYTES).toString('base64');
  if ('passphrase' in secret) {
    checkScryptParams(params, maxScryptN);
    return { type: 'scrypt', salt, N: params.N, r: params.r, p: params.p };
  }
  return { type: 'raw', salt };
}

/** True for a power of two (scrypt's N must be one). */
export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 2 && (n & (n - 1)) === 0;
}

/**
 * Throws unless the scrypt parameters are sane and affordable: N at most `maxN`, and
 * memory (128 * N * r * p bytes) at most what maxN costs at the default r = 8. Checked
 * before any derivation, so a header asking for more costs nothing.
 */
export function checkScryptParams(params: ScryptParams, maxN: number = DEFAULT_MAX_SCRYPT_N): void {
  const { N, r, p } = params;
  const log2 = (n: number) => Math.round(Math.log2(n));
  if (!isPowerOfTwo(N) || N < MIN_SCRYPT_N) throw new Error(`scrypt N must be a power of two of at least 2^10 (got ${N})`);
  if (N > maxN) {
    throw new Error(
      `scrypt N = 2^${log2(N)} is above the accepted maximum 2^${log2(maxN)} (raise the provider's maxScryptN if this keystore really was made with that cost)`,
    );
  }
  if (!Number.isInteger(r) || r < 1 || r > MAX_SCRYPT_R) throw new Error(`scrypt r must be 1..${MAX_SCRYPT_R} (got ${r})`);
  if (!Number.isInteger(p) || p < 1 || p > MAX_SCRYPT_P) throw new Error(`scrypt p must be 1..${MAX_SCRYPT_P} (got ${p})`);
  const budget = 128 * maxN * DEFAULT_SCRYPT_PARAMS.r;
  if (128 * N * r * p > budget) throw new Error(`scrypt parameters need more than ${budget / 2 ** 20} MiB of memory, the accepted maximum`);
}

/**
 * Decodes a raw KEK given as 64 hex digits or base64 of exactly 32 bytes. The message
 * describes the shape only, never the value.
 */
export function parseRawKek(text: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) && trimmed.length % 4 === 0) {
    const bytes = Buffer.from(trimmed, 'base64');
    if (bytes.length === AES_256_KEY_BYTES) return bytes;
    bytes.fill(0);
  }
  throw new Error(`kek must be ${AES_256_KEY_BYTES} bytes encoded as 64 hex digits or base64 (the value given is not)`);
}

/** A new random raw KEK, base64 encoded (for a demo setup or a new deployment). */
export function generateRawKek(): string {
  return randomBytes(AES_256_KEY_BYTES).toString('base64');
}

/** Runs the KDF the header names over `secret` and splits the result into the file keys. */
export async function deriveFileKeys(secret: KeystoreSecret, header: KekHeader, maxScryptN: number = DEFAULT_MAX_SCRYPT_N): Promise<FileKeys> {
  const salt = Buffer.from(header.salt, 'base64');
  let master: Buffer;
  if (header.type === 'scrypt') {
    if (!('passphrase' in secret)) throw new Error('this keystore is opened with a passphrase, not a kek');
    const params = { N: header.N, r: header.r, p: header.p };
    checkScryptParams(params, maxScryptN);
    if (secret.passphrase.length === 0) throw new Error('the passphrase is empty');
    // NFC so the same passphrase typed on different systems derives the same key.
    const passphrase = Buffer.from(secret.passphrase.normalize('NFC'), 'utf8');
    try {
      master = await scryptAsync(passphrase, salt, params);
    } finally {
      passphrase.fill(0);
    }
  } else {
    if (!('kek' in secret)) throw new Error('this keystore is opened with a kek, not a passphrase');
    master = parseRawKek(secret.kek);
  }
  try {
    // HKDF separates the two uses, so the check value reveals nothing about the file key.
    const fileKey = Buffer.from(hkdfSync('sha256', master, salt, 'xks-proxy keystore file key v1', AES_256_KEY_BYTES));
    const checkValue = Buffer.from(hkdfSync('sha256', master, salt, 'xks-proxy keystore key check v1', CHECK_VALUE_BYTES));
    const material = new KeyMaterial(fileKey);
    fileKey.fill(0);
    return { fileKey: material, checkValue };
  } finally {
    master.fill(0);
  }
}

/** Constant-time comparison of a stored and a derived key check value. */
export function checkValuesMatch(stored: Buffer, derived: Buffer): boolean {
  return stored.length === derived.length && timingSafeEqual(stored, derived);
}

function scryptAsync(passphrase: Buffer, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Async scrypt runs on the libuv pool, so a running proxy keeps serving meanwhile.
    scrypt(passphrase, salt, AES_256_KEY_BYTES, { ...params, maxmem: 256 * params.N * params.r * params.p + 16 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

import { createHash, createHmac } from 'node:crypto';

/** `prev` of the first line of a new audit log: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The chain value of one audit line as written, without its line feed: SHA-256 (hex), or
 * with `audit.hmacKey` set, HMAC-SHA256 under that key. A plain hash chain shows edits by
 * anyone who cannot rewrite the whole file; someone who can rewrite it can recompute every
 * hash. A keyed chain cannot be recomputed without the key, which the file never holds.
 */
export function hashAuditLine(line: string, key?: Buffer): string {
  return (key === undefined ? createHash('sha256') : createHmac('sha256', key)).update(line, 'utf8').digest('hex');
}

/**
 * Serializes one chained audit line: `seq` first, `prev` (the SHA-256 of the previous
 * line's exact text) last. Changing, inserting or deleting any earlier line changes a
 * hash that a later line has recorded, which `audit verify` finds.
 */
export function chainAuditLine(seq: number, record: object, prev: string): string {
  return JSON.stringify({ seq, ...record, prev });
}

/** Shortest audit.hmacKey accepted: 32 characters, 256 bits or more of key material. */
const MIN_KEY_LENGTH = 32;

/** The HMAC key of a keyed chain, from its resolved secret; too short a secret is refused. */
export function auditKey(secret: string): Buffer {
  if (secret.length < MIN_KEY_LENGTH) throw new Error(`audit.hmacKey: the key must be at least ${MIN_KEY_LENGTH} characters`);
  return Buffer.from(secret, 'utf8');
}

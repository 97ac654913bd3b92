import { createHash } from 'node:crypto';

/** `prev` of the first line of a new audit log: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** SHA-256 (hex) of one audit line as written, without its line feed. */
export function hashAuditLine(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('hex');
}

/**
 * Serializes one chained audit line: `seq` first, `prev` (the SHA-256 of the previous
 * line's exact text) last. Changing, inserting or deleting any earlier line changes a
 * hash that a later line has recorded, which `audit verify` finds.
 */
export function chainAuditLine(seq: number, record: object, prev: string): string {
  return JSON.stringify({ seq, ...record, prev });
}

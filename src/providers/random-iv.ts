import { randomFillSync } from 'node:crypto';
import { GCM_IV_BYTES } from '../xks/gcm-sizes.ts';

/** Bytes fetched from the OS RNG at a time: 341 IVs of 12 bytes. */
const POOL_BYTES = 4096;

const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * A fresh random IV from the OS CSPRNG (what the spec asks for: a random 96-bit IV per
 * encryption). The random bytes are fetched in 4 KiB blocks and each byte is handed out
 * once, as node:crypto's randomUUID does: a copy from the block costs a small fraction of
 * one randomBytes(12) call per Encrypt (docs/performance.md). Cluster workers are separate
 * processes (spawned, not forked with this memory), so no two share a block.
 */
export function randomIv(bytes = GCM_IV_BYTES): Buffer {
  if (bytes > POOL_BYTES) throw new RangeError(`an IV of ${bytes} bytes is larger than the random pool`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const iv = Buffer.from(pool.subarray(offset, offset + bytes)); // a copy: the caller owns it
  offset += bytes;
  return iv;
}

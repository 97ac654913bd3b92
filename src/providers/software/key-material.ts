import { inspect } from 'node:util';

/** Length of every AES-256 key and of the keystore's key-encryption key, in bytes. */
export const AES_256_KEY_BYTES = 32;

const REDACTED = '[KeyMaterial redacted]';

/**
 * Secret key bytes held in a Buffer that can be zeroed. Every way a value usually gets
 * printed (toString, toJSON, util.inspect, template strings) shows a placeholder, so a
 * stray log call or JSON.stringify cannot leak the bytes.
 */
export class KeyMaterial {
  #bytes: Buffer;
  #zeroed = false;

  /** Copies `source` into a fresh, unpooled Buffer (the caller may zero its own copy). */
  constructor(source: Uint8Array) {
    // Buffer.alloc never hands out a slice of the shared pool, so zero() wipes only ours.
    this.#bytes = Buffer.alloc(source.length);
    this.#bytes.set(source);
  }

  /** Number of key bytes. */
  get length(): number {
    return this.#bytes.length;
  }

  /** The raw bytes, for handing to a cipher; never store, print or copy them elsewhere. */
  expose(): Buffer {
    if (this.#zeroed) throw new Error('key material was already zeroed');
    return this.#bytes;
  }

  /** Overwrites the bytes with zeros; the object is unusable afterwards. */
  zero(): void {
    this.#bytes.fill(0);
    this.#zeroed = true;
  }

  /** True once zero() ran. */
  get zeroed(): boolean {
    return this.#zeroed;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}

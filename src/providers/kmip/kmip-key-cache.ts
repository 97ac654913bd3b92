/**
 * What the provider remembers about keys, per server: the Unique Identifier a Name
 * resolved to (until a failure says otherwise; ids of the same key differ between servers
 * that do not share storage) and the key's attributes for a short time.
 */
import type { KmipKeyAttributes } from './kmip-operations.ts';

interface CachedAttributes {
  attributes: KmipKeyAttributes;
  expires: number;
}

/** Per-server caches of name -> unique id and unique id -> attributes. */
export class KmipKeyCache {
  readonly #ids = new Map<string, string>();
  readonly #attributes = new Map<string, CachedAttributes>();
  readonly #attributeTtlMs: number;

  constructor(attributeTtlMs: number) {
    this.#attributeTtlMs = attributeTtlMs;
  }

  /** The cached unique id of `name` on `serverId`. */
  uid(serverId: string, name: string): string | undefined {
    return this.#ids.get(`${serverId}\n${name}`);
  }

  /** Remembers the unique id of `name` on `serverId`. */
  rememberUid(serverId: string, name: string, uid: string): void {
    this.#ids.set(`${serverId}\n${name}`, uid);
  }

  /** Fresh cached attributes of an object, if any. */
  attributesOf(serverId: string, uid: string): KmipKeyAttributes | undefined {
    const key = `${serverId}\n${uid}`;
    const hit = this.#attributes.get(key);
    if (hit === undefined) return undefined;
    if (Date.now() >= hit.expires) {
      this.#attributes.delete(key);
      return undefined;
    }
    return hit.attributes;
  }

  /** Remembers an object's attributes for the configured time (not at all when it is 0). */
  rememberAttributes(serverId: string, uid: string, attributes: KmipKeyAttributes): void {
    if (this.#attributeTtlMs > 0) this.#attributes.set(`${serverId}\n${uid}`, { attributes, expires: Date.now() + this.#attributeTtlMs });
  }

  /** Forgets everything about `name` on `serverId` (after the server said the id is wrong or the key changed). */
  forget(serverId: string, name: string): void {
    const uid = this.uid(serverId, name);
    this.#ids.delete(`${serverId}\n${name}`);
    if (uid !== undefined) this.#attributes.delete(`${serverId}\n${uid}`);
  }

  /** Forgets everything. */
  clear(): void {
    this.#ids.clear();
    this.#attributes.clear();
  }
}

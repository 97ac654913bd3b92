/**
 * The SigV4 credentials one key store accepts. The spec (Authentication, rotation) wants
 * at least two accepted at once and changes applied without a restart: `replace` swaps the
 * whole set in one assignment, so a request sees either the old set or the new one.
 */
import { inspect } from 'node:util';
import { deriveSigningKey } from './sigv4-signature.ts';

/** One credential as configured; the secret as text (base64-ish per spec) or bytes. */
export interface CredentialInput {
  accessKeyId: string;
  secret: string | Uint8Array;
}

// Signing keys change once a day per region/service; a few per credential cover a day
// boundary plus a second region or service without letting the cache grow.
const SIGNING_KEYS_PER_CREDENTIAL = 4;

/** One accepted credential. The secret stays private; only derived signing keys come out. */
export class Credential {
  readonly accessKeyId: string;
  readonly #secret: Buffer;
  readonly #signingKeys = new Map<string, Buffer>();

  constructor(accessKeyId: string, secret: string | Uint8Array) {
    this.accessKeyId = accessKeyId;
    this.#secret = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  }

  /**
   * The SigV4 signing key for a scope, cached: deriving it costs four HMACs, and the
   * verifier runs on every request (1,800+ req/s per the load target).
   */
  signingKey(date: string, region: string, service: string): Buffer {
    const scope = `${date}/${region}/${service}`;
    const cached = this.#signingKeys.get(scope);
    if (cached) return cached;
    const key = deriveSigningKey(this.#secret, date, region, service);
    if (this.#signingKeys.size >= SIGNING_KEYS_PER_CREDENTIAL) {
      const oldest = this.#signingKeys.keys().next().value as string;
      this.#signingKeys.delete(oldest);
    }
    this.#signingKeys.set(scope, key);
    return key;
  }

  /** True when this credential has the same id and secret (lets `replace` keep caches). */
  sameAs(other: CredentialInput): boolean {
    if (other.accessKeyId !== this.accessKeyId) return false;
    const secret = typeof other.secret === 'string' ? Buffer.from(other.secret, 'utf8') : other.secret;
    return secret.length === this.#secret.length && this.#secret.equals(secret);
  }

  /** Redacted form for JSON logs. */
  toJSON(): { accessKeyId: string; secret: '[redacted]' } {
    return { accessKeyId: this.accessKeyId, secret: '[redacted]' };
  }

  /** Redacted form for string interpolation. */
  toString(): string {
    return `Credential(${this.accessKeyId}, secret [redacted])`;
  }

  /** Redacted form for console.log / util.inspect. */
  [inspect.custom](): string {
    return this.toString();
  }
}

function buildMap(entries: readonly CredentialInput[], previous?: ReadonlyMap<string, Credential>): Map<string, Credential> {
  const map = new Map<string, Credential>();
  for (const entry of entries) {
    if (entry.accessKeyId === '') throw new Error('credential access key id is empty');
    if (entry.secret.length === 0) throw new Error(`credential ${entry.accessKeyId}: secret is empty`);
    if (map.has(entry.accessKeyId)) throw new Error(`credential ${entry.accessKeyId} is listed twice`);
    const old = previous?.get(entry.accessKeyId);
    map.set(entry.accessKeyId, old && old.sameAs(entry) ? old : new Credential(entry.accessKeyId, entry.secret));
  }
  return map;
}

/** All credentials accepted for one key store, looked up by access key id. */
export class CredentialSet {
  #byId: Map<string, Credential>;

  /** Builds the set; throws (naming the access key id, never the secret) on duplicates or empties. */
  constructor(entries: readonly CredentialInput[]) {
    this.#byId = buildMap(entries);
  }

  /** The credential for an access key id, or undefined when it is not accepted. */
  lookup(accessKeyId: string): Credential | undefined {
    return this.#byId.get(accessKeyId);
  }

  /**
   * Atomically replaces every credential (hot reload). Validation happens before the swap,
   * so a bad new list leaves the old one in force. Unchanged credentials keep their caches.
   */
  replace(entries: readonly CredentialInput[]): void {
    this.#byId = buildMap(entries, this.#byId);
  }

  /**
   * What `replace(entries)` would change, by access key id (for the reload log line):
   * ids added, ids removed, and ids whose secret differs. Never exposes a secret.
   */
  diff(entries: readonly CredentialInput[]): { added: string[]; removed: string[]; secretReplaced: string[] } {
    const next = new Set(entries.map((e) => e.accessKeyId));
    const added: string[] = [];
    const secretReplaced: string[] = [];
    for (const entry of entries) {
      const old = this.#byId.get(entry.accessKeyId);
      if (old === undefined) added.push(entry.accessKeyId);
      else if (!old.sameAs(entry)) secretReplaced.push(entry.accessKeyId);
    }
    const removed = [...this.#byId.keys()].filter((id) => !next.has(id));
    return { added, removed, secretReplaced };
  }

  /** Number of accepted credentials. */
  get size(): number {
    return this.#byId.size;
  }

  /** Accepted access key ids (not secret), e.g. for a startup log line. */
  accessKeyIds(): string[] {
    return [...this.#byId.keys()];
  }

  /** Redacted form for JSON logs. */
  toJSON(): { accessKeyIds: string[] } {
    return { accessKeyIds: this.accessKeyIds() };
  }

  /** Redacted form for string interpolation. */
  toString(): string {
    return `CredentialSet(${this.accessKeyIds().join(', ')})`;
  }

  /** Redacted form for console.log / util.inspect. */
  [inspect.custom](): string {
    return this.toString();
  }
}

import { KeystoreFileError } from './software-keystore-errors.ts';
import { deriveFileKeys, secretKindOf, suppliedSecretKind, type FileKeys, type KekHeader, type KeystoreSecret } from './software-keystore-kek.ts';

/** A store as errors name it: `where` for the error's field, `name` inside its sentence. */
export interface StoreName {
  where: string;
  name: string;
}

/**
 * The keys one secret derives for the KEK header a store carries (the file's header, the
 * database row's), kept while the header stays the same: scrypt is slow on purpose, so it
 * runs once per header, not per read. A new header zeroes the keys of the old one. Shared
 * by the file and the PostgreSQL stores.
 */
export class DerivedKeyCache {
  readonly #secret: KeystoreSecret;
  readonly #maxScryptN: number | undefined;
  #cached: { kekId: string; keys: FileKeys } | undefined;

  constructor(secret: KeystoreSecret, maxScryptN?: number) {
    this.#secret = secret;
    this.#maxScryptN = maxScryptN;
  }

  /** The keys of the header last derived, if any. */
  get current(): FileKeys | undefined {
    return this.#cached?.keys;
  }

  /** The keys for `kek`; refuses a secret of the wrong kind (a passphrase for a KEK store, or the reverse). */
  async keysFor(kek: KekHeader, store: StoreName): Promise<FileKeys> {
    const kekId = JSON.stringify(kek);
    if (this.#cached?.kekId === kekId) return this.#cached.keys;
    const needed = secretKindOf(kek);
    const supplied = suppliedSecretKind(this.#secret);
    if (needed !== supplied) {
      throw new KeystoreFileError(
        'wrong-secret',
        store.where,
        `${store.name} is protected by a ${needed === 'kek' ? 'raw KEK' : 'passphrase'}, but a ${supplied === 'kek' ? 'KEK' : 'passphrase'} was given`,
      );
    }
    let keys: FileKeys;
    try {
      keys = await deriveFileKeys(this.#secret, kek, this.#maxScryptN);
    } catch (e) {
      throw new KeystoreFileError('invalid', store.where, `cannot open ${store.name}: ${(e as Error).message}`);
    }
    this.clear();
    this.#cached = { kekId, keys };
    return keys;
  }

  /** Zeroes the derived keys. */
  clear(): void {
    this.#cached?.keys.fileKey.zero();
    this.#cached = undefined;
  }
}

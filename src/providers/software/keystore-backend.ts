import { KeyMaterial } from './key-material.ts';
import type { PgKeystore } from './pg/pg-keystore.ts';
import type { PgConnection } from './pg/pg-connection.ts';
import { zeroContents, type KeystoreContents, type SoftwareKey } from './software-keystore-contents.ts';
import { SoftwareKeystoreFile } from './software-keystore-file.ts';
import type { KeystoreSecret, ScryptParams } from './software-keystore-kek.ts';
import { addKey, changeKeystore, initKeystore, readKeySummaries, rotateKey, setKeyEnabled, type KeySummary, type NewKeyOptions } from './software-keystore.ts';

/** Where a software keystore lives: a file, or a PostgreSQL schema. */
export type KeystoreLocation =
  { kind: 'file'; path: string; secret: KeystoreSecret } | { kind: 'postgres'; connection: PgConnection; schema: string; secret: KeystoreSecret };

/**
 * What the `keys` CLI does to a keystore, the same on either store, so every command
 * behaves alike whether the keys are in a file or in the fleet's database.
 */
export interface KeystoreBackend {
  /** The file path or database location, for messages. */
  readonly where: string;
  /** Creates the keystore (file: refuses to overwrite; database: idempotent, migrates). Returns what it did. */
  init(params?: ScryptParams): Promise<string>;
  createKey(keyId: string, options: NewKeyOptions): Promise<KeySummary>;
  rotateKey(keyId: string): Promise<KeySummary>;
  setKeyEnabled(keyId: string, enabled: boolean): Promise<KeySummary>;
  listKeys(): Promise<KeySummary[]>;
  /** Every key with its material; the caller zeroes it (zeroContents) when done. */
  readContents(): Promise<KeystoreContents>;
  /** Adds keys that are not there yet (all versions, same material); existing ids are skipped. */
  importKeys(keys: readonly SoftwareKey[]): Promise<{ imported: string[]; skipped: string[] }>;
  close(): Promise<void>;
}

/**
 * Opens the backend for a location. The PostgreSQL client is loaded only when a database
 * is named, so `keys` commands on a file start as fast as before.
 */
export async function openKeystoreBackend(location: KeystoreLocation): Promise<KeystoreBackend> {
  if (location.kind === 'file') return new FileBackend(location.path, location.secret);
  const { PgKeystore } = await import('./pg/pg-keystore.ts');
  return new PgBackend(new PgKeystore(location.connection, location.schema, location.secret, 2));
}

/** A copy of a key with its own material buffers (the source may be zeroed independently). */
export function copyKey(key: SoftwareKey): SoftwareKey {
  return {
    ...key,
    usages: [...key.usages],
    versions: key.versions.map((v) => ({ version: v.version, createdAt: v.createdAt, material: new KeyMaterial(v.material.expose()) })),
  };
}

class FileBackend implements KeystoreBackend {
  readonly #secret: KeystoreSecret;

  constructor(
    readonly where: string,
    secret: KeystoreSecret,
  ) {
    this.#secret = secret;
  }

  async init(params?: ScryptParams): Promise<string> {
    await initKeystore(this.where, this.#secret, params);
    return `created empty keystore ${this.where}`;
  }

  createKey(keyId: string, options: NewKeyOptions): Promise<KeySummary> {
    return changeKeystore(this.where, this.#secret, (file, contents) => addKey(file, contents, keyId, options));
  }

  rotateKey(keyId: string): Promise<KeySummary> {
    return changeKeystore(this.where, this.#secret, (file, contents) => rotateKey(file, contents, keyId));
  }

  setKeyEnabled(keyId: string, enabled: boolean): Promise<KeySummary> {
    return changeKeystore(this.where, this.#secret, (file, contents) => setKeyEnabled(file, contents, keyId, enabled));
  }

  listKeys(): Promise<KeySummary[]> {
    return readKeySummaries(this.where, this.#secret);
  }

  async readContents(): Promise<KeystoreContents> {
    const file = new SoftwareKeystoreFile(this.where, this.#secret);
    try {
      return (await file.read()).contents;
    } finally {
      file.close();
    }
  }

  importKeys(keys: readonly SoftwareKey[]): Promise<{ imported: string[]; skipped: string[] }> {
    return changeKeystore(this.where, this.#secret, (_file, contents) => {
      const imported: string[] = [];
      const skipped: string[] = [];
      for (const key of keys) {
        if (contents.keys.has(key.keyId)) skipped.push(key.keyId);
        else {
          contents.keys.set(key.keyId, copyKey(key));
          imported.push(key.keyId);
        }
      }
      return { imported, skipped };
    });
  }

  async close(): Promise<void> {}
}

class PgBackend implements KeystoreBackend {
  readonly where: string;
  readonly #store: PgKeystore;

  constructor(store: PgKeystore) {
    this.#store = store;
    this.where = store.where;
  }

  async init(params?: ScryptParams): Promise<string> {
    const r = await this.#store.init(params);
    const migrations = r.migrationsApplied.length > 0 ? `applied schema migrations ${r.migrationsApplied.join(', ')}` : 'schema already up to date';
    return `${migrations}; ${r.createdKeystore ? 'created the keystore' : 'the keystore exists and opens with this secret'} in ${this.where}`;
  }

  createKey(keyId: string, options: NewKeyOptions): Promise<KeySummary> {
    return this.#store.createKey(keyId, options);
  }

  rotateKey(keyId: string): Promise<KeySummary> {
    return this.#store.rotateKey(keyId);
  }

  setKeyEnabled(keyId: string, enabled: boolean): Promise<KeySummary> {
    return this.#store.setKeyEnabled(keyId, enabled);
  }

  listKeys(): Promise<KeySummary[]> {
    return this.#store.listKeys();
  }

  readContents(): Promise<KeystoreContents> {
    return this.#store.loadAll();
  }

  importKeys(keys: readonly SoftwareKey[]): Promise<{ imported: string[]; skipped: string[] }> {
    return this.#store.importKeys(keys);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}

/**
 * Writes every key of `contents` into a new keystore file sealed under `secret` (an
 * encrypted backup, or the way from the database back to a file). Refuses to overwrite.
 */
export async function exportToFile(contents: KeystoreContents, path: string, secret: KeystoreSecret): Promise<number> {
  const file = new SoftwareKeystoreFile(path, secret);
  try {
    await file.create((target) => {
      for (const key of contents.keys.values()) target.keys.set(key.keyId, copyKey(key));
    });
    return contents.keys.size;
  } finally {
    file.close();
  }
}

/** Reads a keystore file's keys for an import; the caller zeroes the result. */
export async function readKeystoreFile(path: string, secret: KeystoreSecret): Promise<KeystoreContents> {
  const file = new SoftwareKeystoreFile(path, secret);
  try {
    return (await file.read()).contents;
  } finally {
    file.close();
  }
}

export { zeroContents };

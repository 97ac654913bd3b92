import { inspect } from 'node:util';
import pg from 'pg';
import type { KeyUsage } from '../../../xks/key-provider-port.ts';
import type { KeyMaterial } from '../key-material.ts';
import { KEY_ID_PATTERN, normalizeUsages, zeroContents, type KeystoreContents, type SoftwareKey } from '../software-keystore-contents.ts';
import { DerivedKeyCache } from '../derived-key-cache.ts';
import { KeystoreFileError } from '../software-keystore-errors.ts';
import { generateKeyMaterial } from '../software-keystore-file.ts';
import {
  checkScryptParams,
  checkValuesMatch,
  newKekHeader,
  secretKindOf,
  type FileKeys,
  type KekHeader,
  type KeystoreSecret,
  type ScryptParams,
} from '../software-keystore-kek.ts';
import type { KeySummary, NewKeyOptions } from '../software-keystore.ts';
import type { PgConnection } from './pg-connection.ts';
import { openCanary, openKeyVersion, sealCanary, sealKeyVersion } from './pg-key-envelope.ts';
import { migrate, SCHEMA_VERSION, schemaVersion } from './pg-migrations.ts';

/** What `keys init` did. */
export interface PgInitResult {
  migrationsApplied: number[];
  createdKeystore: boolean;
}

interface KeyRow {
  key_id: string;
  usages: string[];
  enabled: boolean;
  created_at: Date;
}

interface VersionRow {
  key_id: string;
  version: number;
  iv: Buffer;
  sealed: Buffer;
  created_at: Date;
}

// The most rotations of one key that may race before a rotation gives up (each retry
// means another admin's rotation committed in between).
const MAX_ROTATE_ATTEMPTS = 5;

/**
 * The software keystore in PostgreSQL: the same envelope as the keystore file (the KEK
 * stays in this process; rows hold sealed key material only), versions, usages and
 * enable/disable. Every change is one transaction; the primary key (key_id, version) and
 * a row lock on the key make concurrent rotations produce consecutive versions.
 */
export class PgKeystore {
  readonly where: string;
  readonly schema: string;
  readonly #s: string;
  readonly #pool: pg.Pool;
  readonly #secret: KeystoreSecret;
  readonly #derived: DerivedKeyCache;

  constructor(connection: PgConnection, schema: string, secret: KeystoreSecret, poolSize = 4) {
    this.where = connection.where;
    this.schema = schema;
    this.#s = pg.escapeIdentifier(schema);
    this.#secret = secret;
    this.#derived = new DerivedKeyCache(secret);
    this.#pool = new pg.Pool({ ...connection.client, max: poolSize, idleTimeoutMillis: 30_000 });
    // An idle connection dropped by the server (restart, failover) must not crash the process.
    this.#pool.on('error', () => undefined);
  }

  /** The pool, for the heartbeat (same connections, same schema). */
  get pool(): pg.Pool {
    return this.#pool;
  }

  /**
   * Creates or migrates the schema and creates the keystore row (KDF header, check value,
   * canary) when there is none. Idempotent: on an existing keystore it only checks that
   * the secret opens it.
   */
  async init(params?: ScryptParams): Promise<PgInitResult> {
    const client = await this.#connect();
    try {
      const migrationsApplied = await migrate(client, this.schema).catch((e: unknown) => {
        throw this.#dbError(e, 'cannot create or migrate the keystore schema');
      });
      await client.query('BEGIN');
      try {
        await client.query(`LOCK TABLE ${this.#s}.keystore IN EXCLUSIVE MODE`);
        const existing = await client.query(`SELECT 1 FROM ${this.#s}.keystore`);
        if (existing.rowCount === 0) {
          let kek: KekHeader;
          try {
            if (params) checkScryptParams(params);
            kek = newKekHeader(this.#secret, params);
          } catch (e) {
            throw new KeystoreFileError('invalid', this.where, `cannot create the keystore in ${this.where}: ${(e as Error).message}`);
          }
          const keys = await this.#fileKeys(kek);
          const canary = generateKeyMaterial();
          try {
            const sealed = sealCanary(keys.fileKey, canary);
            await client.query(`INSERT INTO ${this.#s}.keystore (kek, kcv, canary_iv, canary_sealed) VALUES ($1, $2, $3, $4)`, [
              JSON.stringify(kek),
              keys.checkValue,
              sealed.iv,
              sealed.sealed,
            ]);
          } finally {
            canary.zero();
          }
          await client.query('COMMIT');
          return { migrationsApplied, createdKeystore: true };
        }
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        // The keys derived for a row that was not written (another process may have written
        // its own meanwhile) must not serve: the next use opens the row that is there.
        this.#derived.clear();
        throw e instanceof KeystoreFileError ? e : this.#dbError(e, 'cannot create the keystore row');
      }
      await this.#openKeystoreRow(client);
      return { migrationsApplied, createdKeystore: false };
    } finally {
      client.release();
    }
  }

  /** Checks the schema version and the secret (key check value); derives the store key once. */
  async open(): Promise<void> {
    const client = await this.#connect();
    try {
      await this.#openKeystoreRow(client);
    } finally {
      client.release();
    }
  }

  /** Reads and decrypts every key (and the canary). The caller zeroes the result when done. */
  async loadAll(): Promise<KeystoreContents> {
    const client = await this.#connect();
    try {
      const { canary, createdAt, storeKey } = await this.#openKeystoreRow(client);
      // One snapshot of both tables (REPEATABLE READ), so a rotation committing in between
      // cannot give us a key without its newest version.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let keyRows: KeyRow[];
      let versionRows: VersionRow[];
      try {
        keyRows = (await client.query<KeyRow>(`SELECT key_id, usages, enabled, created_at FROM ${this.#s}.keys`)).rows;
        versionRows = (await client.query<VersionRow>(`SELECT key_id, version, iv, sealed, created_at FROM ${this.#s}.key_versions ORDER BY key_id, version`))
          .rows;
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        canary.zero();
        throw this.#dbError(e, 'cannot read the keys');
      }
      const contents: KeystoreContents = { createdAt, canary, keys: new Map() };
      try {
        for (const key of this.#assemble(storeKey, keyRows, versionRows)) contents.keys.set(key.keyId, key);
      } catch (e) {
        zeroContents(contents);
        throw e;
      }
      return contents;
    } finally {
      client.release();
    }
  }

  /** Reads and decrypts one key; undefined when it does not exist. */
  async loadKey(keyId: string): Promise<SoftwareKey | undefined> {
    if (!KEY_ID_PATTERN.test(keyId)) return undefined;
    const storeKey = await this.#ensureStoreKey();
    let keyRows: KeyRow[];
    let versionRows: VersionRow[];
    const client = await this.#connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      keyRows = (await client.query<KeyRow>(`SELECT key_id, usages, enabled, created_at FROM ${this.#s}.keys WHERE key_id = $1`, [keyId])).rows;
      versionRows = (
        await client.query<VersionRow>(`SELECT key_id, version, iv, sealed, created_at FROM ${this.#s}.key_versions WHERE key_id = $1 ORDER BY version`, [
          keyId,
        ])
      ).rows;
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.#dbError(e, `cannot read key ${keyId}`);
    } finally {
      client.release();
    }
    return this.#assemble(storeKey, keyRows, versionRows)[0];
  }

  /** Key summaries (no key material is read). */
  async listKeys(): Promise<KeySummary[]> {
    await this.#ensureStoreKey();
    const keys = await this.#query<KeyRow>(`SELECT key_id, usages, enabled, created_at FROM ${this.#s}.keys ORDER BY key_id COLLATE "C"`);
    const versions = await this.#query<{ key_id: string; version: number; created_at: Date }>(
      `SELECT key_id, version, created_at FROM ${this.#s}.key_versions ORDER BY key_id, version`,
    );
    const byKey = new Map<string, { version: number; createdAt: string }[]>();
    for (const v of versions) {
      const list = byKey.get(v.key_id) ?? [];
      list.push({ version: v.version, createdAt: v.created_at.toISOString() });
      byKey.set(v.key_id, list);
    }
    return keys.map((k) => {
      const vs = byKey.get(k.key_id) ?? [];
      return {
        keyId: k.key_id,
        usages: normalizeUsages(k.usages as KeyUsage[]),
        enabled: k.enabled,
        currentVersion: vs.length,
        createdAt: k.created_at.toISOString(),
        versions: vs,
      };
    });
  }

  /** Creates a key with version 1; refuses an existing key id. */
  async createKey(keyId: string, options: NewKeyOptions): Promise<KeySummary> {
    if (!KEY_ID_PATTERN.test(keyId)) {
      throw new KeystoreFileError(
        'invalid-key-id',
        this.where,
        `invalid key id "${keyId.slice(0, 140)}": use 1-128 characters of A-Za-z0-9._- (spec externalKeyId)`,
      );
    }
    const storeKey = await this.#ensureStoreKey();
    return this.#transaction(`create key ${keyId}`, async (client) => {
      const inserted = await client.query(`INSERT INTO ${this.#s}.keys (key_id, usages, enabled) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING`, [
        keyId,
        normalizeUsages(options.usages),
        options.enabled,
      ]);
      if (inserted.rowCount === 0) throw new KeystoreFileError('key-exists', this.where, `key ${keyId} already exists in ${this.where}`);
      await this.#insertVersion(client, storeKey, keyId, 1);
      return this.#summary(client, keyId);
    });
  }

  /**
   * Adds the next version of a key. The key's row is locked for the transaction, so a
   * second rotation waits and then adds the version after ours; the primary key catches
   * anything that gets past the lock (retried, never a lost or shared version).
   */
  async rotateKey(keyId: string): Promise<KeySummary> {
    const storeKey = await this.#ensureStoreKey();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#transaction(`rotate key ${keyId}`, async (client) => {
          await this.#lockKey(client, keyId);
          const next = await client.query<{ v: number }>(`SELECT coalesce(max(version), 0) + 1 AS v FROM ${this.#s}.key_versions WHERE key_id = $1`, [keyId]);
          await this.#insertVersion(client, storeKey, keyId, next.rows[0]!.v);
          await client.query(`UPDATE ${this.#s}.keys SET updated_at = now() WHERE key_id = $1`, [keyId]);
          return this.#summary(client, keyId);
        });
      } catch (e) {
        const unique = (e as { cause?: { code?: string } }).cause?.code === '23505';
        if (!unique || attempt >= MAX_ROTATE_ATTEMPTS) throw e;
      }
    }
  }

  /** Enables or disables a key. */
  async setKeyEnabled(keyId: string, enabled: boolean): Promise<KeySummary> {
    await this.#ensureStoreKey();
    return this.#transaction(`${enabled ? 'enable' : 'disable'} key ${keyId}`, async (client) => {
      await this.#lockKey(client, keyId);
      await client.query(`UPDATE ${this.#s}.keys SET enabled = $2, updated_at = now() WHERE key_id = $1`, [keyId, enabled]);
      return this.#summary(client, keyId);
    });
  }

  /**
   * Copies keys (every version, same material) into this store, e.g. from a keystore
   * file. Key ids that exist already are skipped and reported, so re-running an import is
   * harmless. All in one transaction: a failure imports nothing.
   */
  async importKeys(keys: Iterable<SoftwareKey>): Promise<{ imported: string[]; skipped: string[] }> {
    const storeKey = await this.#ensureStoreKey();
    const imported: string[] = [];
    const skipped: string[] = [];
    await this.#transaction('import keys', async (client) => {
      for (const key of keys) {
        const inserted = await client.query(
          `INSERT INTO ${this.#s}.keys (key_id, usages, enabled, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING`,
          [key.keyId, normalizeUsages(key.usages), key.enabled, key.createdAt],
        );
        if (inserted.rowCount === 0) {
          skipped.push(key.keyId);
          continue;
        }
        for (const v of key.versions) await this.#insertVersion(client, storeKey, key.keyId, v.version, v.material, v.createdAt);
        imported.push(key.keyId);
      }
    });
    return { imported, skipped };
  }

  /** Closes the pool and zeroes the store key. */
  async close(): Promise<void> {
    this.#derived.clear();
    await this.#pool.end().catch(() => undefined);
  }

  toJSON(): { where: string } {
    return { where: this.where };
  }

  [inspect.custom](): string {
    return `PgKeystore(${this.where})`;
  }

  /** The summary of one key as the transaction `client` sees it (so a rotation reports the version it made). */
  async #summary(client: pg.PoolClient, keyId: string): Promise<KeySummary> {
    const k = (await client.query<KeyRow>(`SELECT key_id, usages, enabled, created_at FROM ${this.#s}.keys WHERE key_id = $1`, [keyId])).rows[0];
    if (!k) throw new KeystoreFileError('key-not-found', this.where, `key ${keyId} does not exist in ${this.where}`);
    const vs = (
      await client.query<{ version: number; created_at: Date }>(`SELECT version, created_at FROM ${this.#s}.key_versions WHERE key_id = $1 ORDER BY version`, [
        keyId,
      ])
    ).rows;
    return {
      keyId,
      usages: normalizeUsages(k.usages as KeyUsage[]),
      enabled: k.enabled,
      currentVersion: vs.length,
      createdAt: k.created_at.toISOString(),
      versions: vs.map((v) => ({ version: v.version, createdAt: v.created_at.toISOString() })),
    };
  }

  async #lockKey(client: pg.PoolClient, keyId: string): Promise<void> {
    const found = await client.query(`SELECT 1 FROM ${this.#s}.keys WHERE key_id = $1 FOR UPDATE`, [keyId]);
    if (found.rowCount === 0) throw new KeystoreFileError('key-not-found', this.where, `key ${keyId} does not exist in ${this.where}`);
  }

  async #insertVersion(
    client: pg.PoolClient,
    storeKey: KeyMaterial,
    keyId: string,
    version: number,
    material?: KeyMaterial,
    createdAt?: string,
  ): Promise<void> {
    const fresh = material ?? generateKeyMaterial();
    try {
      const sealed = sealKeyVersion(storeKey, keyId, version, fresh);
      await client.query(
        `INSERT INTO ${this.#s}.key_versions (key_id, version, iv, sealed, created_at) VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now()))`,
        [keyId, version, sealed.iv, sealed.sealed, createdAt ?? null],
      );
    } finally {
      if (!material) fresh.zero();
    }
  }

  #assemble(storeKey: KeyMaterial, keyRows: KeyRow[], versionRows: VersionRow[]): SoftwareKey[] {
    const byKey = new Map<string, VersionRow[]>();
    for (const v of versionRows) {
      const list = byKey.get(v.key_id) ?? [];
      list.push(v);
      byKey.set(v.key_id, list);
    }
    const out: SoftwareKey[] = [];
    try {
      for (const k of keyRows) {
        const rows = byKey.get(k.key_id) ?? [];
        // A key row without version 1 is one whose create transaction we cannot see whole; skip it.
        if (rows.length === 0) continue;
        const key: SoftwareKey = {
          keyId: k.key_id,
          usages: normalizeUsages(k.usages as KeyUsage[]),
          enabled: k.enabled,
          createdAt: k.created_at.toISOString(),
          versions: [],
        };
        out.push(key);
        rows.forEach((row, i) => {
          if (row.version !== i + 1)
            throw new KeystoreFileError('corrupt', this.where, `key ${k.key_id} in ${this.where} has a gap in its versions (version ${i + 1} missing)`);
          const material = openKeyVersion(storeKey, k.key_id, row.version, { iv: row.iv, sealed: row.sealed });
          if (material === null) {
            throw new KeystoreFileError(
              'corrupt',
              this.where,
              `version ${row.version} of key ${k.key_id} in ${this.where} failed authentication: the row was modified or sealed under another KEK`,
            );
          }
          key.versions.push({ version: row.version, createdAt: row.created_at.toISOString(), material });
        });
      }
    } catch (e) {
      for (const key of out) for (const v of key.versions) v.material.zero();
      throw e;
    }
    return out;
  }

  async #ensureStoreKey(): Promise<KeyMaterial> {
    const current = this.#derived.current;
    if (current !== undefined) return current.fileKey;
    const client = await this.#connect();
    try {
      const { canary, storeKey } = await this.#openKeystoreRow(client);
      canary.zero();
      return storeKey;
    } finally {
      client.release();
    }
  }

  /** Reads the keystore row: schema version, KEK header, check value, canary. */
  async #openKeystoreRow(client: pg.PoolClient): Promise<{ canary: KeyMaterial; createdAt: string; storeKey: KeyMaterial }> {
    let version: number;
    let rows: { kek: KekHeader; kcv: Buffer; canary_iv: Buffer; canary_sealed: Buffer; created_at: Date }[];
    try {
      version = await schemaVersion(client, this.schema);
      if (version === 0) throw new KeystoreFileError('missing', this.where, `${this.where} has no keystore yet (create it with "xks-proxy keys init")`);
      if (version < SCHEMA_VERSION)
        throw new KeystoreFileError(
          'invalid',
          this.where,
          `${this.where} is at schema version ${version}, this xks-proxy needs ${SCHEMA_VERSION}: run "xks-proxy keys init" to migrate`,
        );
      if (version > SCHEMA_VERSION)
        throw new KeystoreFileError(
          'invalid',
          this.where,
          `${this.where} is at schema version ${version}, newer than this xks-proxy knows (${SCHEMA_VERSION}): upgrade xks-proxy`,
        );
      rows = (await client.query<(typeof rows)[number]>(`SELECT kek, kcv, canary_iv, canary_sealed, created_at FROM ${this.#s}.keystore`)).rows;
    } catch (e) {
      throw e instanceof KeystoreFileError ? e : this.#dbError(e, 'cannot read the keystore');
    }
    const row = rows[0];
    if (!row) throw new KeystoreFileError('missing', this.where, `${this.where} has no keystore yet (create it with "xks-proxy keys init")`);
    const keys = await this.#fileKeys(row.kek);
    if (!checkValuesMatch(row.kcv, keys.checkValue))
      throw new KeystoreFileError('wrong-secret', this.where, `wrong ${secretKindOf(row.kek)} for the keystore in ${this.where}`);
    const canary = openCanary(keys.fileKey, { iv: row.canary_iv, sealed: row.canary_sealed });
    if (canary === null)
      throw new KeystoreFileError('corrupt', this.where, `the health canary in ${this.where} failed authentication: the keystore row was modified`);
    return { canary, createdAt: row.created_at.toISOString(), storeKey: keys.fileKey };
  }

  #fileKeys(kek: KekHeader): Promise<FileKeys> {
    return this.#derived.keysFor(kek, { where: this.where, name: `the keystore in ${this.where}` });
  }

  async #connect(): Promise<pg.PoolClient> {
    try {
      return await this.#pool.connect();
    } catch (e) {
      throw this.#dbError(e, 'cannot connect');
    }
  }

  async #query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.#pool.query<R>(sql, params)).rows;
    } catch (e) {
      throw this.#dbError(e, 'query failed');
    }
  }

  async #transaction<T>(what: string, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#connect();
    try {
      await client.query('BEGIN');
      const result = await body(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e instanceof KeystoreFileError ? e : this.#dbError(e, `cannot ${what}`);
    } finally {
      client.release();
    }
  }

  /** A database error as a keystore error naming the store (never the URL or a password). */
  #dbError(e: unknown, what: string): KeystoreFileError {
    if (e instanceof KeystoreFileError) return e;
    const err = e as { code?: string; message?: string };
    const detail = err.code !== undefined ? `${err.code}: ${err.message ?? ''}` : (err.message ?? String(e));
    return new KeystoreFileError('unreadable', this.where, `${what} (${this.where}): ${detail}`, { cause: e });
  }
}

import pg from 'pg';

/**
 * The keystore schema, as numbered migrations. `xks-proxy keys init` applies the missing
 * ones in order, each once (recorded in schema_migrations), under an advisory lock so two
 * admins running it at once cannot both apply one. Never edit a migration that shipped:
 * add the next number.
 */
export interface Migration {
  version: number;
  name: string;
  /** SQL for a schema `s` (already quoted) and the change-notification channel `channel` (a literal). */
  sql(s: string, channel: string): string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'keystore, keys, key versions, change notifications',
    sql: (s, channel) => `
      -- One row: how the KEK is derived (KDF, salt, cost; never the KEK), its check value,
      -- and the health-only canary key sealed under the KEK.
      CREATE TABLE ${s}.keystore (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        kek jsonb NOT NULL,
        kcv bytea NOT NULL,
        canary_iv bytea NOT NULL CHECK (length(canary_iv) = 12),
        canary_sealed bytea NOT NULL CHECK (length(canary_sealed) = 48),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE ${s}.keys (
        key_id text PRIMARY KEY CHECK (key_id ~ '^[A-Za-z0-9._-]{1,128}$'),
        usages text[] NOT NULL CHECK (usages <@ ARRAY['ENCRYPT', 'DECRYPT']::text[]),
        enabled boolean NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      -- Key material only as AES-256-GCM ciphertext under the KEK (32 bytes + 16-byte tag);
      -- the primary key is what makes two concurrent rotations unable to share a version.
      CREATE TABLE ${s}.key_versions (
        key_id text NOT NULL REFERENCES ${s}.keys (key_id),
        version integer NOT NULL CHECK (version >= 1),
        iv bytea NOT NULL CHECK (length(iv) = 12),
        sealed bytea NOT NULL CHECK (length(sealed) = 48),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (key_id, version)
      );
      -- Every change tells the listening proxies which key to re-read (delivered at commit).
      CREATE FUNCTION ${s}.notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM pg_notify(${channel}, CASE WHEN TG_OP = 'DELETE' THEN OLD.key_id ELSE NEW.key_id END);
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER keys_changed AFTER INSERT OR UPDATE OR DELETE ON ${s}.keys
        FOR EACH ROW EXECUTE FUNCTION ${s}.notify_key_change();
      CREATE TRIGGER key_versions_changed AFTER INSERT OR UPDATE OR DELETE ON ${s}.key_versions
        FOR EACH ROW EXECUTE FUNCTION ${s}.notify_key_change();
    `,
  },
  {
    version: 2,
    name: 'proxy heartbeats',
    sql: (s) => `
      -- One row per running proxy process; a row older than liveSeconds is a proxy gone.
      CREATE TABLE ${s}.proxies (
        proxy_id text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        version text NOT NULL,
        started_at timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        keys_loaded integer NOT NULL,
        versions_loaded integer NOT NULL,
        -- SHA-256 over every key id, state and current version it holds: equal digests
        -- mean two proxies serve the same key state.
        keys_digest text NOT NULL
      );
    `,
  },
];

/** The schema version this code needs. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Notification channel of one keystore schema. */
export function changeChannel(schema: string): string {
  return `${schema}_key_changes`;
}

/** Applies the missing migrations in one transaction; returns the versions applied. */
export async function migrate(client: pg.ClientBase, schema: string): Promise<number[]> {
  const s = pg.escapeIdentifier(schema);
  await client.query('BEGIN');
  try {
    // Serialises concurrent `keys init` runs on this schema (released at commit).
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`xks-proxy migrate ${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations`)).rows.map((r) => r.version));
    const newer = [...done].filter((v) => v > SCHEMA_VERSION);
    if (newer.length > 0)
      throw new Error(`database schema ${schema} is at version ${Math.max(...newer)}, newer than this xks-proxy knows (${SCHEMA_VERSION}): upgrade xks-proxy`);
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query(m.sql(s, pg.escapeLiteral(changeChannel(schema))));
      await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/** The schema's current version, 0 when it has none yet. */
export async function schemaVersion(client: pg.ClientBase | pg.Pool, schema: string): Promise<number> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [`${pg.escapeIdentifier(schema)}.schema_migrations`]);
  if (exists.rows[0]?.t === null) return 0;
  const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${pg.escapeIdentifier(schema)}.schema_migrations`);
  return r.rows[0]?.v ?? 0;
}

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type pg from 'pg';
import { resolveSecretRef } from '../../../config-values/secret-ref.ts';
import type { PgStoreConfig } from './pg-store-config.ts';

/** Where a store lives, for messages: host, port, database and schema, never the password. */
export function describeStore(url: string, schema: string): string {
  try {
    const u = new URL(url);
    return `PostgreSQL ${u.hostname}:${u.port || '5432'}/${decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default)'} schema ${schema}`;
  } catch {
    return `PostgreSQL (unparseable url) schema ${schema}`;
  }
}

/** Connection settings for `pg` (pool and LISTEN client alike), secrets and files resolved now. */
export interface PgConnection {
  /** Options for pg.Client / pg.Pool. */
  client: pg.ClientConfig;
  /** Human-readable location (no password). */
  where: string;
}

/**
 * Resolves the config into `pg` options: the URL from its secret reference, the TLS files
 * relative to the config's directory. Throws a message that names the field, never the URL.
 */
export function pgConnection(config: PgStoreConfig, configDir: string, env: NodeJS.ProcessEnv, field = 'provider.store.postgres'): PgConnection {
  const url = resolveSecretRef(config.url, `${field}.url`, env, configDir);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${field}.url: not a URL (expected postgres://user:password@host:port/database)`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw new Error(`${field}.url: must start with postgres:// (got ${parsed.protocol}//)`);
  const read = (file: string, what: string) => {
    try {
      return readFileSync(resolve(configDir, file), 'utf8');
    } catch (e) {
      throw new Error(`${field}.tls.${what}: cannot read ${resolve(configDir, file)} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const tls = config.tls;
  // The URL's own sslmode would override our TLS settings in pg; TLS is configured here only.
  for (const p of ['sslmode', 'ssl', 'sslrootcert', 'sslcert', 'sslkey']) parsed.searchParams.delete(p);
  return {
    where: describeStore(url, config.schema),
    client: {
      connectionString: parsed.toString(),
      connectionTimeoutMillis: config.connectTimeoutMs,
      statement_timeout: config.statementTimeoutMs,
      application_name: 'xks-proxy',
      keepAlive: true,
      ssl:
        tls === undefined
          ? false
          : {
              rejectUnauthorized: tls.verify,
              ...(tls.ca !== undefined ? { ca: read(tls.ca, 'ca') } : {}),
              ...(tls.cert !== undefined && tls.key !== undefined ? { cert: read(tls.cert, 'cert'), key: read(tls.key, 'key') } : {}),
            },
    },
  };
}

import pg from 'pg';
import type { SoftwareProviderConfig } from '../software-config.ts';
import { resolveKeystoreSecret } from '../software-secret.ts';
import { pgConnection } from './pg-connection.ts';
import { listFleet } from './pg-heartbeat.ts';
import { PgKeystore } from './pg-keystore.ts';
import { SCHEMA_VERSION, schemaVersion } from './pg-migrations.ts';

/** One finding about a PostgreSQL store, naming the field to change. */
export interface PgStoreFinding {
  level: 'ok' | 'warn' | 'fail';
  /** Field under provider, e.g. `store.postgres.url`. */
  field: string;
  message: string;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\])$/;

/**
 * What `config check` says about a software keystore on PostgreSQL: the server answers,
 * over TLS when it is not on this machine, the schema is at the version this proxy needs,
 * the secret opens the keystore, and how many proxies share it now.
 */
export async function checkPgStore(provider: SoftwareProviderConfig, opts: { configDir: string; env: NodeJS.ProcessEnv }): Promise<PgStoreFinding[]> {
  const pgConfig = provider.store!.postgres;
  const out: PgStoreFinding[] = [];
  let conn;
  try {
    conn = pgConnection(pgConfig, opts.configDir, opts.env, 'store.postgres');
  } catch (e) {
    return [{ level: 'fail', field: 'store.postgres', message: (e as Error).message.replace(/^store\.postgres\.?/, '') }];
  }
  const host = new URL(String(conn.client.connectionString)).hostname;
  if (pgConfig.tls === undefined && !LOOPBACK.test(host)) {
    out.push({
      level: 'warn',
      field: 'store.postgres.tls',
      message: `no TLS to ${host}: the sealed keys and the admin's statements cross the network in clear; set tls (with ca: for RDS/Aurora the region's CA bundle)`,
    });
  }
  const client = new pg.Client(conn.client);
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return [...out, { level: 'fail', field: 'store.postgres.url', message: `cannot connect to ${conn.where}: ${err.code ?? ''} ${err.message ?? ''}`.trim() }];
  }
  try {
    const version = await schemaVersion(client, pgConfig.schema);
    if (version !== SCHEMA_VERSION) {
      const what =
        version === 0
          ? 'has no keystore schema yet'
          : version < SCHEMA_VERSION
            ? `is at schema version ${version}`
            : `is at schema version ${version}, newer than this proxy`;
      out.push({
        level: 'fail',
        field: 'store.postgres.schema',
        message: `${conn.where} ${what}; this proxy needs ${SCHEMA_VERSION}: ${version > SCHEMA_VERSION ? 'upgrade xks-proxy' : 'run "xks-proxy keys init --config <this file>"'}`,
      });
      return out;
    }
    const ssl = await client
      .query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
      .catch(() => ({ rows: [] as { ssl: boolean }[] }));
    out.push({ level: 'ok', field: 'store.postgres', message: `${conn.where} answers${ssl.rows[0]?.ssl ? ' over TLS' : ''}; schema version ${version}` });
  } finally {
    await client.end().catch(() => undefined);
  }
  const store = new PgKeystore(conn, pgConfig.schema, resolveKeystoreSecret(provider, opts.configDir, opts.env), 1);
  try {
    const keys = await store.listKeys();
    const fleet = (await listFleet(store.pool, pgConfig.schema, pgConfig.liveSeconds)).filter((m) => m.live);
    out.push({
      level: 'ok',
      field: 'store.postgres',
      message: `the configured secret opens the keystore: ${keys.length} key(s); ${fleet.length} live prox${fleet.length === 1 ? 'y' : 'ies'} share it`,
    });
  } catch (e) {
    out.push({ level: 'fail', field: provider.passphrase !== undefined ? 'passphrase' : 'kek', message: (e as Error).message });
  } finally {
    await store.close();
  }
  return out;
}

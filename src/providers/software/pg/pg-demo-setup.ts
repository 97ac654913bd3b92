import { join } from 'node:path';
import { KeystoreFileError } from '../software-keystore-errors.ts';
import type { KeystoreSecret } from '../software-keystore-kek.ts';
import { DEMO_KEYS } from '../software-demo-setup.ts';
import { PgKeystore } from './pg-keystore.ts';
import { startLocalPgCluster, type LocalPgCluster } from './pg-local-cluster.ts';
import { pgStoreConfigSchema, type PgStoreConfig } from './pg-store-config.ts';

/** A demo PostgreSQL store: the cluster, its store config, and how to stop it. */
export interface PgDemo {
  cluster: LocalPgCluster;
  store: PgStoreConfig;
  stop(): Promise<void>;
}

/**
 * Starts (creating on first run) a loopback PostgreSQL cluster under `dir`, creates the
 * keystore schema and the demo keys (the same four as `npm start`) when missing.
 * Idempotent: a second start reuses the data.
 */
export async function startPgDemo(
  dir: string,
  secret: KeystoreSecret,
  opts: { throwaway?: boolean; port?: number; storeOverrides?: Partial<PgStoreConfig> } = {},
): Promise<PgDemo> {
  const cluster = await startLocalPgCluster(join(dir), { throwaway: opts.throwaway, port: opts.port });
  try {
    const store = pgStoreConfigSchema.parse({ url: cluster.url, ...opts.storeOverrides });
    await ensurePgDemoKeys(cluster.url, store.schema, secret);
    return { cluster, store, stop: () => cluster.stop() };
  } catch (e) {
    await cluster.stop().catch(() => undefined);
    throw e;
  }
}

/** Creates the schema, the keystore and any missing demo key. */
export async function ensurePgDemoKeys(url: string, schema: string, secret: KeystoreSecret): Promise<string[]> {
  const store = new PgKeystore({ where: `demo database schema ${schema}`, client: { connectionString: url } }, schema, secret, 1);
  try {
    await store.init();
    const have = new Set((await store.listKeys()).map((k) => k.keyId));
    const created: string[] = [];
    for (const k of DEMO_KEYS) {
      if (have.has(k.keyId)) continue;
      try {
        await store.createKey(k.keyId, { usages: k.usages, enabled: true });
        created.push(k.keyId);
      } catch (e) {
        // Another process created it a moment ago: fine.
        if (!(e instanceof KeystoreFileError && e.kind === 'key-exists')) throw e;
      }
    }
    return created;
  } finally {
    await store.close();
  }
}

/**
 * The local KMIP demo behind `npm run demo:kmip`: a PyKMIP server in a data directory with
 * the keys the public AWS XKS test client expects. On first run it makes the certificates
 * and keys; later runs reuse them (the server's SQLite file keeps the keys).
 */
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { callContextWithin } from '../../xks/call-context.ts';
import { DEMO_KEYS } from '../software/software-demo-setup.ts';
import { kmipProviderConfigSchema, type KmipProviderConfig } from './kmip-config.ts';
import { createKmipKey, locateKeys } from './kmip-key-admin.ts';
import { openKmipCluster } from './kmip-provider.ts';
import { createKmipPki, kmipPkiPaths, type KmipPkiFiles } from './pykmip-certificates.ts';
import { findFreePort, PykmipServer } from './pykmip-process.ts';

/** A running KMIP demo. */
export interface KmipDemo {
  /** Provider config for the demo key store (absolute paths, server on 127.0.0.1). */
  providerConfig: KmipProviderConfig;
  server: PykmipServer;
  /** Key names created by this run (empty when they all existed). */
  createdKeys: string[];
  /** True when this run made the certificates. */
  createdPki: boolean;
  /** Stops the PyKMIP server and its helper processes; call it on SIGINT/SIGTERM too. */
  stop(): Promise<void>;
}

/** Id of the demo server in health output. */
export const KMIP_DEMO_SERVER_ID = 'pykmip-demo';

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function ensurePki(dir: string): Promise<{ pki: KmipPkiFiles; created: boolean }> {
  const pki = kmipPkiPaths(dir);
  const present = await Promise.all(Object.values(pki).map(exists));
  if (present.every(Boolean)) return { pki, created: false };
  return { pki: await createKmipPki(dir, { clientCn: 'xks-proxy-demo' }), created: true };
}

/**
 * Starts the demo PyKMIP server with its data in `dataDir` (created if missing) and makes
 * sure the demo keys (foo, encrypt_only_key, decrypt_only_key, impotent_key) and the
 * health-check key exist and are Active. `port` defaults to a free port.
 */
export async function startKmipDemo(dataDir: string, options: { port?: number } = {}): Promise<KmipDemo> {
  const dir = resolve(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { pki, created: createdPki } = await ensurePki(dir);
  const port = options.port ?? (await findFreePort());
  const server = await PykmipServer.start({ dir, port, pki, databasePath: join(dir, 'pykmip.sqlite') });
  try {
    const providerConfig = kmipProviderConfigSchema.parse({
      type: 'kmip',
      servers: [{ id: KMIP_DEMO_SERVER_ID, host: '127.0.0.1', port, serverName: 'localhost' }],
      tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey },
    });
    const cluster = await openKmipCluster(providerConfig, { logger: pino({ level: 'silent' }), configDir: dir, env: process.env });
    const createdKeys: string[] = [];
    try {
      const kmip = cluster.servers[0]!;
      const wanted = [...DEMO_KEYS, { keyId: providerConfig.healthCheckKeyName, usages: ['ENCRYPT', 'DECRYPT'] as const }];
      for (const key of wanted) {
        const limit = callContextWithin(10_000);
        if ((await locateKeys(kmip, limit, key.keyId)).length > 0) continue;
        await createKmipKey(kmip, limit, key.keyId, key.usages);
        createdKeys.push(key.keyId);
      }
    } finally {
      cluster.close();
    }
    return { providerConfig, server, createdKeys, createdPki, stop: () => server.stop() };
  } catch (e) {
    server.kill();
    throw e;
  }
}

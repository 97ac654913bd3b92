/**
 * Test helper: real PyKMIP servers in a temp dir. One call makes the dir and a fresh PKI
 * (CA, server certificate for 127.0.0.1/localhost, client certificate); each started
 * server gets a free port chosen first (PyKMIP hangs on a taken port) and, by default, the
 * env's one SQLite file, so several servers act as one cluster holding the same keys.
 * `cleanup()` kills every server by its own process group and removes the dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { kmipProviderConfigSchema, type KmipProviderConfig } from '../../src/providers/kmip/kmip-config.ts';
import { createKmipPki, type KmipPkiFiles } from '../../src/providers/kmip/pykmip-certificates.ts';
import { findFreePort, PykmipServer } from '../../src/providers/kmip/pykmip-process.ts';
import type { ProviderDeps } from '../../src/providers/provider-deps.ts';

/** A temp dir with a PKI and the PyKMIP servers started in it. */
export interface PykmipEnv {
  dir: string;
  pki: KmipPkiFiles;
  /** The SQLite file servers share unless told otherwise. */
  databasePath: string;
  /** Starts a server on a free port (or `port`, e.g. to restart on the same one). */
  startServer(options?: { port?: number; databasePath?: string }): Promise<PykmipServer>;
  /** Kills a server (a crash) and starts a new one on the same port and database. */
  restartServer(server: PykmipServer, options?: { downMs?: number }): Promise<PykmipServer>;
  /** A KMIP provider config for servers (or bare ports) with this env's client certificate. */
  providerConfig(servers: ReadonlyArray<PykmipServer | number>, overrides?: Record<string, unknown>): KmipProviderConfig;
  /** Provider dependencies with a silent logger. */
  deps(): ProviderDeps;
  /** Kills every server started here and removes the dir. */
  cleanup(): Promise<void>;
}

/** Makes a temp dir and a PKI for PyKMIP servers. */
export async function createPykmipEnv(): Promise<PykmipEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'xks-pykmip-'));
  const pki = await createKmipPki(dir);
  const databasePath = join(dir, 'pykmip.sqlite');
  const servers = new Set<PykmipServer>();
  const dbOf = new Map<PykmipServer, string>();

  async function startServer(options: { port?: number; databasePath?: string } = {}): Promise<PykmipServer> {
    const port = options.port ?? (await findFreePort());
    const db = options.databasePath ?? databasePath;
    const server = await PykmipServer.start({ dir, port, pki, databasePath: db });
    servers.add(server);
    dbOf.set(server, db);
    return server;
  }

  return {
    dir,
    pki,
    databasePath,
    startServer,
    async restartServer(server, options = {}) {
      server.kill();
      await server.exited$();
      servers.delete(server);
      if (options.downMs !== undefined) await new Promise((r) => setTimeout(r, options.downMs));
      return startServer({ port: server.port, databasePath: dbOf.get(server) ?? databasePath });
    },
    providerConfig(list, overrides = {}) {
      return kmipProviderConfigSchema.parse({
        type: 'kmip',
        servers: list.map((s, i) => ({ id: `kmip-${i + 1}`, host: '127.0.0.1', port: typeof s === 'number' ? s : s.port, serverName: 'localhost' })),
        tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey },
        ...overrides,
      });
    },
    deps() {
      return { logger: pino({ level: 'silent' }), configDir: dir, env: process.env };
    },
    async cleanup() {
      for (const server of servers) server.kill();
      await Promise.all([...servers].map((s) => s.exited$()));
      servers.clear();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

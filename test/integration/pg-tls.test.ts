/**
 * TLS to the PostgreSQL store: a real cluster serving TLS with a test CA's certificate for
 * 127.0.0.1. The proxy verifies the server against `tls.ca`; without the CA it refuses
 * the self-made certificate instead of talking in clear.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPgStore } from '../../src/providers/software/pg/pg-config-check.ts';
import { pgConnection } from '../../src/providers/software/pg/pg-connection.ts';
import { PgKeystore } from '../../src/providers/software/pg/pg-keystore.ts';
import { startLocalPgCluster, type LocalPgCluster } from '../../src/providers/software/pg/pg-local-cluster.ts';
import { pgStoreConfigSchema } from '../../src/providers/software/pg/pg-store-config.ts';
import { createSoftwareProvider } from '../../src/providers/software/software-provider.ts';
import { rawKekSecret } from '../support/software-keystore-fixture.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';

let pki: TestPki;
let base: string;
let cluster: LocalPgCluster;
const kek = rawKekSecret();

beforeAll(async () => {
  pki = createTestPki();
  base = await mkdtemp(join(tmpdir(), 'xks-pgtls-'));
  cluster = await startLocalPgCluster(join(base, 'cluster'), { throwaway: true, tls: { certFile: pki.serverCert, keyFile: pki.serverKey } });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  await rm(base, { recursive: true, force: true });
  pki?.cleanup();
});

describe('software keystore on PostgreSQL over TLS', { timeout: 60_000 }, () => {
  it('verifies the server against tls.ca, serves over TLS, and refuses an unverifiable server', async () => {
    const config = pgStoreConfigSchema.parse({ url: cluster.url, schema: 'tls_test', tls: { ca: pki.caCert } });
    const store = new PgKeystore(pgConnection(config, '/', {}), 'tls_test', kek, 1);
    await store.init();
    await store.createKey('foo', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true });
    const ssl = await store.pool.query<{ ssl: boolean; version: string }>('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(ssl.rows[0]).toMatchObject({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
    await store.close();

    const findings = await checkPgStore({ type: 'software', kek: kek.kek, store: { postgres: config } }, { configDir: '/', env: {} });
    expect(findings.map((f) => f.message).join('\n')).toMatch(/answers over TLS; schema version 2/);

    // The proxy itself, over TLS: loads and serves.
    const provider = createSoftwareProvider(
      { type: 'software', kek: kek.kek, store: { postgres: config } },
      { logger: pino({ level: 'silent' }), configDir: '/', env: {}, checkOnly: true },
    );
    try {
      await provider.init();
      const info = await provider.describe('foo', { deadline: Date.now() + 1000, signal: new AbortController().signal });
      expect(info.currentVersion).toBe(1);
    } finally {
      await provider.close();
    }

    // Without the CA, verification fails: no silent fallback to an unverified or clear connection.
    const unverified = pgStoreConfigSchema.parse({ url: cluster.url, schema: 'tls_test', tls: {} });
    const refused = new PgKeystore(pgConnection(unverified, '/', {}), 'tls_test', kek, 1);
    await expect(refused.listKeys()).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    await refused.close();
  });
});

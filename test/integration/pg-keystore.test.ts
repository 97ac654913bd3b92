/**
 * The software keystore's PostgreSQL store on a real cluster: schema and migrations, the
 * keys CLI against it, concurrent rotations, import/export, and what the database holds.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openKeystoreBackend, readKeystoreFile } from '../../src/providers/software/keystore-backend.ts';
import { findPgBinDir } from '../../src/providers/software/pg/pg-local-cluster.ts';
import { PgKeystore } from '../../src/providers/software/pg/pg-keystore.ts';
import { zeroContents, type KeystoreContents } from '../../src/providers/software/software-keystore-contents.ts';
import { runDoctor } from '../../src/diagnostics/run-doctor.ts';
import { runCli } from '../support/cli-process.ts';
import { runKeysCli, type CliResult } from '../support/run-keys-cli.ts';
import { makeTempDir, rawKekSecret, TEST_SCRYPT } from '../support/software-keystore-fixture.ts';
import { startTestPg, type TestPg } from '../support/postgres.ts';

let db: TestPg;
let dir: string;
let cleanup: () => Promise<void>;
const kek = rawKekSecret();
const BACKUP_PASSPHRASE = 'backup-passphrase-5d1c';
let env: NodeJS.ProcessEnv;

const cli = (...args: string[]): Promise<CliResult> => runKeysCli(args, { cwd: dir, env });
const store = (schema: string, secret: { kek: string } | { passphrase: string } = kek) =>
  new PgKeystore({ where: `test ${schema}`, client: { connectionString: db.url } }, schema, secret, 8);

async function writeConfig(name: string, schema: string): Promise<string> {
  const config = {
    keyStores: [
      {
        prefix: 'p',
        credentials: [{ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x'.repeat(43) }],
        provider: { type: 'software', kek: 'env:TEST_KEK', store: { postgres: { url: 'env:PG_URL', schema } } },
      },
    ],
  };
  await writeFile(join(dir, name), stringify(config));
  return name;
}

async function sql<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

function materials(contents: KeystoreContents): Buffer[] {
  return [contents.canary.expose(), ...[...contents.keys.values()].flatMap((k) => k.versions.map((v) => v.material.expose()))].map((b) => Buffer.from(b));
}

beforeAll(async () => {
  db = await startTestPg();
  ({ dir, cleanup } = await makeTempDir());
  env = { TEST_KEK: kek.kek, PG_URL: db.url, BACKUP_PASSPHRASE, OTHER_KEK: rawKekSecret().kek };
}, 120_000);
afterAll(async () => {
  await db?.destroy();
  await cleanup?.();
});

describe('software keystore on PostgreSQL', { timeout: 120_000 }, () => {
  it('keys init creates the schema with numbered migrations, is idempotent, and refuses another KEK', async () => {
    const config = await writeConfig('init.yaml', 'init_test');
    const first = await cli('init', '--config', config);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/applied schema migrations 1, 2; created the keystore in PostgreSQL 127\.0\.0\.1:\d+\/xks schema init_test/);
    expect((await sql<{ version: number }>('SELECT version FROM init_test.schema_migrations ORDER BY version')).map((r) => r.version)).toEqual([1, 2]);
    const again = await cli('init', '--config', config);
    expect(again.stdout).toMatch(/schema already up to date; the keystore exists and opens with this secret/);
    // A proxy or admin with another KEK is refused before it can write anything.
    const wrong = await cli('init', '--postgres', 'env:PG_URL', '--schema', 'init_test', '--kek', 'env:OTHER_KEK');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: wrong kek for the keystore in PostgreSQL .* schema init_test$/)]);
    expect(wrong.stderr).not.toContain(env.OTHER_KEK);
    // Not initialised: a clear message, not a SQL error.
    const missing = await cli('list', '--postgres', 'env:PG_URL', '--schema', 'nothing_here', '--kek', 'env:TEST_KEK');
    expect(missing.stderr).toMatch(/has no keystore yet \(create it with "xks-proxy keys init"\)/);
  });

  it('runs create, rotate, disable, enable and list against the database as against a file', async () => {
    const config = await writeConfig('cli.yaml', 'cli_test');
    expect((await cli('init', '--config', config)).code).toBe(0);
    expect((await cli('create', 'foo', '--config', config)).stdout).toMatch(
      /created key foo \(usage encrypt,decrypt, enabled, current version 1\) in PostgreSQL/,
    );
    expect((await cli('create', 'enc', '--usage', 'encrypt', '--disabled', '--config', config)).code).toBe(0);
    expect((await cli('rotate', 'foo', '--config', config)).stdout).toMatch(/version 2 now encrypts/);
    expect((await cli('enable', 'enc', '--config', config)).stdout).toMatch(/enabled key enc/);
    expect((await cli('disable', 'foo', '--config', config)).stdout).toMatch(/disabled key foo/);
    const dup = await cli('create', 'foo', '--config', config);
    expect(dup.stderr).toMatch(/^error: key foo already exists in PostgreSQL/);
    const missing = await cli('rotate', 'nope', '--config', config);
    expect(missing.stderr).toMatch(/^error: key nope does not exist in PostgreSQL/);
    const rows = (await cli('list', '--config', config)).stdout
      .trimEnd()
      .split('\n')
      .map((l) => l.split(/\s+/).slice(0, 4));
    expect(rows).toEqual([
      ['KEY', 'ID', 'USAGE', 'STATE'],
      ['enc', 'encrypt', 'enabled', '1'],
      ['foo', 'encrypt,decrypt', 'disabled', '2'],
    ]);
  });

  it('two admins rotating the same key at the same moment get consecutive versions, none lost or shared', async () => {
    const config = await writeConfig('race.yaml', 'race_test');
    expect((await cli('init', '--config', config)).code).toBe(0);
    expect((await cli('create', 'hot', '--config', config)).code).toBe(0);
    // Two real CLI processes at once, plus six concurrent in-process rotations.
    const s = store('race_test');
    try {
      const [a, b, ...more] = await Promise.all([
        cli('rotate', 'hot', '--config', config),
        cli('rotate', 'hot', '--config', config),
        ...Array.from({ length: 6 }, () => s.rotateKey('hot')),
      ]);
      expect([a.code, b.code]).toEqual([0, 0]);
      const reported = [
        Number(/version (\d+) now encrypts/.exec(a.stdout)![1]),
        Number(/version (\d+) now encrypts/.exec(b.stdout)![1]),
        ...more.map((k) => (k as { currentVersion: number }).currentVersion),
      ];
      // Every rotation reports the version it made, and no two made the same one.
      expect([...reported].sort((x, y) => x - y)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
      const versions = await sql<{ version: number }>(`SELECT version FROM race_test.key_versions WHERE key_id = 'hot' ORDER BY version`);
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // The constraint that backs it: a second row for one version is refused by the database.
      const row = (await sql<{ iv: Buffer; sealed: Buffer }>(`SELECT iv, sealed FROM race_test.key_versions WHERE key_id = 'hot' AND version = 9`))[0]!;
      await expect(
        sql(`INSERT INTO race_test.key_versions (key_id, version, iv, sealed) VALUES ('hot', 9, $1, $2)`, [row.iv, row.sealed]),
      ).rejects.toMatchObject({ code: '23505' });
      const all = await s.loadAll();
      expect(all.keys.get('hot')!.versions).toHaveLength(9);
      zeroContents(all);
    } finally {
      await s.close();
    }
  });

  it('imports a keystore file with every version and exports an encrypted backup that restores the same keys', async () => {
    // The single-proxy keystore file a fleet migrates from.
    const fileBackend = await openKeystoreBackend({ kind: 'file', path: join(dir, 'old.json'), secret: kek });
    await fileBackend.init();
    await fileBackend.createKey('alpha', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true });
    await fileBackend.rotateKey('alpha');
    await fileBackend.createKey('beta', { usages: ['DECRYPT'], enabled: false });
    const config = await writeConfig('import.yaml', 'import_test');
    expect((await cli('init', '--config', config)).code).toBe(0);
    const imported = await cli('import', '--config', config, '--from', 'old.json', '--from-kek', 'env:TEST_KEK');
    expect(imported.stdout).toMatch(/imported 2 key\(s\) into PostgreSQL .*: alpha, beta/);
    expect((await cli('import', '--config', config, '--from', 'old.json', '--from-kek', 'env:TEST_KEK')).stdout).toMatch(
      /imported 0 key\(s\)[^]*skipped 2 key\(s\) that already exist: alpha, beta/,
    );

    const fromFile = await fileBackend.readContents();
    const s = store('import_test');
    const inDb = await s.loadAll();
    try {
      for (const id of ['alpha', 'beta']) {
        const a = fromFile.keys.get(id)!;
        const b = inDb.keys.get(id)!;
        expect({ usages: b.usages, enabled: b.enabled, versions: b.versions.length }).toEqual({
          usages: a.usages,
          enabled: a.enabled,
          versions: a.versions.length,
        });
        a.versions.forEach((v, i) => expect(b.versions[i]!.material.expose().equals(v.material.expose())).toBe(true));
      }

      const exported = await cli('export', '--config', config, '--out', 'backup.keystore', '--out-passphrase', 'env:BACKUP_PASSPHRASE');
      expect(exported.stdout).toMatch(/exported 2 key\(s\) from PostgreSQL .* to .*backup\.keystore \(encrypted/);
      expect((await cli('export', '--config', config, '--out', 'backup.keystore', '--out-passphrase', 'env:BACKUP_PASSPHRASE')).stderr).toMatch(
        /already exists; refusing to overwrite/,
      );
      const backupText = await readFile(join(dir, 'backup.keystore'));
      for (const m of materials(inDb)) {
        expect(backupText.includes(m)).toBe(false);
        expect(backupText.includes(Buffer.from(m.toString('base64')))).toBe(false);
      }
      const restored = await readKeystoreFile(join(dir, 'backup.keystore'), { passphrase: BACKUP_PASSPHRASE });
      expect(restored.keys.get('alpha')!.versions[1]!.material.expose().equals(inDb.keys.get('alpha')!.versions[1]!.material.expose())).toBe(true);
      zeroContents(restored);
      // The wrong passphrase opens nothing.
      await expect(readKeystoreFile(join(dir, 'backup.keystore'), { passphrase: 'not-it' })).rejects.toThrow(/wrong passphrase/);
    } finally {
      zeroContents(fromFile);
      zeroContents(inDb);
      await s.close();
      await fileBackend.close();
    }
  });

  it('config check and doctor try the database, and status --fleet lists the heartbeats', async () => {
    const config = await writeConfig('check.yaml', 'check_test');
    const before = await runCli(['config', 'check', '--config', join(dir, config)], env, 60_000);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(
      /fail\s+keyStores\[prefix="p"\]\.provider\.store\.postgres\.schema: PostgreSQL .* has no keystore schema yet; this proxy needs 2: run "xks-proxy keys init/,
    );
    expect((await cli('init', '--config', config)).code).toBe(0);
    const s = store('check_test');
    await s.createKey('foo', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true });
    // A proxy's heartbeat, as a serving proxy writes it.
    await s.pool.query(`INSERT INTO check_test.proxies VALUES ('0f0e0d0c-aaaa', 'host-a', 42, '0.1.0', now(), now(), 1, 1, 'abcd')`);
    await s.close();
    const after = await runCli(['config', 'check', '--config', join(dir, config)], env, 60_000);
    expect(after.stdout).toMatch(/ok\s+keyStores\[prefix="p"\]\.provider\.store\.postgres: PostgreSQL .* answers; schema version 2/);
    expect(after.stdout).toMatch(/the configured secret opens the keystore: 1 key\(s\); 1 live proxy share it/);
    expect(after.stdout).toMatch(/config .* is valid/);
    // config check never counts itself as a proxy.
    expect(await sql(`SELECT proxy_id FROM check_test.proxies`)).toHaveLength(1);
    const wrongKek = await runCli(['config', 'check', '--config', join(dir, config)], { ...env, TEST_KEK: env.OTHER_KEK }, 60_000);
    expect(wrongKek.stdout).toMatch(/fail\s+keyStores\[prefix="p"\]\.provider\.kek: wrong kek for the keystore/);

    // The doctor checks the database the same way and lists the keys from it.
    const report = await runDoctor({ configPath: join(dir, config), skip: ['tls', 'credentials', 'latency', 'end-to-end', 'clock'], env });
    const storeChecks = report.checks.filter((c) => c.id === 'keys.store');
    expect(storeChecks.map((c) => c.level)).toEqual(['ok', 'ok']);
    expect(storeChecks[1]!.message).toMatch(/opens the keystore: 1 key\(s\)/);
    expect(
      report.checks
        .filter((c) => c.id === 'keys.key')
        .map((c) => c.subject)
        .join(' '),
    ).toContain('foo');
    expect(await sql(`SELECT proxy_id FROM check_test.proxies`)).toHaveLength(1);

    const fleet = await runCli(['status', '--fleet', '--config', join(dir, config)], env);
    expect(fleet.stderr).toBe('');
    expect(fleet.stdout).toMatch(/schema check_test \(key store "p"\): 1 live proxy/);
    expect(fleet.stdout).toMatch(/0f0e0d0c\s+host-a\s+42\s+0\.1\.0\s+\S+\s+\S+ ago\s+live\s+1\s+1\s+abcd/);
  });

  it('never holds a key in clear: the raw key bytes are nowhere in a pg_dump of the database', async () => {
    const s = store('dump_test', { passphrase: 'dump-test-passphrase' });
    await s.init(TEST_SCRYPT);
    for (const id of ['k1', 'k2', 'k3']) await s.createKey(id, { usages: ['ENCRYPT', 'DECRYPT'], enabled: true });
    await s.rotateKey('k1');
    const contents = await s.loadAll();
    const secrets = materials(contents);
    zeroContents(contents);
    await s.close();
    expect(secrets).toHaveLength(5);
    const pgDump = join(await findPgBinDir(), 'pg_dump');
    const dump = await new Promise<Buffer>((resolve, reject) =>
      execFile(
        pgDump,
        ['-h', '127.0.0.1', '-p', String(db.port), '-U', 'xks', '-d', 'xks'],
        { encoding: 'buffer', maxBuffer: 64 << 20 },
        (err: Error | null, out: Buffer) => (err ? reject(err) : resolve(out)),
      ),
    );
    expect(dump.toString('utf8')).toMatch(/COPY dump_test\.key_versions/);
    for (const m of secrets) {
      for (const form of [m, Buffer.from(m.toString('hex')), Buffer.from(m.toString('base64')), Buffer.from(m.toString('base64url'))]) {
        expect(dump.includes(form)).toBe(false);
      }
    }
  });
});

/**
 * A private PostgreSQL cluster in a directory, run with Debian's `postgresql` binaries, for
 * the fleet demo and the tests. Loopback only (listen_addresses=127.0.0.1), trust
 * authentication for the one role `xks`: it is a demo database, never a production one.
 *
 * `initdb` refuses to run as root, so when we are root the cluster directory is given to
 * the `postgres` user the Debian package creates and every binary runs through `runuser`.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import pg from 'pg';

/** The role and database the local cluster serves. */
export const LOCAL_PG_USER = 'xks';
/** Database created in the local cluster for the keystore. */
export const LOCAL_PG_DATABASE = 'xks';

/** A running local cluster. */
export interface LocalPgCluster {
  /** Directory holding `pg/` (the data directory), the socket and `pg.log`. */
  dir: string;
  port: number;
  /** Connection URL of the keystore database (no password: trust on loopback). */
  url: string;
  /** Stops the server (fast shutdown: open connections are closed). */
  stop(): Promise<void>;
  /** Starts it again on the same port, e.g. after stop() in a failure test. */
  start(): Promise<void>;
}

/** Options of {@link startLocalPgCluster}. */
export interface LocalPgOptions {
  /** Port to listen on; default a free one. */
  port?: number;
  /** fsync off: faster, for throwaway test clusters only. */
  throwaway?: boolean;
  /** Serve TLS with this certificate and key (PEM files; copied into the cluster directory). */
  tls?: { certFile: string; keyFile: string };
}

/** Finds the newest installed PostgreSQL server binaries (Debian layout). */
export async function findPgBinDir(): Promise<string> {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = (await readdir(root)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {
    // fall through to the error below
  }
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'initdb'))) return bin;
  }
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql: install the Debian package "postgresql" (apt-get install -y postgresql)');
}

/** A free TCP port on 127.0.0.1 (the OS picks it; another process may take it later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const isRoot = () => process.getuid?.() === 0;

function run(bin: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin.split('/').pop()} failed: ${(stderr || stdout || err.message).trim().split('\n').slice(-3).join(' | ')}`));
      else resolve(stdout);
    });
  });
}

/**
 * As root, hands `dir` to the postgres user and makes sure that user can reach it (every
 * parent needs the search bit, which a private temp dir does not have).
 */
async function prepareDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!isRoot()) return;
  const ids = await pgIds();
  await chown(dir, ids.uid, ids.gid);
  await chmod(dir, 0o700);
  for (let p = dirname(dir); p !== dirname(p); p = dirname(p)) {
    const s = await stat(p);
    if ((s.mode & 0o001) === 0) await chmod(p, (s.mode & 0o777) | 0o001);
  }
}

async function pgIds(): Promise<{ uid: number; gid: number }> {
  const out = await new Promise<string>((resolve, reject) =>
    execFile('id', ['postgres'], (err, stdout) =>
      err ? reject(new Error('user "postgres" not found: install the Debian package "postgresql"')) : resolve(stdout),
    ),
  );
  const uid = /uid=(\d+)/.exec(out)?.[1];
  const gid = /gid=(\d+)/.exec(out)?.[1];
  if (uid === undefined || gid === undefined) throw new Error('cannot read the uid of user "postgres"');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Creates the cluster under `dir` when it does not exist yet (a second start reuses the
 * data), starts it on 127.0.0.1 and creates the keystore database when missing.
 */
export async function startLocalPgCluster(dir: string, opts: LocalPgOptions = {}): Promise<LocalPgCluster> {
  const bin = await findPgBinDir();
  await prepareDir(dir);
  const dataDir = join(dir, 'pg');
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await run(join(bin, 'initdb'), [
      '-D',
      dataDir,
      '-A',
      'trust',
      '-U',
      LOCAL_PG_USER,
      '-E',
      'UTF8',
      '--no-instructions',
      ...(opts.throwaway ? ['--no-sync'] : []),
    ]);
  }
  const port = opts.port ?? (await freePort());
  const tlsOpts: string[] = [];
  if (opts.tls) {
    // The server refuses a key file others can read, and runs as postgres: copy both in.
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    await copyFile(opts.tls.certFile, cert);
    await copyFile(opts.tls.keyFile, key);
    await chmod(key, 0o600);
    if (isRoot()) {
      const ids = await pgIds();
      await chown(cert, ids.uid, ids.gid);
      await chown(key, ids.uid, ids.gid);
    }
    tlsOpts.push('-c ssl=on', `-c ssl_cert_file=${cert}`, `-c ssl_key_file=${key}`);
  }
  const serverOpts = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    ...tlsOpts,
    ...(opts.throwaway ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
  ].join(' ');
  const url = `postgres://${LOCAL_PG_USER}@127.0.0.1:${port}/${LOCAL_PG_DATABASE}`;
  const start = async () => {
    await run(join(bin, 'pg_ctl'), ['-D', dataDir, '-o', serverOpts, '-l', join(dir, 'pg.log'), '-w', '-t', '60', 'start']);
  };
  const stop = async () => {
    await run(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']).catch((e: Error) => {
      // Already stopped is fine; anything else is worth saying.
      if (!/not running|No such file/i.test(e.message)) throw e;
    });
  };
  await start();
  try {
    await ensureDatabase(port);
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, port, url, stop, start };
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: LOCAL_PG_USER, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [LOCAL_PG_DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(LOCAL_PG_DATABASE)}`);
  } finally {
    await client.end();
  }
}

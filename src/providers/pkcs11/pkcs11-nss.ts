import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where distributions install NSS softoken, the PKCS#11 module inside NSS (Debian: libnss3). */
const NSS_MODULE_PATHS = [
  '/usr/lib/x86_64-linux-gnu/libsoftokn3.so',
  '/usr/lib/aarch64-linux-gnu/libsoftokn3.so',
  '/usr/lib64/libsoftokn3.so',
  '/usr/lib/libsoftokn3.so',
  '/opt/homebrew/lib/libsoftokn3.dylib',
];

/**
 * Label of the NSS token that stores keys in the database (key4.db). The other slot, "NSS
 * Generic Crypto Services", holds session objects only: token keys cannot be made there.
 */
export const NSS_KEY_TOKEN_LABEL = 'NSS Certificate DB';

/** Path of the installed NSS softoken library, or undefined when NSS is not installed. */
export function findNssModule(): string | undefined {
  return NSS_MODULE_PATHS.find((p) => existsSync(p));
}

/**
 * C_Initialize library parameters that open the NSS database in `dir` (absolute): NSS
 * softoken reads them from CK_C_INITIALIZE_ARGS.pReserved and refuses to initialize without
 * them (CKR_ARGUMENTS_BAD, measured). `sql:` is the SQLite format (cert9.db, key4.db).
 */
export function nssLibraryParameters(dir: string): string {
  // The value is single-quoted inside the parameter string: a quote in the path would end it.
  if (dir.includes("'")) throw new Error(`NSS database directory ${dir} must not contain a single quote`);
  return `configdir='sql:${dir}' certPrefix='' keyPrefix='' secmod='' flags=optimizeSpace`;
}

/**
 * Creates an NSS database in `dir` with an empty password unless one is there. An empty
 * password initializes the key token (its user PIN) and lets it be used without login, so
 * the provider runs with `login: none` and keys are public objects (CKA_PRIVATE false).
 * Uses `certutil` from NSS's tools (Debian: libnss3-tools), as SoftHSM2 uses softhsm2-util.
 */
export async function ensureNssDatabase(dir: string): Promise<{ created: boolean }> {
  if (existsSync(join(dir, 'key4.db'))) return { created: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await run('certutil', ['-N', '--empty-password', '-d', `sql:${dir}`], { timeout: 30_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error('certutil not found: install the NSS tools (Debian/Ubuntu: apt-get install libnss3-tools)');
    throw new Error(`certutil -N failed: ${(err.stderr ?? err.message).trim()}`);
  }
  return { created: true };
}

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where distributions install the SoftHSM2 PKCS#11 library. */
const SOFTHSM_MODULE_PATHS = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

/** Path of the installed SoftHSM2 library, or undefined when SoftHSM2 is not installed. */
export function findSoftHsmModule(): string | undefined {
  return SOFTHSM_MODULE_PATHS.find((p) => existsSync(p));
}

/**
 * Writes a private softhsm2.conf whose token directory is `<dir>/tokens`, so tokens never
 * land in the system-wide store. The library reads SOFTHSM2_CONF at C_Initialize, so the
 * variable must point here before the library is first initialized in the process.
 */
export async function writeSoftHsmConfig(dir: string): Promise<string> {
  const tokenDir = join(dir, 'tokens');
  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  const confPath = join(dir, 'softhsm2.conf');
  await writeFile(confPath, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, {
    mode: 0o600,
  });
  return confPath;
}

/** A SoftHSM2 token to initialize. */
export interface SoftHsmTokenSpec {
  label: string;
  soPin: string;
  userPin: string;
}

/** Initializes a token in the next free slot with softhsm2-util (the slot id is random: find it by label). */
export async function initSoftHsmToken(confPath: string, spec: SoftHsmTokenSpec): Promise<void> {
  try {
    await run('softhsm2-util', ['--init-token', '--free', '--label', spec.label, '--so-pin', spec.soPin, '--pin', spec.userPin], {
      env: { ...process.env, SOFTHSM2_CONF: confPath },
      timeout: 30_000,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error('softhsm2-util not found: install SoftHSM2 (Debian/Ubuntu: apt-get install softhsm2)');
    // stderr names the problem (e.g. an existing label); the PINs are on our command line, not in it.
    throw new Error(`softhsm2-util --init-token failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

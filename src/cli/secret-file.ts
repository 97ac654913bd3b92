import { chmod, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes a file that holds a secret: created with mode 0600 from the start (never readable
 * by others, whatever the umask), its directory created 0700 when missing. Without
 * `overwrite`, an existing file is an error rather than a silently replaced secret.
 */
export async function writeSecretFile(path: string, content: string, opts: { overwrite: boolean }): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let handle;
  try {
    handle = await open(path, opts.overwrite ? 'w' : 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${path} exists already; not replacing a secret file`);
    throw e;
  }
  try {
    // An existing file keeps its old mode on open: set it explicitly.
    await chmod(path, 0o600);
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

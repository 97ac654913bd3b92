import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `data` so that readers see either the old or the new file, never a
 * mix, even after a crash: write a temp file in the same directory (rename is only atomic
 * within one file system), fsync it, rename it over the target, then fsync the directory
 * so the rename itself is durable.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, mode = 0o600, beforeRename?: () => void): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      // open()'s mode is filtered by the umask; chmod makes 0600 exact either way.
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    beforeRename?.();
    await rename(tmp, path);
    renamed = true;
    await fsyncDirectory(dir);
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } catch (e) {
    // Some file systems refuse fsync on a directory; the rename already happened.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
  } finally {
    await dh.close();
  }
}

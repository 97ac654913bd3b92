import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { KeystoreSource } from './keystore-source.ts';
import type { KeystoreContents } from './software-keystore-contents.ts';
import { sameStamp, SoftwareKeystoreFile, type FileStamp } from './software-keystore-file.ts';

/**
 * The keystore file as a KeystoreSource. A check costs one stat; the file is read and
 * decrypted only when its stamp (inode, size, mtime, ctime) changed. A file that failed
 * is not read again until its stamp changes, so a broken file does not re-run scrypt on
 * every check.
 */
export class FileKeystoreSource implements KeystoreSource {
  readonly id: string;
  readonly location: string;
  readonly #file: SoftwareKeystoreFile;
  readonly #log: Logger;
  #loaded: FileStamp | undefined;
  #failed: { stamp: FileStamp; error: Error } | undefined;

  constructor(file: SoftwareKeystoreFile, logger: Logger) {
    this.#file = file;
    this.#log = logger;
    this.id = basename(file.path);
    this.location = file.path;
  }

  async load(): Promise<KeystoreContents | undefined> {
    const stamp = await this.#file.stat();
    if (stamp !== undefined && this.#loaded !== undefined && sameStamp(stamp, this.#loaded)) {
      this.#failed = undefined;
      return undefined;
    }
    if (stamp !== undefined && this.#failed !== undefined && sameStamp(stamp, this.#failed.stamp)) throw this.#failed.error;
    try {
      // read() stats the open file again: the stamp kept is that of the bytes read.
      const next = await this.#file.read();
      this.#loaded = next.stamp;
      this.#failed = undefined;
      if ((next.stamp.mode & 0o077) !== 0) {
        this.#log.warn({ mode: next.stamp.mode.toString(8) }, 'keystore file is accessible by group or others; chmod 600 it');
      }
      return next.contents;
    } catch (e) {
      if (stamp !== undefined) this.#failed = { stamp, error: e as Error };
      throw e;
    }
  }

  close(): void {
    this.#file.close();
  }
}

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { AES_256_KEY_BYTES, KeyMaterial } from './key-material.ts';
import { openKeystoreFile, parseKeystoreFile, sealKeystoreFile } from './software-keystore-codec.ts';
import { zeroContents, type KeystoreContents } from './software-keystore-contents.ts';
import { DerivedKeyCache } from './derived-key-cache.ts';
import { KeystoreFileError } from './software-keystore-errors.ts';
import {
  checkScryptParams,
  DEFAULT_MAX_SCRYPT_N,
  newKekHeader,
  type FileKeys,
  type KekHeader,
  type KeystoreSecret,
  type ScryptParams,
} from './software-keystore-kek.ts';
import { withKeystoreLock } from './software-keystore-lock.ts';
import { writeFileAtomic } from './software-file-write.ts';

/** Identity of one version of the file on disk: any rewrite (atomic rename) changes it. */
export interface FileStamp {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Permission bits, to warn when the file is readable by others. */
  mode: number;
}

/** True when two stamps describe the same file version. */
export function sameStamp(a: FileStamp | undefined, b: FileStamp | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/**
 * Largest keystore file read. A key costs about 250 bytes in the file, so this is far
 * beyond any real keystore; it stops a wrong path (a disk image, a log) from being read
 * into memory whole.
 */
export const MAX_KEYSTORE_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Opens for reading without ever blocking: O_NONBLOCK makes open() return at once on a
 * FIFO or device (a plain open() of a FIFO waits for a writer forever, holding a libuv
 * thread that even process.exit then waits for). On a regular file O_NONBLOCK changes
 * nothing.
 */
const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Options of a keystore file. */
export interface KeystoreFileOptions {
  /** Highest scrypt N accepted from the header (default DEFAULT_MAX_SCRYPT_N). */
  maxScryptN?: number;
}

/** Fresh random key material for a new key version or canary. */
export function generateKeyMaterial(): KeyMaterial {
  const bytes = randomBytes(AES_256_KEY_BYTES);
  const material = new KeyMaterial(bytes);
  bytes.fill(0);
  return material;
}

/**
 * One keystore file opened with one secret: reads (no lock, writes are atomic renames),
 * locked read-modify-write updates, and creation. Caches the derived file key so a
 * re-read after a change costs one AES-GCM decryption, not another scrypt run.
 */
export class SoftwareKeystoreFile {
  readonly path: string;
  readonly #secret: KeystoreSecret;
  readonly #maxScryptN: number;
  readonly #derived: DerivedKeyCache;

  constructor(path: string, secret: KeystoreSecret, options: KeystoreFileOptions = {}) {
    this.path = path;
    this.#secret = secret;
    this.#maxScryptN = options.maxScryptN ?? DEFAULT_MAX_SCRYPT_N;
    this.#derived = new DerivedKeyCache(secret, this.#maxScryptN);
  }

  /** The file's current stamp, or undefined when it does not exist. */
  async stat(): Promise<FileStamp | undefined> {
    try {
      return toStamp(await stat(this.path, { bigint: true }));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.#ioError(e);
    }
  }

  /** Reads and decrypts the file; the stamp belongs to exactly the bytes that were read. */
  async read(): Promise<{ contents: KeystoreContents; stamp: FileStamp }> {
    const { data, stamp } = await this.#readRaw();
    const parsed = parseKeystoreFile(this.path, data);
    const keys = await this.#fileKeys(parsed.header.kek);
    return { contents: openKeystoreFile(this.path, parsed, keys), stamp };
  }

  /**
   * Creates the file (its directory too, mode 0700) with a fresh canary key, after
   * `populate` added any keys. Refuses to overwrite an existing file.
   */
  async create(populate: (contents: KeystoreContents) => void = () => undefined, params?: ScryptParams): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 }).catch((e: unknown) => {
      throw this.#ioError(e);
    });
    await withKeystoreLock(this.path, async (lock) => {
      if ((await this.stat()) !== undefined) {
        throw new KeystoreFileError('exists', this.path, `keystore file ${this.path} already exists; refusing to overwrite it`);
      }
      let kek: KekHeader;
      try {
        if (params) checkScryptParams(params, this.#maxScryptN);
        kek = newKekHeader(this.#secret, params, this.#maxScryptN);
      } catch (e) {
        throw new KeystoreFileError('invalid', this.path, `cannot create keystore file ${this.path}: ${(e as Error).message}`);
      }
      const keys = await this.#fileKeys(kek);
      const contents: KeystoreContents = { createdAt: new Date().toISOString(), canary: generateKeyMaterial(), keys: new Map() };
      try {
        populate(contents);
        await this.#write(contents, kek, keys, () => lock.assertHeld());
      } finally {
        zeroContents(contents);
      }
    });
  }

  /**
   * Locked read-modify-write: reads the newest file, lets `mutate` change the contents
   * and writes them back atomically. If `mutate` throws, nothing is written.
   */
  async update<T>(mutate: (contents: KeystoreContents) => T): Promise<T> {
    return withKeystoreLock(this.path, async (lock) => {
      const { data } = await this.#readRaw();
      const parsed = parseKeystoreFile(this.path, data);
      const keys = await this.#fileKeys(parsed.header.kek);
      const contents = openKeystoreFile(this.path, parsed, keys);
      try {
        const result = mutate(contents);
        await this.#write(contents, parsed.header.kek, keys, () => lock.assertHeld());
        return result;
      } finally {
        zeroContents(contents);
      }
    });
  }

  /** Zeroes the cached file key. */
  close(): void {
    this.#derived.clear();
  }

  toJSON(): { path: string } {
    return { path: this.path };
  }

  [inspect.custom](): string {
    return `SoftwareKeystoreFile(${this.path})`;
  }

  async #write(contents: KeystoreContents, kek: KekHeader, keys: FileKeys, assertHeld: () => void): Promise<void> {
    const bytes = sealKeystoreFile(contents, kek, keys);
    try {
      await writeFileAtomic(this.path, bytes, 0o600, assertHeld);
    } catch (e) {
      if (e instanceof KeystoreFileError) throw e;
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new KeystoreFileError('write-failed', this.path, `cannot write keystore file ${this.path} (${code}); the previous file was left unchanged`);
    }
  }

  /**
   * Reads the whole file, refusing anything but a regular file of a sane size before
   * reading a byte. The stamp belongs to exactly the bytes that were read.
   */
  async #readRaw(): Promise<{ data: Buffer; stamp: FileStamp }> {
    try {
      const fh = await open(this.path, READ_FLAGS);
      try {
        const st = await fh.stat({ bigint: true });
        if (!st.isFile()) {
          throw new KeystoreFileError('unreadable', this.path, `keystore file ${this.path} is not a regular file (${fileKind(st)}); refusing to read it`);
        }
        if (st.size > BigInt(MAX_KEYSTORE_FILE_BYTES)) {
          throw new KeystoreFileError(
            'unreadable',
            this.path,
            `keystore file ${this.path} is ${st.size} bytes, more than the ${MAX_KEYSTORE_FILE_BYTES} a keystore can be; refusing to read it`,
          );
        }
        return { data: await fh.readFile(), stamp: toStamp(st) };
      } finally {
        await fh.close();
      }
    } catch (e) {
      if (e instanceof KeystoreFileError) throw e;
      throw this.#ioError(e);
    }
  }

  #fileKeys(kek: KekHeader): Promise<FileKeys> {
    return this.#derived.keysFor(kek, { where: this.path, name: `keystore file ${this.path}` });
  }

  #ioError(e: unknown): KeystoreFileError {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return new KeystoreFileError('missing', this.path, `keystore file ${this.path} does not exist (create it with "xks-proxy keys init")`);
    }
    return new KeystoreFileError('unreadable', this.path, `cannot read keystore file ${this.path} (${code ?? (e as Error).message})`);
  }
}

/** What a non-regular file is, for the refusal message. */
function fileKind(s: import('node:fs').BigIntStats): string {
  if (s.isFIFO()) return 'a FIFO';
  if (s.isDirectory()) return 'a directory';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

function toStamp(s: import('node:fs').BigIntStats): FileStamp {
  return { ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, mode: Number(s.mode & 0o777n) };
}

import { createWriteStream, type WriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { RequestEvent } from '../../xks/request-event.ts';
import { chainAuditLine, GENESIS_HASH, hashAuditLine } from './audit-chain.ts';
import { auditRecordFrom } from './audit-record.ts';

/** Where a chain continues: the next seq and the hash of the last line. */
export interface ChainHead {
  seq: number;
  prev: string;
}

/** How many bytes from the end of an existing log are read to find its last line. */
const TAIL_BYTES = 64 * 1024;

/**
 * Reads where the chain of an existing file ends. A last line without a line feed (the
 * process died mid-write) still counts as a line, so the chain continues over it and
 * `audit verify` reports exactly that damaged line.
 */
export async function readChainHead(file: string, key?: Buffer): Promise<{ head: ChainHead; endsWithNewline: boolean } | undefined> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (size === 0) return undefined;
  const fh = await open(file, 'r');
  try {
    const length = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const text = buf.toString('utf8');
    const endsWithNewline = text.endsWith('\n');
    const lines = (endsWithNewline ? text.slice(0, -1) : text).split('\n');
    const lastLine = lines.at(-1)!;
    let seq = 1;
    for (const line of lines.reverse()) {
      try {
        const parsed = JSON.parse(line) as { seq?: unknown };
        if (typeof parsed.seq === 'number') {
          seq = parsed.seq + 1;
          break;
        }
      } catch {
        // Not a complete record: look further back for the last seq.
      }
    }
    return { head: { seq, prev: hashAuditLine(lastLine, key) }, endsWithNewline };
  } finally {
    await fh.close();
  }
}

/**
 * The audit log: one JSON line per XKS request, appended to a file, each line carrying
 * the SHA-256 of the line before it. Lines are queued in order on one append-only stream
 * (not fsync'd per line: the chain shows what was lost in a crash, and per-line fsync
 * would cost more than the request).
 */
export class AuditLog {
  readonly file: string;
  readonly #logger: Logger;
  readonly #onWriteError: () => void;
  readonly #key: Buffer | undefined;
  #stream: WriteStream | undefined;
  #head: ChainHead = { seq: 1, prev: GENESIS_HASH };
  #broken = false;
  #ino = -1;

  private constructor(file: string, logger: Logger, onWriteError: () => void, key: Buffer | undefined) {
    this.file = file;
    this.#key = key;
    this.#logger = logger;
    this.#onWriteError = onWriteError;
  }

  /** Opens (or creates, mode 0600) the log and continues its chain; `key` makes it a keyed (HMAC) chain. */
  static async open(file: string, opts: { logger: Logger; onWriteError?: () => void; key?: Buffer }): Promise<AuditLog> {
    const log = new AuditLog(file, opts.logger, opts.onWriteError ?? (() => {}), opts.key);
    await log.#openStream();
    return log;
  }

  /** The next seq and the hash the next line will carry. */
  get head(): ChainHead {
    return { ...this.#head };
  }

  /** Request observer: appends the request's record. Never throws. */
  readonly observe = (event: RequestEvent): void => {
    this.append(auditRecordFrom(event));
  };

  /** Appends one record as a chained line. */
  append(record: object): void {
    if (this.#stream === undefined || this.#broken) {
      this.#onWriteError();
      return;
    }
    const line = chainAuditLine(this.#head.seq, record, this.#head.prev);
    this.#head = { seq: this.#head.seq + 1, prev: hashAuditLine(line, this.#key) };
    this.#stream.write(`${line}\n`);
  }

  /**
   * Reopens the file if it was moved away (log rotation): the new file continues the
   * chain where the old one ended, so `audit verify old new` checks both as one. Lines
   * keep going to the old file until the new one is open, so none is lost.
   */
  async reopen(): Promise<void> {
    const current = await stat(this.file).catch(() => undefined);
    if (current !== undefined && current.ino === this.#ino && !this.#broken) return;
    const next = await this.#createStream();
    const old = this.#stream;
    this.#stream = next.stream;
    this.#ino = next.ino;
    this.#broken = false;
    if (old !== undefined && !old.destroyed) old.end();
  }

  /** Flushes and closes the file; logs the chain head so it can be kept off this host. */
  async close(): Promise<void> {
    await this.#closeStream();
    this.#logger.info({ auditFile: this.file, nextSeq: this.#head.seq, headHash: this.#head.prev }, 'audit log closed');
  }

  async #openStream(): Promise<void> {
    const existing = await readChainHead(this.file, this.#key);
    // A file that already has lines is authoritative: continue its chain.
    if (existing !== undefined) this.#head = existing.head;
    const next = await this.#createStream();
    if (existing !== undefined && !existing.endsWithNewline) next.stream.write('\n');
    this.#stream = next.stream;
    this.#ino = next.ino;
    this.#broken = false;
  }

  async #createStream(): Promise<{ stream: WriteStream; ino: number }> {
    const stream = createWriteStream(this.file, { flags: 'a', mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    stream.on('error', (e) => {
      if (stream !== this.#stream) return;
      this.#broken = true;
      this.#onWriteError();
      this.#logger.error({ auditFile: this.file, err: e.message }, 'audit log write failed; records are being lost until the next reload');
    });
    return { stream, ino: (await stat(this.file)).ino };
  }

  async #closeStream(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream === undefined || stream.destroyed) return;
    await new Promise<void>((resolve) => stream.end(() => resolve()));
  }
}

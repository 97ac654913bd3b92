import { pino } from 'pino';

/** What the batched destination writes to: a pino (SonicBoom) stream in buffer mode by default. */
export interface LineStream {
  write(chunk: Buffer): unknown;
  flush(callback?: (error?: Error) => void): void;
  flushSync(): void;
}

/** Where and how the batched destination writes. */
export interface BatchedDestinationOptions {
  /** File descriptor to write to; default 1 (stdout). */
  fd?: number;
  /**
   * Largest single write in bytes. Lines are never split across writes, so with 4096
   * (PIPE_BUF) lines from several processes sharing one pipe never interleave mid-line.
   */
  maxWriteBytes?: number;
  /** Stream to hand the gathered lines to instead of a new one on `fd` (tests). */
  stream?: LineStream;
  /** How long a line may wait for others before it is written, in ms; default 10. */
  flushDelayMs?: number;
}

// Destinations with lines not yet handed to their stream; flushed when the process exits.
const live = new Set<BatchedLogDestination>();
let exitHookInstalled = false;

/**
 * Writes every destination's pending lines now, synchronously: for an exit that skips the
 * 'exit' event (the process ending itself with SIGKILL).
 */
export function flushAllLogDestinationsSync(): void {
  for (const destination of live) destination.flushSync();
}

/**
 * A log destination that gathers lines for a few milliseconds (10 by default) and hands
 * them to the stream as one write. One asynchronous write per line would mean a write on
 * libuv's thread pool and a wake-up of the event loop for every request: at KMS's
 * 1,800 req/s, requests arrive one per loop turn, so that is paid per request
 * (docs/performance.md). A line is therefore up to 10 ms late in the log;
 * lines still pending when the process exits are written synchronously, before the
 * stream's own exit flush runs.
 *
 * Lines are copied as UTF-8 into a byte buffer as they arrive, not kept as strings: a
 * batch of pending strings (and the stream's own string buffer) outlives young-generation
 * GCs and is promoted, bytes are not (docs/performance.md).
 */
export class BatchedLogDestination {
  readonly #out: LineStream;
  readonly #flushDelayMs: number;
  readonly #batch: Buffer;
  #used = 0;
  #scheduled = false;

  constructor(options: BatchedDestinationOptions = {}) {
    // Registered before the stream exists, so at exit this runs before the stream's flush.
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const destination of live) destination.flushSync();
      });
    }
    const maxWriteBytes = options.maxWriteBytes ?? 16 * 1024;
    this.#flushDelayMs = options.flushDelayMs ?? 10;
    // One write's worth: a batch never exceeds what may be written at once.
    this.#batch = Buffer.allocUnsafeSlow(maxWriteBytes);
    // SonicBoom in buffer mode takes the batches as they are (no string round trip).
    this.#out =
      options.stream ?? (pino.destination({ fd: options.fd ?? 1, sync: false, maxWrite: maxWriteBytes, contentMode: 'buffer' }) as unknown as LineStream);
    live.add(this);
  }

  /** Takes one formatted line (pino calls this). */
  write(line: string): void {
    let room = this.#batch.length - this.#used;
    // UTF-8 needs at most 3 bytes per UTF-16 unit: count exactly only when it may not fit.
    if (line.length * 3 > room) {
      const bytes = Buffer.byteLength(line);
      if (bytes > room && this.#used > 0) {
        this.#handOver();
        room = this.#batch.length;
      }
      if (bytes > room) {
        // Longer than one write may be: it goes alone, after the lines before it.
        this.#out.write(Buffer.from(line, 'utf8'));
        return;
      }
    }
    this.#used += this.#batch.write(line, this.#used, 'utf8');
    if (!this.#scheduled) {
      this.#scheduled = true;
      // unref: a pending log line never keeps the process alive (the exit hook writes it).
      setTimeout(this.#onDelay, this.#flushDelayMs).unref();
    }
  }

  /** Writes everything pending, then calls back (pino's logger.flush). */
  flush(callback?: (error?: Error) => void): void {
    this.#handOver();
    this.#out.flush(callback);
  }

  /** Writes everything pending before returning (exit paths). */
  flushSync(): void {
    this.#handOver();
    try {
      this.#out.flushSync();
    } catch {
      // The stream is still opening or already closed: nothing more can be done at exit.
    }
  }

  readonly #onDelay = (): void => {
    this.#scheduled = false;
    this.#handOver();
  };

  /**
   * Hands a copy of the filled part of the batch to the stream, which keeps it until it is
   * written; the batch itself is reused. (A fresh full-size batch per hand-over would
   * allocate 16 KiB for every line at low rates, where each line goes out on its own.)
   */
  #handOver(): void {
    if (this.#used === 0) return;
    const filled = Buffer.from(this.#batch.subarray(0, this.#used));
    this.#used = 0;
    this.#out.write(filled);
  }
}

import { pino } from 'pino';

/** What the batched destination writes to: a pino (SonicBoom) stream by default. */
export interface LineStream {
  write(chunk: string): unknown;
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
}

// Destinations with lines not yet handed to their stream; flushed when the process exits.
const live = new Set<BatchedLogDestination>();
let exitHookInstalled = false;

/**
 * A log destination that gathers the lines written during one event-loop turn and hands
 * them to the stream as one write at the end of the turn (setImmediate). Under load a turn
 * serves many requests, and one asynchronous write per line cost about 15 us of CPU per
 * request in bench/ (write syscalls on libuv's pool and their callbacks); at low rates a
 * line is late by one loop turn at most. Lines still pending at exit are written
 * synchronously, before the stream's own exit flush runs.
 */
export class BatchedLogDestination {
  readonly #out: LineStream;
  readonly #maxWriteBytes: number;
  #chunk = '';
  #chunkBytes = 0;
  #scheduled = false;

  constructor(options: BatchedDestinationOptions = {}) {
    // Registered before the stream exists, so at exit this runs before the stream's flush.
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const destination of live) destination.flushSync();
      });
    }
    this.#maxWriteBytes = options.maxWriteBytes ?? 16 * 1024;
    this.#out = options.stream ?? pino.destination({ fd: options.fd ?? 1, sync: false, maxWrite: this.#maxWriteBytes });
    live.add(this);
  }

  /** Takes one formatted line (pino calls this). */
  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.#chunkBytes > 0 && this.#chunkBytes + bytes > this.#maxWriteBytes) this.#handOver();
    this.#chunk += line;
    this.#chunkBytes += bytes;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#endOfTurn);
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

  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    this.#handOver();
  };

  #handOver(): void {
    if (this.#chunkBytes === 0) return;
    const chunk = this.#chunk;
    this.#chunk = '';
    this.#chunkBytes = 0;
    this.#out.write(chunk);
  }
}

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
  /** How long a line may wait for others before it is written, in ms; default 10. */
  flushDelayMs?: number;
}

// Destinations with lines not yet handed to their stream; flushed when the process exits.
const live = new Set<BatchedLogDestination>();
let exitHookInstalled = false;

/**
 * A log destination that gathers lines for a few milliseconds (10 by default) and hands
 * them to the stream as one write. One asynchronous write per line meant a write on
 * libuv's thread pool and a wake-up of the event loop for every request: at KMS's
 * 1,800 req/s, requests arrive one per loop turn, and that cost about a third of the
 * proxy's CPU per request in bench/. A line is therefore up to 10 ms late in the log;
 * lines still pending when the process exits are written synchronously, before the
 * stream's own exit flush runs.
 */
export class BatchedLogDestination {
  readonly #out: LineStream;
  readonly #maxWriteBytes: number;
  readonly #flushDelayMs: number;
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
    this.#flushDelayMs = options.flushDelayMs ?? 10;
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

  #handOver(): void {
    if (this.#chunkBytes === 0) return;
    const chunk = this.#chunk;
    this.#chunk = '';
    this.#chunkBytes = 0;
    this.#out.write(chunk);
  }
}

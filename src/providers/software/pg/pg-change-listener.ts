import type { Logger } from 'pino';
import pg from 'pg';
import type { PgConnection } from './pg-connection.ts';

/** What the listener tells its owner. */
export interface ChangeHandlers {
  /** A key changed (created, rotated, enabled, disabled, deleted); re-read it. */
  onChange(keyId: string): void;
  /**
   * LISTEN is active again (first connect or after an outage): notifications sent while
   * we were away are lost, so the owner re-reads everything.
   */
  onConnect(firstTime: boolean): void;
  /** The connection is gone; the owner keeps serving what it holds. */
  onDisconnect(reason: string): void;
}

/** Timing of the listener, mainly for tests. */
export interface ListenerTiming {
  /** First reconnect delay; doubles per failure up to maxBackoffMs (with jitter). */
  minBackoffMs: number;
  maxBackoffMs: number;
  /**
   * How often the idle LISTEN connection is probed with `SELECT 1`: a silent network
   * split does not close a socket, so without a probe we would never notice it.
   */
  probeMs: number;
}

const DEFAULT_TIMING: ListenerTiming = { minBackoffMs: 250, maxBackoffMs: 15_000, probeMs: 5_000 };

/**
 * One dedicated connection that LISTENs on the keystore's channel and reconnects with
 * exponential backoff when it drops. It logs one line when the database goes and one when
 * it returns, not one per failed attempt.
 */
export class PgChangeListener {
  readonly #conn: PgConnection;
  readonly #channel: string;
  readonly #handlers: ChangeHandlers;
  /** Undefined: the owner logs the outage (the served key set's refresher does, once each way). */
  readonly #log: Logger | undefined;
  readonly #timing: ListenerTiming;
  #client: pg.Client | undefined;
  #connected = false;
  #everConnected = false;
  #closed = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #probe: NodeJS.Timeout | undefined;
  #downSince: number | undefined;

  constructor(conn: PgConnection, channel: string, handlers: ChangeHandlers, log: Logger | undefined, timing: Partial<ListenerTiming> = {}) {
    this.#conn = conn;
    this.#channel = channel;
    this.#handlers = handlers;
    this.#log = log;
    this.#timing = { ...DEFAULT_TIMING, ...timing };
  }

  /** True while LISTEN is active. */
  get connected(): boolean {
    return this.#connected;
  }

  /** When the connection was lost (epoch ms), undefined while connected or before the first connect. */
  get downSince(): number | undefined {
    return this.#downSince;
  }

  /** Connects now; resolves after the first attempt (connected or not: retries continue). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#probe);
    const client = this.#client;
    this.#client = undefined;
    this.#connected = false;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(this.#conn.client);
    this.#client = client;
    // Registered before connect: an error later on must never become an uncaught exception.
    client.on('error', (e) => this.#lost(client, e.message));
    client.on('end', () => this.#lost(client, 'connection closed'));
    client.on('notification', (n) => {
      if (n.channel === this.#channel && n.payload !== undefined && n.payload !== '') this.#handlers.onChange(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.#channel)}`);
    } catch (e) {
      this.#lost(client, (e as Error).message);
      return;
    }
    if (this.#closed || this.#client !== client) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#connected = true;
    this.#failures = 0;
    const first = !this.#everConnected;
    this.#everConnected = true;
    if (this.#downSince !== undefined) {
      this.#log?.info({ store: this.#conn.where, downForMs: Date.now() - this.#downSince }, 'key store database reachable again; re-reading every key');
    }
    this.#downSince = undefined;
    this.#probe = setInterval(() => {
      // No answer within one probe period counts as a lost connection.
      const silent = setTimeout(() => this.#lost(client, `no answer from the database within ${this.#timing.probeMs} ms`), this.#timing.probeMs);
      silent.unref();
      client
        .query('SELECT 1')
        .catch(() => undefined)
        .finally(() => clearTimeout(silent));
    }, this.#timing.probeMs);
    this.#probe.unref();
    this.#handlers.onConnect(first);
  }

  #lost(client: pg.Client, reason: string): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    clearInterval(this.#probe);
    const wasConnected = this.#connected;
    this.#connected = false;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.#closed) return;
    if (wasConnected || (this.#downSince === undefined && !this.#everConnected && this.#failures === 0)) {
      this.#downSince = Date.now();
      this.#log?.warn({ store: this.#conn.where, reason }, 'key store database unreachable; serving the keys held in memory, reconnecting with backoff');
      this.#handlers.onDisconnect(reason);
    }
    this.#failures++;
    const base = Math.min(this.#timing.maxBackoffMs, this.#timing.minBackoffMs * 2 ** Math.min(this.#failures - 1, 16));
    this.#timer = setTimeout(() => void this.#connect(), base / 2 + Math.random() * (base / 2));
    this.#timer.unref();
  }
}

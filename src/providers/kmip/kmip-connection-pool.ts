/**
 * A pool of persistent TLS connections to one KMIP server: up to `maxConnections`, one
 * request in flight on each, idle ones kept warm (TLS handshakes cost more than the
 * request itself) and closed after `idleTimeoutMs`. Callers wait for a free connection no
 * longer than their deadline.
 */
import type { CallContext } from '../../xks/key-provider-port.ts';
import { KmipConnection, KmipConnectionError, KmipTimeoutError, type KmipEndpoint, type KmipTlsMaterial } from './kmip-connection.ts';

/** Pool limits. */
export interface KmipPoolOptions {
  maxConnections: number;
  idleTimeoutMs: number;
  maxResponseBytes: number;
}

interface Idle {
  connection: KmipConnection;
  timer: NodeJS.Timeout;
}

interface Waiter {
  wake: () => void;
}

/** Connections to one server. */
export class KmipConnectionPool {
  readonly #idle: Idle[] = [];
  readonly #waiters: Waiter[] = [];
  /** Connections open or opening, busy or idle. */
  #count = 0;
  #closed = false;
  readonly #material: KmipTlsMaterial;
  readonly #options: KmipPoolOptions;

  constructor(
    readonly endpoint: KmipEndpoint,
    material: KmipTlsMaterial,
    options: KmipPoolOptions,
  ) {
    this.#material = material;
    this.#options = options;
  }

  /** Open connections (busy, idle or connecting). */
  get size(): number {
    return this.#count;
  }

  /**
   * Sends one request and returns the response bytes. When `mayRepeat` is set and a
   * connection reused from the idle list turns out to be dead (the server closed it while
   * it sat idle), the request is sent again on another connection: only for operations
   * that are safe to repeat.
   */
  async roundTrip(request: Uint8Array, limit: CallContext, mayRepeat: boolean): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const { connection, reused } = await this.#acquire(limit);
      try {
        const response = await connection.roundTrip(request, limit.deadline, limit.signal);
        this.#release(connection);
        return response;
      } catch (e) {
        connection.destroy();
        this.#release(connection);
        const stale = reused && e instanceof KmipConnectionError;
        if (!(stale && mayRepeat && attempt < this.#options.maxConnections && Date.now() < limit.deadline)) throw e;
      }
    }
  }

  /** Closes every connection; waiting callers fail. */
  close(): void {
    this.#closed = true;
    for (const { connection, timer } of this.#idle.splice(0)) {
      clearTimeout(timer);
      connection.destroy();
    }
    for (const waiter of this.#waiters.splice(0)) waiter.wake();
  }

  async #acquire(limit: CallContext): Promise<{ connection: KmipConnection; reused: boolean }> {
    for (;;) {
      if (this.#closed) throw new KmipConnectionError('the KMIP connection pool is closed', 'KMIP_POOL_CLOSED');
      // Most recently used first: the least likely to have been closed by the server.
      const idle = this.#idle.pop();
      if (idle !== undefined) {
        clearTimeout(idle.timer);
        if (idle.connection.alive) return { connection: idle.connection, reused: true };
        continue;
      }
      if (this.#count < this.#options.maxConnections) return { connection: await this.#connect(limit), reused: false };
      await this.#waitForSlot(limit);
    }
  }

  async #connect(limit: CallContext): Promise<KmipConnection> {
    this.#count++;
    let connection: KmipConnection;
    try {
      connection = await KmipConnection.open(this.endpoint, this.#material, limit.deadline, limit.signal, this.#options.maxResponseBytes);
    } catch (e) {
      this.#count--;
      this.#wakeOne();
      throw e;
    }
    connection.onClose(() => {
      this.#count--;
      this.#removeIdle(connection);
      this.#wakeOne();
    });
    if (this.#closed) connection.destroy();
    return connection;
  }

  #release(connection: KmipConnection): void {
    if (!connection.alive || this.#closed) {
      connection.destroy();
      return;
    }
    const timer = setTimeout(() => connection.destroy(), this.#options.idleTimeoutMs);
    // An idle connection must not keep the process alive.
    timer.unref();
    this.#idle.push({ connection, timer });
    this.#wakeOne();
  }

  #removeIdle(connection: KmipConnection): void {
    const at = this.#idle.findIndex((i) => i.connection === connection);
    if (at >= 0) {
      const [removed] = this.#idle.splice(at, 1);
      if (removed !== undefined) clearTimeout(removed.timer);
    }
  }

  #wakeOne(): void {
    this.#waiters.shift()?.wake();
  }

  #waitForSlot(limit: CallContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        wake: () => {
          cleanup();
          resolve();
        },
      };
      const expire = (why: string): void => {
        cleanup();
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(new KmipTimeoutError(`no free KMIP connection to ${this.endpoint.host}:${this.endpoint.port}: ${why}`));
      };
      const timer = setTimeout(() => expire('deadline passed'), Math.max(0, limit.deadline - Date.now()));
      const onAbort = (): void => expire('call aborted');
      limit.signal.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        clearTimeout(timer);
        limit.signal.removeEventListener('abort', onAbort);
      };
      this.#waiters.push(waiter);
    });
  }
}

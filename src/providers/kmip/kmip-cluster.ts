/**
 * Several KMIP servers holding the same keys (a vendor cluster) with failover. A unit of
 * work that needs several calls against one server (Locate, then Encrypt with the id that
 * server returned) runs on one server; when that server cannot be reached, breaks the
 * connection or does not answer in its share of the budget, the whole unit runs again on
 * the next server. A KMIP result error is the server's answer and is never retried
 * elsewhere. A server that failed is tried last for `downBackoffMs`.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { narrowCallContext } from '../../xks/call-context.ts';
import type { CallContext } from '../../xks/key-provider-port.ts';
import { KmipConnectionError, KmipTimeoutError, type KmipEndpoint, type KmipTlsMaterial } from './kmip-connection.ts';
import { KmipConnectionPool, type KmipPoolOptions } from './kmip-connection-pool.ts';
import { decodeResponseMessage, encodeRequestMessage, successPayload, type KmipProtocolVersion, type KmipRequest } from './kmip-message.ts';
import { TtlvDecodeError } from './ttlv-decode.ts';
import { KmipProtocolError, type TtlvItem } from './ttlv-item.ts';

/** One configured server. */
export interface KmipServerEndpoint extends KmipEndpoint {
  /** Stable id for health and logs, e.g. "kmip-a" or "host:port". */
  id: string;
}

/** Cluster settings. */
export interface KmipClusterOptions {
  pool: KmipPoolOptions;
  protocolVersion: KmipProtocolVersion;
  /** Longest time one server may take for one unit of work when others remain to be tried. */
  attemptTimeoutMs: number;
  /** How long a failed server is tried after the others. */
  downBackoffMs: number;
}

/** Every server failed to answer; `timedOut` when the budget ran out. */
export class KmipUnavailableError extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
  ) {
    super(message);
    this.name = 'KmipUnavailableError';
  }
}

/** True for failures of the server or the network (worth trying another server). */
export function isServerFailure(e: unknown): boolean {
  return e instanceof KmipConnectionError || e instanceof KmipTimeoutError || e instanceof KmipProtocolError || e instanceof TtlvDecodeError;
}

/** One server of the cluster: its pool and its up/down mark. */
export class KmipServer {
  #downUntil = 0;
  /** True from a failure until the server completes a call: its failure is logged once per outage. */
  #failing = false;
  readonly #pool: KmipConnectionPool;
  readonly #options: KmipClusterOptions;

  constructor(
    readonly endpoint: KmipServerEndpoint,
    material: KmipTlsMaterial,
    options: KmipClusterOptions,
  ) {
    this.#options = options;
    this.#pool = new KmipConnectionPool(endpoint, material, options.pool);
  }

  /** The server id. */
  get id(): string {
    return this.endpoint.id;
  }

  /** True while the server is in its back-off after a failure. */
  get markedDown(): boolean {
    return Date.now() < this.#downUntil;
  }

  /** When the back-off ends (epoch ms; 0 when the server is up). */
  get downUntilMs(): number {
    return this.#downUntil;
  }

  /**
   * Runs one operation on this server and returns its response payload. `mayRepeat` allows
   * resending on a fresh connection when a pooled one turns out dead (safe for reads and
   * for Encrypt/Decrypt, not for Create).
   */
  async call(request: KmipRequest, limit: CallContext, mayRepeat = true): Promise<TtlvItem> {
    const batchItemId = randomBytes(8);
    const bytes = encodeRequestMessage(this.#options.protocolVersion, request, batchItemId);
    let response: Buffer;
    try {
      response = await this.#pool.roundTrip(bytes, limit, mayRepeat);
    } catch (e) {
      if (isServerFailure(e)) this.markDown();
      throw e;
    }
    let payload: TtlvItem;
    try {
      payload = successPayload(request, decodeResponseMessage(response, batchItemId));
    } catch (e) {
      if (isServerFailure(e)) this.markDown();
      throw e;
    }
    this.#downUntil = 0;
    return payload;
  }

  /** Starts this server's back-off. */
  markDown(): void {
    this.#downUntil = Date.now() + this.#options.downBackoffMs;
  }

  /** Records a failure; true only for the first one since the server last completed a call. */
  startOutage(): boolean {
    if (this.#failing) return false;
    this.#failing = true;
    return true;
  }

  /** Records a completed unit of work; true when it ends an outage. */
  endOutage(): boolean {
    if (!this.#failing) return false;
    this.#failing = false;
    return true;
  }

  /** Closes the server's connections. */
  close(): void {
    this.#pool.close();
  }
}

/** Why an attempt on one server failed, for the final error message (no request data). */
function reasonOf(e: unknown): string {
  if (e instanceof KmipTimeoutError) return 'no answer in time';
  if (e instanceof KmipConnectionError) return e.code === undefined ? 'connection failed' : `connection failed (${e.code})`;
  return 'malformed response';
}

/** The servers of one KMIP provider, with failover. */
export class KmipCluster {
  readonly servers: readonly KmipServer[];
  readonly #options: KmipClusterOptions;
  readonly #logger: Logger;

  constructor(endpoints: readonly KmipServerEndpoint[], material: KmipTlsMaterial, options: KmipClusterOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.servers = endpoints.map((e) => new KmipServer(e, material, options));
  }

  /**
   * Runs `work` on the first server that completes it: servers that are up in config
   * order, then servers in back-off, the longest-failed last. Each attempt but the last
   * gets at most `attemptTimeoutMs` of the budget so a hung server leaves time for the next.
   */
  async run<T>(limit: CallContext, work: (server: KmipServer, limit: CallContext) => Promise<T>): Promise<T> {
    const up = this.servers.filter((s) => !s.markedDown);
    const down = this.servers.filter((s) => s.markedDown).sort((a, b) => a.downUntilMs - b.downUntilMs);
    const order = [...up, ...down];
    const failures: string[] = [];
    let timedOut = false;
    for (const [index, server] of order.entries()) {
      const now = Date.now();
      if (now >= limit.deadline || limit.signal.aborted) {
        timedOut = true;
        break;
      }
      const last = index === order.length - 1;
      const deadline = last ? limit.deadline : Math.min(limit.deadline, now + this.#options.attemptTimeoutMs);
      try {
        const result = await work(server, narrowCallContext(limit, deadline));
        if (server.endOutage()) this.#logger.info({ kmipServer: server.id }, 'KMIP server answers again');
        return result;
      } catch (e) {
        if (!isServerFailure(e)) {
          // A KMIP result error is an answer: the server is reachable.
          if (server.endOutage()) this.#logger.info({ kmipServer: server.id }, 'KMIP server answers again');
          throw e;
        }
        server.markDown();
        if (e instanceof KmipTimeoutError) timedOut = true;
        failures.push(`${server.id}: ${reasonOf(e)}`);
        // Once per outage of this server, not per request: under load a dead server would
        // otherwise write a line for every call. "Next one" only when there is one.
        if (server.startOutage()) {
          const next = last ? 'no other KMIP server to try' : 'trying the next one';
          this.#logger.warn(
            { kmipServer: server.id, err: { message: (e as Error).message } },
            `KMIP server failed; ${next} (logged once until it answers again)`,
          );
        }
      }
    }
    const tried = failures.length === 0 ? 'no time left to try a server' : failures.join('; ');
    throw new KmipUnavailableError(`No KMIP server completed the call (${tried}).`, timedOut);
  }

  /** Closes all connections. */
  close(): void {
    for (const server of this.servers) server.close();
  }
}

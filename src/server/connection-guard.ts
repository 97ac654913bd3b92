import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ServerLimits } from '../config/schema.ts';
import { ThrottledWarning } from './throttled-warning.ts';

/** The limit that refused a connection (a metric label). */
export type RefusingLimit = 'maxConnections' | 'maxConnectionsPerPeer';

/**
 * Caps the connections a listener holds: in total (Node's `server.maxConnections`, which
 * closes an excess connection as it is accepted, before TLS) and per client address, so
 * one client cannot take every slot (or every file descriptor) from KMS and the NLB's
 * probes. A refused connection costs an accept and a close; refusals are logged at most
 * once per 10 s with a count ({@link ThrottledWarning}).
 */
export class ConnectionGuard {
  readonly #maxPerPeer: number;
  /** Open connections per remote address; deleted at zero so it holds live peers only. */
  readonly #perPeer = new Map<string, number>();
  readonly #totalRefusals: ThrottledWarning;
  readonly #peerRefusals: ThrottledWarning;
  readonly #maxConnections: number;

  readonly #onRefused: ((limit: RefusingLimit) => void) | undefined;

  /** `onRefused` is told about every refused connection (metrics); it must not throw. */
  constructor(limits: Pick<ServerLimits, 'maxConnections' | 'maxConnectionsPerPeer'>, logger: Logger, onRefused?: (limit: RefusingLimit) => void) {
    this.#onRefused = onRefused;
    this.#maxConnections = limits.maxConnections;
    this.#maxPerPeer = limits.maxConnectionsPerPeer;
    this.#totalRefusals = new ThrottledWarning(logger, 'connection refused: server.limits.maxConnections reached');
    this.#peerRefusals = new ThrottledWarning(logger, 'connection refused: server.limits.maxConnectionsPerPeer reached for this client address');
  }

  /** Connections refused so far because of the total and the per-address limit. */
  get refused(): { total: number; perPeer: number } {
    return { total: this.#totalRefusals.total, perPeer: this.#peerRefusals.total };
  }

  /**
   * Applies the limits to a server that is not yet listening. Call it after the server's
   * own 'connection' listeners exist (HTTP parser, TLS): the per-address check runs in
   * front of them, so a refused connection never gets a TLS socket or a parser.
   */
  attach(server: Server): void {
    server.maxConnections = this.#maxConnections;
    // 'drop': Node closed a connection because maxConnections was reached.
    server.on('drop', (data?: { remoteAddress?: string }) => {
      this.#totalRefusals.hit({ remoteAddress: data?.remoteAddress, maxConnections: this.#maxConnections });
      this.#onRefused?.('maxConnections');
    });
    if (this.#maxPerPeer === 0) return;
    const serve = server.rawListeners('connection') as Array<(socket: Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (!this.#admit(socket)) return;
      for (const listener of serve) listener.call(server, socket);
    });
  }

  /** Counts the connection against its address, or refuses it (false) when that is full. */
  #admit(socket: Socket): boolean {
    // A socket already reset by its client has no address: the server's own handling
    // (which copes with a dead socket) goes ahead, nothing to count.
    const peer = socket.remoteAddress;
    if (peer === undefined) return true;
    const open = this.#perPeer.get(peer) ?? 0;
    if (open >= this.#maxPerPeer) {
      this.#peerRefusals.hit({ remoteAddress: peer, maxConnectionsPerPeer: this.#maxPerPeer });
      this.#onRefused?.('maxConnectionsPerPeer');
      socket.destroy();
      return false;
    }
    this.#perPeer.set(peer, open + 1);
    socket.once('close', () => {
      const left = (this.#perPeer.get(peer) ?? 1) - 1;
      if (left <= 0) this.#perPeer.delete(peer);
      else this.#perPeer.set(peer, left);
    });
    return true;
  }
}

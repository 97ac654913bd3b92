import net from 'node:net';
import type { LoadedConfig } from '../config/load-config.ts';

/** Where the configured listener is and whether something accepts connections there. */
export interface ListenerTarget {
  host: string;
  port: number;
  /** `listener host:port`, the subject of the lines about it. */
  label: string;
  /** False when nothing accepts TCP connections at that address. */
  running: boolean;
}

/**
 * Finds the listener KMS (or the load balancer) connects to: --listener, else server.host
 * and server.port of the config. The doctor never serves the certificate on a port of its
 * own: a listener that is down is a failure, and the certificate file is then checked as a
 * file (tls-file-check.ts). Returns undefined when the config has no TLS.
 */
export async function listenerTarget(loaded: LoadedConfig, listener: string | undefined): Promise<ListenerTarget | undefined> {
  const server = loaded.config.server;
  if (server.tls === undefined) return undefined;
  const { host, port } = parseListener(listener, server.host, server.port);
  return { host, port, label: `listener ${host.includes(':') ? `[${host}]` : host}:${port}`, running: await accepts(host, port) };
}

/** Host and port to connect to: a wildcard bind address is reached through loopback. */
function parseListener(listener: string | undefined, host: string, port: number): { host: string; port: number } {
  if (listener !== undefined) {
    const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listener);
    if (match === null) throw new Error(`--listener must be host:port, got "${listener}"`);
    return { host: match[1]!, port: Number(match[2]) };
  }
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return { host: reachable, port };
}

/** True when something accepts TCP connections there within a second (port 0 never does). */
function accepts(host: string, port: number): Promise<boolean> {
  if (port === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

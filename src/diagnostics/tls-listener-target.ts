import net from 'node:net';
import { Hono } from 'hono';
import { pino } from 'pino';
import type { LoadedConfig } from '../config/load-config.ts';
import { startListener } from '../server/listener.ts';
import type { TlsProbeTarget } from './tls-probe.ts';

/** The TLS endpoint the doctor probes for the local listener, and how it got it. */
export interface ListenerTarget {
  target: TlsProbeTarget;
  label: string;
  /** Said on the handshake line when the doctor probes a temporary listener. */
  note?: string;
  /** Stops the temporary listener, if one was started. */
  close(): Promise<void>;
}

/** How to reach the running proxy. */
export interface ListenerTargetOptions {
  /** `host:port` of the running listener; default: server.host and server.port of the config. */
  listener?: string;
  clientCert?: Buffer;
  clientKey?: Buffer;
  /** SNI name to send. */
  servername?: string;
}

/**
 * Finds the listener to probe. The doctor prefers the running proxy, so it sees what KMS
 * would see. When nothing runs there, or the listener demands a client certificate the
 * doctor does not have (mTLS), it serves the configured certificate and key through the
 * same listener code on a temporary loopback port and probes that instead, and says so.
 * Returns undefined when the config has no TLS.
 */
export async function listenerTarget(loaded: LoadedConfig, opts: ListenerTargetOptions = {}): Promise<ListenerTarget | undefined> {
  const server = loaded.config.server;
  if (server.tls === undefined) return undefined;
  const { host, port } = parseListener(opts.listener, server.host, server.port);
  const where = `${host}:${port}`;
  const base = { servername: opts.servername, ...(opts.clientCert ? { clientCert: opts.clientCert, clientKey: opts.clientKey } : {}) };
  const needsClientCert = server.tls.mtls !== undefined && opts.clientCert === undefined;
  if (!needsClientCert && (await accepts(host, port))) {
    return { target: { host, port, ...base }, label: `listener ${where}`, close: async () => {} };
  }
  const tls = needsClientCert ? { cert: server.tls.cert, key: server.tls.key } : server.tls;
  const temporary = await startListener(new Hono(), { ...server, host: '127.0.0.1', port: 0, tls }, {
    logger: pino({ level: 'silent' }),
    configDir: loaded.configDir,
  });
  const note = needsClientCert
    ? `the listener requires a client certificate (mTLS), so a temporary copy without mTLS on 127.0.0.1:${temporary.address.port} was checked; pass --client-cert/--client-key to check the running one`
    : `nothing runs at ${where}, so the configured certificate was served and checked on temporary port 127.0.0.1:${temporary.address.port}`;
  return {
    target: { host: '127.0.0.1', port: temporary.address.port, ...base },
    label: `listener ${where}`,
    note,
    close: () => temporary.close(),
  };
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

/** True when something accepts TCP connections there within a second. */
function accepts(host: string, port: number): Promise<boolean> {
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

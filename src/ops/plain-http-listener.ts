import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A started plain-HTTP side listener (metrics, admin). */
export interface PlainHttpListener {
  /** `http://host:port`, with IPv6 hosts in brackets. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts `server` on host:port and resolves once it listens (a bind failure rejects). The
 * side listeners answer short GETs from scrapers and probes, so keep-alive is short, and
 * closing drops idle keep-alive connections instead of waiting for their timeout.
 */
export async function listenPlainHttp(server: http.Server, at: { host: string; port: number; exclusive?: boolean }): Promise<PlainHttpListener> {
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: at.port, host: at.host, exclusive: at.exclusive ?? false }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

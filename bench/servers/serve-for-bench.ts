/**
 * What every stand-in bench server does around its request handler: listen on loopback,
 * print the ready line the bench runner waits for, and exit cleanly on SIGTERM.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listens on 127.0.0.1 at the port given as the first argument (0, any free port, if none),
 * with the proxy's keep-alive timeout (src/server/listener.ts) so connection reuse matches,
 * then prints `{"msg":"bench server listening","url",...,"pid"}`; SIGTERM closes and exits 0.
 */
export function serveForBench(server: http.Server): void {
  server.keepAliveTimeout = 65_000;
  server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ msg: 'bench server listening', url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
  });
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

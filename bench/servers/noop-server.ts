/**
 * A server that does as little as node:http allows: it drains the body and writes a fixed
 * JSON reply. The load generator's rate against it shows what the client itself can drive
 * on this machine, i.e. whether the client, not the server under test, is the bottleneck.
 * Run: node bench/servers/noop-server.ts [port]   (plain JavaScript-compatible TypeScript)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const reply = Buffer.from('{"ok":true}');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length });
    res.end(reply);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'bench server listening', url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

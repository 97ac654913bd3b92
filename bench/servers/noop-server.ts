/**
 * A server that does as little as node:http allows: it drains the body and writes a fixed
 * JSON reply. The load generator's rate against it shows what the client itself can drive
 * on this machine, i.e. whether the client, not the server under test, is the bottleneck.
 * Run: node --import tsx bench/servers/noop-server.ts [port]
 */
import http from 'node:http';
import { serveForBench } from './serve-for-bench.ts';

const reply = Buffer.from('{"ok":true}');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length });
    res.end(reply);
  });
});
serveForBench(server);

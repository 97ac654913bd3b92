/**
 * The HTTP-layer ceiling: a bare Hono app on the proxy's server stack (@hono/node-server's
 * getRequestListener on node:http, same keep-alive setting) that parses a JSON POST and
 * answers a small JSON object. No SigV4, no crypto, no logging.
 * Run: node --import tsx bench/servers/baseline-server.ts [port]
 */
import http from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { serveForBench } from './serve-for-bench.ts';

const app = new Hono();
app.post('/echo', async (c) => {
  const body = await c.req.json<Record<string, unknown>>();
  return c.json({ ok: true, fields: Object.keys(body).length });
});

// Wrapped as the proxy's listener wraps it (src/server/listener.ts), so the ratio stays fair.
const handle = getRequestListener((request, env) => app.fetch(request, env));
const server = http.createServer((req, res) => void handle(req, res));
serveForBench(server);

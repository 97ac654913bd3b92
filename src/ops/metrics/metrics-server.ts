import http from 'node:http';
import type { Logger } from 'pino';
import { listenPlainHttp } from '../plain-http-listener.ts';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus-text.ts';

/** A running metrics listener. */
export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics on its own listener, so the XKS port (exposed to KMS through the
 * NLB) never answers anything but the XKS API, ping and readiness, and the metrics port
 * can stay on a private interface.
 */
export async function startMetricsServer(
  render: () => Promise<string>,
  opts: { host: string; port: number; path: string; logger: Logger; exclusive?: boolean },
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== opts.path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; metrics are at GET ${opts.path}\n`);
      return;
    }
    render().then(
      (text) => res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(text),
      (e: unknown) => {
        opts.logger.error({ err: (e as Error).message }, 'metrics render failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  const listener = await listenPlainHttp(server, opts);
  const url = `${listener.url}${opts.path}`;
  opts.logger.info({ url }, 'metrics listening');
  return { url, close: () => listener.close() };
}

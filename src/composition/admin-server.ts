import http from 'node:http';
import type { Logger } from 'pino';
import { isLoopbackAddress, tokenMatches } from '../diagnostics/status-routes.ts';
import { listenPlainHttp } from '../ops/plain-http-listener.ts';

/** What the admin listener answers; the single process and the cluster primary supply these. */
export interface AdminViews {
  /** `GET /ready`: ready when every key store (of every worker) has a usable key manager. */
  ready(): Promise<{ ready: boolean }>;
  /** `GET /status`: the status view (merged across workers under `serve --workers N`). */
  status(): Promise<object>;
}

/** A running admin listener. */
export interface AdminServer {
  /** Base URL, e.g. http://127.0.0.1:9480 */
  url: string;
  close(): Promise<void>;
}

/** Headers a reverse proxy adds: a loopback peer that forwards for someone else is not local. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

/**
 * The admin listener (config `admin:`): GET /ping, /ready and /status on plain HTTP, apart
 * from the XKS listener. With mTLS on the XKS listener only AWS holds a client certificate
 * it accepts, so a container HEALTHCHECK, a load balancer probe on another port and
 * `xks-proxy status` could not reach these there (issue 21 item 1). /status names
 * credentials and failure reasons: loopback clients or holders of `admin.token` only.
 */
export async function startAdminServer(views: AdminViews, opts: { host: string; port: number; token?: string; logger: Logger }): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'the admin listener answers GET /ping, /ready and /status' });
    if (path === '/ping') return send(200, { status: 'ok' });
    if (path === '/ready') {
      views.ready().then(
        (r) => send(r.ready ? 200 : 503, r),
        (e: unknown) => send(503, { ready: false, error: (e as Error).message }),
      );
      return;
    }
    if (path === '/status') {
      const local = isLoopbackAddress(req.socket.remoteAddress) && FORWARDING_HEADERS.every((h) => req.headers[h] === undefined);
      const authorized = opts.token !== undefined && tokenMatches(req.headers.authorization, opts.token);
      if (!local && !authorized) return send(403, { error: 'the status view is served only to loopback clients (or with the admin.token bearer token)' });
      views.status().then(
        (s) => send(200, s),
        (e: unknown) => {
          opts.logger.error({ err: (e as Error).message }, 'admin status view failed');
          send(500, { error: 'the status view failed; the proxy log says why' });
        },
      );
      return;
    }
    send(404, { error: 'not found; the admin listener answers GET /ping, /ready and /status' });
  });
  const listener = await listenPlainHttp(server, opts);
  opts.logger.info({ url: listener.url, paths: ['/ping', '/ready', '/status'] }, 'admin listening');
  return listener;
}

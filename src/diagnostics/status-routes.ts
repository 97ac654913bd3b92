import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { Hono, type Context } from 'hono';
import type { StatusTracker } from '../server/status-tracker.ts';
import type { TenantDirectory } from '../xks/tenants.ts';
import { renderStatus, type StatusSources } from './status-report.ts';

/** Who may read the status view. */
export interface StatusRouteOptions extends StatusSources {
  /** Bearer token that also admits non-loopback clients; without it only loopback clients are served. */
  token?: string;
}

/** Headers a reverse proxy adds: a loopback peer that forwards for someone else is not local. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'];

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined || isIP(address) === 0) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

function remoteAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * `GET /status`: the status view as JSON. It names credentials, prefixes and failure
 * reasons, so it is served only to clients on this host (the socket's peer is loopback and
 * no forwarding header says it relays someone else) or to holders of the bearer token.
 * Mount it before the XKS catch-all route.
 */
export function statusRoutes(tracker: StatusTracker, tenants: TenantDirectory, opts: StatusRouteOptions): Hono {
  const app = new Hono();
  app.get('/status', async (c) => {
    const local = isLoopbackAddress(remoteAddress(c)) && FORWARDING_HEADERS.every((h) => c.req.header(h) === undefined);
    const authorized = opts.token !== undefined && tokenMatches(c.req.header('authorization'), opts.token);
    if (!local && !authorized) {
      return c.json({ error: 'the status view is served only to loopback clients (or with the status bearer token)' }, 403);
    }
    c.header('Cache-Control', 'no-store');
    return c.json(await renderStatus(tracker, tenants.all(), opts));
  });
  return app;
}

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import pg from 'pg';
import { PACKAGE_VERSION as PROXY_VERSION } from '../../../package-root.ts';

/**
 * This process as a member of the fleet: one id per process (a `serve --workers N` proxy
 * is N members), made once at start-up.
 */
export const PROXY_IDENTITY = { proxyId: randomUUID(), host: hostname(), pid: process.pid, version: PROXY_VERSION, startedAt: new Date() };

/** What a proxy reports about the keys it serves. */
export interface LoadedKeyStats {
  keys: number;
  versions: number;
  /** Digest of every key id, state and current version (equal digests: same key state). */
  digest: string;
}

/** One row of the fleet table. */
export interface FleetMember {
  proxyId: string;
  host: string;
  pid: number;
  version: string;
  startedAt: string;
  lastSeen: string;
  /** Seconds since the last heartbeat, by the database's clock. */
  ageSeconds: number;
  live: boolean;
  keysLoaded: number;
  versionsLoaded: number;
  keysDigest: string;
}

/**
 * Writes this proxy's heartbeat row every `everyMs` and counts the live members (rows seen
 * within `liveSeconds`, by the database's clock, so proxy clocks do not matter). A failed
 * beat keeps the last count: an outage must not make the fleet look smaller to KMS.
 */
export class PgHeartbeat {
  readonly #pool: pg.Pool;
  readonly #s: string;
  readonly #everyMs: number;
  readonly #liveSeconds: number;
  readonly #stats: () => LoadedKeyStats | undefined;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #live: number | undefined;
  #beating: Promise<void> | undefined;

  constructor(pool: pg.Pool, schema: string, opts: { everyMs: number; liveSeconds: number; stats: () => LoadedKeyStats | undefined; log: Logger }) {
    this.#pool = pool;
    this.#s = pg.escapeIdentifier(schema);
    this.#everyMs = opts.everyMs;
    this.#liveSeconds = opts.liveSeconds;
    this.#stats = opts.stats;
    this.#log = opts.log;
  }

  /** Live members at the last successful beat (this proxy included), undefined before the first. */
  get liveCount(): number | undefined {
    return this.#live;
  }

  /** Beats now, then every `everyMs`. */
  start(): void {
    this.#timer = setInterval(() => void this.beat(), this.#everyMs);
    this.#timer.unref();
    void this.beat();
  }

  /** One heartbeat (coalesced with one in progress). */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    const stats = this.#stats();
    if (stats === undefined) return;
    const id = PROXY_IDENTITY;
    try {
      await this.#pool.query(
        `INSERT INTO ${this.#s}.proxies (proxy_id, host, pid, version, started_at, last_seen, keys_loaded, versions_loaded, keys_digest)
         VALUES ($1, $2, $3, $4, $5, now(), $6, $7, $8)
         ON CONFLICT (proxy_id) DO UPDATE SET last_seen = now(), keys_loaded = $6, versions_loaded = $7, keys_digest = $8`,
        [id.proxyId, id.host, id.pid, id.version, id.startedAt, stats.keys, stats.versions, stats.digest],
      );
      const r = await this.#pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.#s}.proxies WHERE last_seen > now() - make_interval(secs => $1)`, [
        this.#liveSeconds,
      ]);
      this.#live = Number(r.rows[0]!.n);
    } catch (e) {
      // The change listener logs the outage once; a beat failing with it is expected.
      this.#log.debug({ err: (e as Error).message }, 'heartbeat failed');
    }
  }

  /** Stops beating and removes this proxy's row, so the fleet shrinks at once on a clean stop. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beating?.catch(() => undefined);
    await this.#pool.query(`DELETE FROM ${this.#s}.proxies WHERE proxy_id = $1`, [PROXY_IDENTITY.proxyId]).catch(() => undefined);
  }
}

/** Every member row, newest first, with liveness by the database's clock; rows dead for a day are pruned. */
export async function listFleet(pool: pg.Pool, schema: string, liveSeconds: number): Promise<FleetMember[]> {
  const s = pg.escapeIdentifier(schema);
  await pool.query(`DELETE FROM ${s}.proxies WHERE last_seen < now() - interval '1 day'`);
  const r = await pool.query<{
    proxy_id: string;
    host: string;
    pid: number;
    version: string;
    started_at: Date;
    last_seen: Date;
    age: number;
    keys_loaded: number;
    versions_loaded: number;
    keys_digest: string;
  }>(`SELECT *, extract(epoch FROM now() - last_seen)::float8 AS age FROM ${s}.proxies ORDER BY last_seen DESC, proxy_id`);
  return r.rows.map((row) => ({
    proxyId: row.proxy_id,
    host: row.host,
    pid: row.pid,
    version: row.version,
    startedAt: row.started_at.toISOString(),
    lastSeen: row.last_seen.toISOString(),
    ageSeconds: Math.max(0, Math.round(row.age * 10) / 10),
    live: row.age < liveSeconds,
    keysLoaded: row.keys_loaded,
    versionsLoaded: row.versions_loaded,
    keysDigest: row.keys_digest,
  }));
}

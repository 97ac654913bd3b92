import pg from 'pg';
import { loadConfigFile } from '../config/load-config.ts';
import { pgConnection } from '../providers/software/pg/pg-connection.ts';
import { listFleet, type FleetMember } from '../providers/software/pg/pg-heartbeat.ts';
import { tableLines } from './text-table.ts';

/** The fleet of one PostgreSQL-backed key store, as `status --fleet` shows it. */
export interface FleetReport {
  prefix: string;
  store: string;
  liveSeconds: number;
  members: FleetMember[];
}

/** Reads the heartbeat table of every key store in the config whose keys live in PostgreSQL. */
export async function readFleet(configPath: string, env: NodeJS.ProcessEnv = process.env): Promise<FleetReport[]> {
  const { config, configDir, file } = await loadConfigFile(configPath);
  const reports: FleetReport[] = [];
  const seen = new Set<string>();
  for (const ks of config.keyStores) {
    if (ks.provider.type !== 'software' || ks.provider.store?.postgres === undefined) continue;
    const pgConfig = ks.provider.store.postgres;
    const conn = pgConnection(pgConfig, configDir, env, `keyStores[prefix="${ks.prefix}"].provider.store.postgres`);
    // Key stores sharing one schema share one fleet: show it once.
    if (seen.has(conn.where)) continue;
    seen.add(conn.where);
    const pool = new pg.Pool({ ...conn.client, max: 1 });
    pool.on('error', () => undefined);
    try {
      reports.push({
        prefix: ks.prefix,
        store: conn.where,
        liveSeconds: pgConfig.liveSeconds,
        members: await listFleet(pool, pgConfig.schema, pgConfig.liveSeconds),
      });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      throw new Error(
        `cannot read the fleet from ${conn.where}: ${err.code === '42P01' ? 'no heartbeat table (run "xks-proxy keys init" to create or migrate the schema)' : (err.message ?? String(e))}`,
      );
    } finally {
      await pool.end().catch(() => undefined);
    }
  }
  if (reports.length === 0) throw new Error(`config ${file} has no key store on a PostgreSQL store (provider.store.postgres); --fleet needs one`);
  return reports;
}

/** Renders the fleet as text: one table per store and whether the live proxies agree on the keys. */
export function formatFleet(reports: readonly FleetReport[]): string {
  const out: string[] = [];
  for (const r of reports) {
    const live = r.members.filter((m) => m.live);
    const digests = new Set(live.map((m) => m.keysDigest));
    out.push(`${r.store} (key store "${r.prefix}"): ${live.length} live prox${live.length === 1 ? 'y' : 'ies'} (heartbeat within ${r.liveSeconds} s)`);
    if (live.length > 1)
      out.push(
        digests.size === 1
          ? 'all live proxies serve the same key state'
          : `live proxies serve ${digests.size} different key states: a change has not reached all of them yet`,
      );
    const rows = [
      ['PROXY', 'HOST', 'PID', 'VERSION', 'STARTED', 'LAST SEEN', 'STATE', 'KEYS', 'VERSIONS', 'KEY STATE'],
      ...r.members.map((m) => [
        m.proxyId.slice(0, 8),
        m.host,
        String(m.pid),
        m.version,
        m.startedAt,
        `${m.ageSeconds}s ago`,
        m.live ? 'live' : 'gone',
        String(m.keysLoaded),
        String(m.versionsLoaded),
        m.keysDigest,
      ]),
    ];
    if (r.members.length === 0) out.push('(no proxy has sent a heartbeat)');
    else out.push(...tableLines(rows));
    out.push('');
  }
  return out.join('\n');
}

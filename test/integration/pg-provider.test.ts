/**
 * The software keystore served from memory over a real PostgreSQL store: changes arrive by
 * LISTEN/NOTIFY, a reconnect re-reads everything, an outage keeps the held keys serving
 * (DEGRADED, one log line each way), and heartbeats count the fleet.
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallContext } from '../../src/xks/key-provider-port.ts';
import { PgKeystore } from '../../src/providers/software/pg/pg-keystore.ts';
import { pgStoreConfigSchema } from '../../src/providers/software/pg/pg-store-config.ts';
import type { SoftwareProviderConfig } from '../../src/providers/software/software-config.ts';
import { createSoftwareProvider } from '../../src/providers/software/software-provider.ts';
import { isXksError } from '../../src/xks/errors.ts';
import { rawKekSecret } from '../support/software-keystore-fixture.ts';
import { startTestPg, type TestPg } from '../support/postgres.ts';

let db: TestPg;
const kek = rawKekSecret();
const ctx = (ms = 2000): CallContext => ({ deadline: Date.now() + ms, signal: AbortSignal.timeout(ms) });

function capture() {
  const lines: { msg: string; level: number }[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

function providerConfig(schema: string, extra: Record<string, unknown> = {}): SoftwareProviderConfig {
  return { type: 'software', kek: kek.kek, store: { postgres: pgStoreConfigSchema.parse({ url: db.url, schema, ...extra }) } };
}

async function newStore(schema: string): Promise<PgKeystore> {
  const s = new PgKeystore({ where: schema, client: { connectionString: db.url } }, schema, kek, 2);
  await s.init();
  return s;
}

/** Polls `check` every 20 ms until it is true or `ms` pass; returns the time it took. */
async function within(ms: number, check: () => Promise<boolean> | boolean): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function errorName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return isXksError(e) ? e.errorName : String(e);
  }
}

beforeAll(async () => {
  db = await startTestPg();
}, 120_000);
afterAll(async () => {
  await db?.destroy();
});

describe('software keystore provider on PostgreSQL', { timeout: 120_000 }, () => {
  it('applies a rotation, a disable and a new key from another admin within one second, without a request waiting for the database', async () => {
    const store = await newStore('notify_test');
    await store.createKey('foo', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true });
    const { logger } = capture();
    const provider = createSoftwareProvider(providerConfig('notify_test'), { logger, configDir: '/', env: {} });
    try {
      await provider.init();
      expect((await provider.describe('foo', ctx())).currentVersion).toBe(1);
      await store.rotateKey('foo');
      await within(1000, async () => (await provider.describe('foo', ctx())).currentVersion === 2);
      await store.setKeyEnabled('foo', false);
      await within(1000, async () => (await provider.describe('foo', ctx())).enabled === false);
      await store.createKey('bar', { usages: ['ENCRYPT'], enabled: true });
      // Known only by notification: the lookup below must not have to ask the database.
      await within(
        1000,
        async () => (await errorName(provider.describe('bar', { deadline: Date.now(), signal: new AbortController().signal }))) === 'no error',
      );
    } finally {
      await provider.close();
      await store.close();
    }
  });

  it('re-reads every key after a reconnect, so a change made while the listener was away is not lost', async () => {
    const store = await newStore('reconnect_test');
    await store.createKey('foo', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true });
    const { logger } = capture();
    const provider = createSoftwareProvider(
      providerConfig('reconnect_test'),
      { logger, configDir: '/', env: {} },
      { pg: { listener: { minBackoffMs: 1500, maxBackoffMs: 1500 } } },
    );
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await provider.init();
      // Cut the LISTEN connection and rotate while it is away: the notification is lost.
      const cut = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND application_name = 'xks-proxy'`);
      expect(cut.rowCount).toBe(1);
      await store.rotateKey('foo');
      await new Promise((r) => setTimeout(r, 300));
      expect((await provider.describe('foo', ctx())).currentVersion).toBe(1);
      await within(5000, async () => (await provider.describe('foo', ctx())).currentVersion === 2);
    } finally {
      await admin.end();
      await provider.close();
      await store.close();
    }
  });

  it('keeps serving held keys through a database outage: DEGRADED, one log line down and one up, unknown keys refused at once', async () => {
    const store = await newStore('outage_test');
    await store.createKey('foo', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true });
    await store.close();
    const { logger, lines } = capture();
    const provider = createSoftwareProvider(
      providerConfig('outage_test'),
      { logger, configDir: '/', env: {} },
      { pg: { listener: { minBackoffMs: 100, maxBackoffMs: 400, probeMs: 500 } } },
    );
    try {
      await provider.init();
      expect((await provider.health(ctx()))[0]!.healthStatus).toBe('ACTIVE');
      const before = await provider.encrypt({ keyId: 'foo', version: 1 }, Buffer.from('hello'), Buffer.alloc(0), ctx());

      await db.stop();
      await within(5000, async () => (await provider.health(ctx()))[0]!.healthStatus === 'DEGRADED');
      const health = (await provider.health(ctx()))[0]!;
      expect(health.detail).toMatch(/^serving the keys loaded at .*; database PostgreSQL .* unreachable since .*; changes are not seen until it returns$/);
      // Many requests while it is down: every one served from memory, fast.
      for (let i = 0; i < 50; i++) {
        const out = await provider.encrypt({ keyId: 'foo', version: 1 }, Buffer.from(`m${i}`), Buffer.alloc(0), ctx());
        expect(Buffer.from(await provider.decrypt({ keyId: 'foo', version: 1 }, out, Buffer.alloc(0), ctx())).toString()).toBe(`m${i}`);
      }
      expect(Buffer.from(await provider.decrypt({ keyId: 'foo', version: 1 }, before, Buffer.alloc(0), ctx())).toString()).toBe('hello');
      // A key never seen: the proxy cannot tell "no such key" from "not seen yet", so it
      // answers the outage (InternalException, as for an unreadable keystore file) at once,
      // never KeyNotFoundException.
      const t = Date.now();
      expect(await errorName(provider.describe('never-seen', ctx()))).toBe('InternalException');
      expect(Date.now() - t).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 1500)); // several reconnect attempts fail meanwhile

      await db.start();
      await within(10_000, async () => (await provider.health(ctx()))[0]!.healthStatus === 'ACTIVE');
      const down = lines.filter((l) => /cannot be refreshed|unreachable/.test(l.msg));
      const up = lines.filter((l) => /readable again|reachable again/.test(l.msg));
      expect(down).toHaveLength(1);
      expect(up).toHaveLength(1);
      // And changes flow again.
      const again = await newStore('outage_test');
      await again.rotateKey('foo');
      await again.close();
      await within(1000, async () => (await provider.describe('foo', ctx())).currentVersion === 2);
    } finally {
      await provider.close();
    }
  });

  it('counts live proxies by heartbeat: two providers see a fleet of 2, then 1 after one stops', async () => {
    const store = await newStore('fleet_test');
    await store.close();
    const cfg = providerConfig('fleet_test', { heartbeatSeconds: 1, liveSeconds: 3 });
    const a = createSoftwareProvider(cfg, { logger: capture().logger, configDir: '/', env: {} });
    const b = createSoftwareProvider(cfg, { logger: capture().logger, configDir: '/', env: {} });
    try {
      await a.init();
      await b.init();
      // Both run in this one process, so they share a proxy id: one member. A second
      // process id is simulated by the row another process would write.
      await within(3000, () => a.liveFleetSize?.() === 1);
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      await admin.query(`INSERT INTO fleet_test.proxies VALUES ('other-process', 'h2', 2, '0', now(), now(), 0, 0, 'x')`);
      await within(3000, () => a.liveFleetSize?.() === 2);
      // The other process stops beating: after liveSeconds it no longer counts.
      await within(6000, () => a.liveFleetSize?.() === 1);
      await admin.end();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

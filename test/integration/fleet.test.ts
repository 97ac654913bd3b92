/**
 * The fleet as `npm run demo:fleet` runs it (PostgreSQL, three proxy processes, HAProxy with
 * a /ping health check), all on loopback, under a steady load of >= 300 req/s through the
 * balancer: a CLI rotation reaches every proxy within a second, a SIGKILLed proxy costs
 * requests only until its health check notices, a PostgreSQL restart costs none, every
 * ciphertext made decrypts through every proxy, and the database holds no key bytes.
 * Bounded: about a minute, then everything stops.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortRun, startFleetDemo, type FleetDemo } from '../../src/cli/fleet-demo.ts';
import { findPgBinDir } from '../../src/providers/software/pg/pg-local-cluster.ts';
import { PgKeystore } from '../../src/providers/software/pg/pg-keystore.ts';
import { zeroContents } from '../../src/providers/software/software-keystore-contents.ts';
import { decodeCiphertextMetadata } from '../../src/xks/ciphertext-metadata.ts';
import { runKeysCli } from '../support/run-keys-cli.ts';
import { decryptRequestBody, DEMO_PREFIX, encryptRequestBody, signXks, xksPath, type EncryptResponseJson } from '../support/xks-client.ts';

const DEMO_PASSPHRASE = 'demo-passphrase-this-is-not-a-secret';
const RATE = 320; // requests per second through the balancer
const TICK_MS = 25;

let dataDir: string;
let fleet: FleetDemo;
const agent = new Agent({ connections: 48, keepAliveTimeout: 10_000 });

interface Sent {
  t: number;
  phase: string;
  ok: boolean;
  why?: string;
  enc?: EncryptResponseJson;
  plaintext?: string;
}

async function xks(
  baseUrl: string,
  op: 'encrypt' | 'decrypt',
  body: Record<string, unknown>,
  keyId = 'foo',
): Promise<{ status: number; json: EncryptResponseJson }> {
  const path = xksPath(DEMO_PREFIX, op, keyId);
  const text = JSON.stringify(body);
  const res = await request(`${baseUrl}${path}`, {
    method: 'POST',
    dispatcher: agent,
    headers: signXks(path, text, { host: new URL(baseUrl).host }),
    body: text,
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  const raw = await res.body.text();
  let json: EncryptResponseJson;
  try {
    json = JSON.parse(raw) as EncryptResponseJson;
  } catch {
    json = { errorName: `non-JSON HTTP ${res.statusCode}: ${raw.slice(0, 60)}` };
  }
  return { status: res.statusCode, json };
}

const versionOf = (enc: EncryptResponseJson) => decodeCiphertextMetadata(Buffer.from(enc.ciphertextMetadata as string, 'base64'))?.keyVersion;

/** Open-loop load through the balancer: RATE encrypts per second whatever the answers take. */
function startLoad(url: string) {
  const sent: Sent[] = [];
  let phase = 'warm-up';
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const start = Date.now();
  // Requests are due by the clock, not by ticks: a tick delayed by a busy event loop sends
  // what is due, so the rate holds on average.
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - start) * RATE) / 1000) - sent.length;
    for (let n = 0; n < due; n++) {
      const entry: Sent = { t: Date.now(), phase, ok: false };
      sent.push(entry);
      const plaintext = randomBytes(24).toString('base64');
      inFlight++;
      const p = xks(url, 'encrypt', encryptRequestBody(plaintext))
        .then(({ status, json }) => {
          entry.ok = status === 200;
          if (entry.ok) Object.assign(entry, { enc: json, plaintext });
          else entry.why = `HTTP ${status} ${json.errorName as string}`;
        })
        .catch((e: Error & { code?: string }) => {
          entry.why = e.code ?? e.message;
        })
        .finally(() => {
          inFlight--;
          pending.delete(p);
        });
      pending.add(p);
    }
  }, TICK_MS);
  return {
    sent,
    setPhase: (p: string) => (phase = p),
    inFlight: () => inFlight,
    stop: async () => {
      clearInterval(timer);
      await Promise.all([...pending]);
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'xks-fleet-'));
  fleet = await startFleetDemo({
    port: await freePortRun(),
    dataDir,
    throwaway: true,
    proxyEntry: ['--import', 'tsx', fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))],
    storeOverrides: { heartbeatSeconds: 1, liveSeconds: 3 },
  });
}, 180_000);

afterAll(async () => {
  await fleet?.stop();
  await agent.close();
  await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('fleet: three proxies on one PostgreSQL store behind HAProxy', () => {
  it('rotates everywhere within a second, survives a killed proxy and a database restart under load, and decrypts everything everywhere', async () => {
    const report: string[] = [];
    const load = startLoad(fleet.url);
    let killedAt = 0;
    try {
      try {
        await sleep(3000);

        // 1. Rotation from the CLI, as an admin would run it against the demo's config.
        load.setPhase('rotation');
        const rotated = await runKeysCli(['rotate', 'foo', '--config', fleet.configPath], { cwd: dataDir });
        expect(rotated.stderr).toBe('');
        const newVersion = Number(/version (\d+) now encrypts/.exec(rotated.stdout)![1]);
        const committedAt = Date.now(); // the CLI exits after the commit
        const seenAfter = await Promise.all(
          fleet.proxies.map(async (p) => {
            for (;;) {
              const { status, json } = await xks(p.url, 'encrypt', encryptRequestBody('probe'));
              if (status === 200 && versionOf(json) === newVersion) return Date.now() - committedAt;
              if (Date.now() - committedAt > 5000) return Infinity;
              await sleep(25);
            }
          }),
        );
        report.push(`rotation to version ${newVersion} seen by the proxies after ${seenAfter.join(', ')} ms (after the CLI exited)`);
        for (const ms of seenAfter) expect(ms).toBeLessThanOrEqual(1000);

        // 2. SIGKILL one proxy; the balancer's health check (every 500 ms, 2 failures) takes it out.
        await sleep(1000);
        load.setPhase('kill');
        killedAt = Date.now();
        fleet.proxies[2]!.child.kill('SIGKILL');
        await sleep(4000);
        load.setPhase('restart-proxy');
        await fleet.restartProxy(2);
        await sleep(1500);

        // 3. Restart PostgreSQL: the proxies serve foo from memory throughout.
        load.setPhase('pg-restart');
        await fleet.pg.cluster.stop();
        await sleep(3000);
        await fleet.pg.cluster.start();
        await sleep(3000);
        load.setPhase('after');
        await sleep(1000);
      } finally {
        await load.stop();
      }
      // Judged once every request has its answer.
      const killPhase = load.sent.filter((s) => s.phase === 'kill');
      const killFailed = killPhase.filter((s) => !s.ok);
      const reasons = new Map<string, number>();
      for (const f of killFailed) reasons.set(f.why ?? '?', (reasons.get(f.why ?? '?') ?? 0) + 1);
      report.push(
        `SIGKILL of proxy 3: ${killFailed.length} of ${killPhase.length} requests failed in the 4 s after it${killFailed.length > 0 ? ` (${[...reasons].map(([r, n]) => `${n} x ${r}`).join(', ')}; last sent at +${Math.max(...killFailed.map((f) => f.t - killedAt))} ms)` : ''}`,
      );
      // Once the health check has noticed (2 x 500 ms, plus slack), nothing fails.
      expect(killPhase.filter((s) => s.t - killedAt > 2500 && !s.ok).map((s) => s.why)).toEqual([]);
      const pgPhase = load.sent.filter((s) => s.phase === 'pg-restart');
      report.push(`PostgreSQL restart (3 s down): ${pgPhase.filter((s) => !s.ok).length} of ${pgPhase.length} requests failed`);
      expect(pgPhase.filter((s) => !s.ok).map((s) => s.why)).toEqual([]);
      const first = load.sent[0]!.t;
      const last = load.sent[load.sent.length - 1]!.t;
      const rate = load.sent.length / ((last - first) / 1000);
      report.push(
        `load: ${load.sent.length} requests in ${((last - first) / 1000).toFixed(1)} s = ${rate.toFixed(0)} req/s through HAProxy; ${load.sent.filter((s) => !s.ok).length} failed in all`,
      );
      expect(rate).toBeGreaterThanOrEqual(300);
      // Outside the kill window nothing failed at all.
      expect(load.sent.filter((s) => !s.ok && s.phase !== 'kill').map((s) => `${s.phase}: ${s.why}`)).toEqual([]);

      // 4. Every ciphertext made during the run decrypts through every proxy (the restarted one too).
      const made = load.sent.filter((s) => s.ok);
      const versions = new Set(made.map((s) => versionOf(s.enc!)));
      expect(versions.size).toBe(2);
      let failures = 0;
      for (const p of fleet.proxies) {
        for (let i = 0; i < made.length; i += 48) {
          await Promise.all(
            made.slice(i, i + 48).map(async (s) => {
              const { status, json } = await xks(p.url, 'decrypt', decryptRequestBody(s.enc!));
              if (status !== 200 || Buffer.from(String(json.plaintext), 'base64').toString('utf8') !== s.plaintext) failures++;
            }),
          );
        }
      }
      report.push(`decrypted ${made.length} ciphertexts (key versions ${[...versions].join(', ')}) through each of the 3 proxies: ${failures} failures`);
      expect(failures).toBe(0);

      // 5. The database never holds a key in clear: scan a full dump for the raw bytes.
      const store = new PgKeystore(
        { where: 'fleet', client: { connectionString: fleet.pg.cluster.url } },
        fleet.pg.store.schema,
        { passphrase: DEMO_PASSPHRASE },
        1,
      );
      const contents = await store.loadAll();
      const secrets = [contents.canary.expose(), ...[...contents.keys.values()].flatMap((k) => k.versions.map((v) => v.material.expose()))].map((b) =>
        Buffer.from(b),
      );
      zeroContents(contents);
      await store.close();
      const pgDump = join(await findPgBinDir(), 'pg_dump');
      const dump = await new Promise<Buffer>((res, rej) =>
        execFile(
          pgDump,
          ['-h', '127.0.0.1', '-p', String(fleet.pg.cluster.port), '-U', 'xks', '-d', 'xks'],
          { encoding: 'buffer', maxBuffer: 64 << 20 },
          (e: Error | null, out: Buffer) => (e ? rej(e) : res(out)),
        ),
      );
      expect(secrets.length).toBeGreaterThanOrEqual(6);
      for (const m of secrets)
        for (const form of [m, Buffer.from(m.toString('hex')), Buffer.from(m.toString('base64'))]) expect(dump.includes(form)).toBe(false);
      report.push(`pg_dump (${dump.length} bytes) scanned for ${secrets.length} keys in raw, hex and base64: not found`);
    } finally {
      console.log(`fleet test:\n  ${report.join('\n  ')}`);
    }
  }, 240_000);
});

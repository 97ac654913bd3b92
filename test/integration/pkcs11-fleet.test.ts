import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPkcs11Provider, type Pkcs11KeyProvider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { budget, fixtureConfig, memoryLogger } from '../support/pkcs11-provider-harness.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from '../support/softhsm.ts';

const A = 'xks-replica-a';
const B = 'xks-replica-b';
const KEY = { keyId: 'foo', version: 0 };
const BOTH = { encrypt: true, decrypt: true };

let fx: SoftHsmFixture;
let provider: Pkcs11KeyProvider;
let log: ReturnType<typeof memoryLogger>;

beforeAll(async () => {
  fx = await createSoftHsmFixture([A, B]);
  // Production replicas get the same key by the HSM's own cloning; the test imports known bytes into both.
  const foo = randomBytes(32);
  const canary = randomBytes(32);
  for (const t of [A, B]) {
    fx.importAesKey(t, 'foo', foo, BOTH);
    fx.importAesKey(t, 'xks-health-canary', canary, BOTH);
  }
});

afterEach(async () => {
  await provider?.close();
});

afterAll(async () => {
  await fx?.cleanup();
});

async function start(overrides: Record<string, unknown> = {}, labels = [A, B]): Promise<void> {
  log = memoryLogger();
  const config = fixtureConfig(fx, { tokenRetrySeconds: 0.1, ...overrides }, labels);
  provider = createPkcs11Provider(config, { logger: log.logger, configDir: fx.dir, env: process.env });
  await provider.init();
}

async function roundTrips(n: number, parallel = false): Promise<void> {
  const one = async (i: number): Promise<void> => {
    const text = `message ${i}`;
    const out = await provider.encrypt(KEY, Buffer.from(text), Buffer.from('aad'), budget());
    expect(Buffer.from(await provider.decrypt(KEY, out, Buffer.from('aad'), budget())).toString()).toBe(text);
  };
  if (parallel) await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  else for (let i = 0; i < n; i++) await one(i);
}

function writePin(label: string, pin: string): Promise<void> {
  const file = fx.tokens.find((t) => t.label === label)?.pinFile as string;
  return writeFile(file, `${pin}\n`);
}

function logout(label: string): void {
  const raw = fx.raw();
  const s = raw.C_OpenSession(fx.slotOf(label), 4);
  raw.C_Logout(s);
  raw.C_CloseSession(s);
}

describe('PKCS#11 fleet of two SoftHSM2 tokens holding the same keys', () => {
  it('reports one ACTIVE health entry per token', async () => {
    await start();
    const health = await provider.health(budget());
    expect(health.map((h) => [h.id, h.healthStatus])).toEqual([
      [A, 'ACTIVE'],
      [B, 'ACTIVE'],
    ]);
  });

  it('spreads calls across both tokens, and a ciphertext from one decrypts on the other', async () => {
    await start();
    await roundTrips(40);
    await roundTrips(64, true);
    const { pools } = provider.stats();
    expect(pools.get(A)?.opened).toBeGreaterThan(0);
    expect(pools.get(B)?.opened).toBeGreaterThan(0);
  });

  it('fails over to the healthy token when one token stops working, and reports it UNAVAILABLE with a log line', async () => {
    await start();
    await roundTrips(4);
    const goodPin = fx.tokens.find((t) => t.label === B)?.pin as string;
    await writePin(B, 'not-the-pin');
    logout(B);
    try {
      await roundTrips(30);
      await roundTrips(32, true);
      const health = await provider.health(budget());
      expect(health.map((h) => [h.id, h.healthStatus])).toEqual([
        [A, 'ACTIVE'],
        [B, 'UNAVAILABLE'],
      ]);
      expect(health[1]?.detail).toContain('CKR_PIN_INCORRECT');
      expect(log.lines().some((l) => l.token === B && String(l.msg).startsWith('PKCS#11 token unavailable'))).toBe(true);
    } finally {
      await writePin(B, goodPin);
    }
    // Once the PIN is right again, the token comes back (on the next probe or health check).
    const health = await provider.health(budget());
    expect(health.map((h) => h.healthStatus)).toEqual(['ACTIVE', 'ACTIVE']);
    expect(log.lines().some((l) => l.token === B && l.msg === 'PKCS#11 token is serving again')).toBe(true);
  });

  it('heals a token whose sessions were all closed without losing a request', async () => {
    await start();
    await roundTrips(8, true);
    fx.raw().C_CloseAllSessions(fx.slotOf(B));
    await roundTrips(32, true);
    expect((await provider.health(budget())).map((h) => h.healthStatus)).toEqual(['ACTIVE', 'ACTIVE']);
  });

  it('starts with one token missing, serves from the other, and reports the missing one UNAVAILABLE', async () => {
    log = memoryLogger();
    const config = fixtureConfig(fx, { tokenRetrySeconds: 0.1 });
    config.tokens.push({ label: 'xks-replica-absent', pin: config.tokens[0]?.pin });
    provider = createPkcs11Provider(config, { logger: log.logger, configDir: fx.dir, env: process.env });
    await provider.init();
    await roundTrips(10);
    const health = await provider.health(budget());
    expect(health.map((h) => [h.id, h.healthStatus])).toEqual([
      [A, 'ACTIVE'],
      [B, 'ACTIVE'],
      ['xks-replica-absent', 'UNAVAILABLE'],
    ]);
    expect(health[2]?.detail).toContain('no token with label "xks-replica-absent"');
  });
});

import { randomBytes, randomInt } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pkcs11KeyProvider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { isXksError } from '../../src/xks/errors.ts';
import { createPkcs11Provider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { pino } from 'pino';
import { budget } from '../support/pkcs11-provider-harness.ts';
import {
  createPkcs11TestModule,
  PKCS11_LOGIN_MODULE_KINDS,
  PKCS11_MODULE_KINDS,
  type Pkcs11ModuleKind,
  type Pkcs11TestModule,
} from '../support/pkcs11-modules.ts';

const TOKEN = 'xks-concurrency';
const WORKERS = 64;
const SOAK_MS = 10_000;
/**
 * Per-call budget. KMS allows 250 ms, but this 2-core machine is shared with other test
 * workers, and a call that overruns its budget is (rightly) answered with
 * DependencyTimeoutException; 1 s still catches any stuck session. Latency under load is
 * measured by bench/pkcs11-direct.ts, not asserted here.
 */
const CALL_BUDGET_MS = 1000;
const call = (): ReturnType<typeof budget> => budget(CALL_BUDGET_MS);

/** Each module's token and a provider on it, made once per file (libraries initialize once per process). */
const setups = new Map<Pkcs11ModuleKind, { fx: Pkcs11TestModule; provider: Pkcs11KeyProvider }>();
let provider: Pkcs11KeyProvider;

async function setUp(kind: Pkcs11ModuleKind): Promise<{ fx: Pkcs11TestModule; provider: Pkcs11KeyProvider }> {
  const existing = setups.get(kind);
  if (existing !== undefined) return existing;
  const fx = await createPkcs11TestModule(kind, TOKEN);
  fx.generateKey('foo', { encrypt: true, decrypt: true });
  fx.generateKey('encrypt_only_key', { encrypt: true, decrypt: false });
  fx.generateKey('xks-health-canary', { encrypt: true, decrypt: true });
  const p = createPkcs11Provider(fx.config({ sessionsPerToken: 8 }), { logger: pino({ level: 'silent' }), configDir: fx.dir, env: process.env });
  await p.init();
  const setup = { fx, provider: p };
  setups.set(kind, setup);
  return setup;
}

afterAll(async () => {
  for (const { fx, provider: p } of setups.values()) {
    await p.close();
    await fx.cleanup();
  }
});

interface Tally {
  ok: number;
  expected: number;
  unexpected: string[];
}

/** One mixed operation; expected spec errors count as `expected`, anything else is recorded. */
async function mixedOperation(t: Tally): Promise<void> {
  const foo = { keyId: 'foo', version: 0 };
  const roll = randomInt(100);
  const expectError = async (p: Promise<unknown>, name: string): Promise<void> => {
    try {
      await p;
      t.unexpected.push(`expected ${name}, got success`);
    } catch (e) {
      if (isXksError(e) && e.errorName === name) t.expected += 1;
      else t.unexpected.push(isXksError(e) ? `${e.errorName}: ${e.message}` : String(e));
    }
  };
  try {
    if (roll < 50) {
      const plaintext = randomBytes(randomInt(0, 4301));
      const aad = randomBytes(randomInt(0, 1025));
      const out = await provider.encrypt(foo, plaintext, aad, call());
      const back = await provider.decrypt(foo, out, aad, call());
      if (!Buffer.from(back).equals(plaintext)) t.unexpected.push('round trip changed the data');
      else t.ok += 1;
    } else if (roll < 65) {
      await provider.describe(roll % 2 === 0 ? 'foo' : 'encrypt_only_key', call());
      t.ok += 1;
    } else if (roll < 78) {
      const out = await provider.encrypt(foo, randomBytes(64), Buffer.alloc(0), call());
      await expectError(provider.decrypt(foo, out, Buffer.from('wrong aad'), call()), 'InvalidCiphertextException');
    } else if (roll < 88) {
      const out = await provider.encrypt({ keyId: 'encrypt_only_key', version: 0 }, randomBytes(16), Buffer.alloc(0), call());
      await expectError(provider.decrypt({ keyId: 'encrypt_only_key', version: 0 }, out, Buffer.alloc(0), call()), 'InvalidKeyUsageException');
    } else if (roll < 96) {
      await expectError(provider.encrypt({ keyId: 'missing', version: 0 }, randomBytes(16), Buffer.alloc(0), call()), 'KeyNotFoundException');
    } else {
      const health = await provider.health(call());
      if (health[0]?.healthStatus !== 'ACTIVE') t.unexpected.push(`health ${JSON.stringify(health)}`);
      else t.ok += 1;
    }
  } catch (e) {
    t.unexpected.push(isXksError(e) ? `${e.errorName}: ${e.message}` : String(e));
  }
}

async function soak(ms: number, during?: () => void): Promise<Tally & { delay: ReturnType<typeof monitorEventLoopDelay> }> {
  const tally: Tally = { ok: 0, expected: 0, unexpected: [] };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const end = Date.now() + ms;
  const chaos = during === undefined ? undefined : setInterval(during, 300);
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (Date.now() < end) await mixedOperation(tally);
    }),
  );
  if (chaos !== undefined) clearInterval(chaos);
  delay.disable();
  return { ...tally, delay };
}

describe.each(PKCS11_MODULE_KINDS)('PKCS#11 provider under concurrency on a real %s token', (kind) => {
  beforeAll(async () => {
    provider = (await setUp(kind)).provider;
  });

  it(`serves ${WORKERS} concurrent mixed operations for 10 s with no error, no stuck session and a free event loop`, async () => {
    const r = await soak(SOAK_MS);
    const ms = (ns: number): string => (ns / 1e6).toFixed(2);
    console.info(
      `pkcs11 soak (${kind}): ${r.ok} ok + ${r.expected} expected spec errors in ${SOAK_MS / 1000} s with ${WORKERS} workers; ` +
        `event-loop delay p50 ${ms(r.delay.percentile(50))} ms, p99 ${ms(r.delay.percentile(99))} ms, max ${ms(r.delay.max)} ms`,
    );
    expect(r.unexpected.slice(0, 5)).toEqual([]);
    expect(r.ok).toBeGreaterThan(1000);
    // Crypto runs on the libuv pool, so the loop only waits for CPU (shared with other test
    // workers here); a call that blocked it (a login or a sync crypto call per request) would
    // show up as delay in the hundreds of ms. bench/pkcs11-direct.ts measures it unloaded.
    expect(r.delay.percentile(99) / 1e6).toBeLessThan(100);
    const stats = provider.stats().pools.get(TOKEN);
    expect(stats).toMatchObject({ busy: 0, waiting: 0 });
    expect(stats?.opened).toBeLessThanOrEqual(8 + (stats?.discarded ?? 0));
  }, 60_000);
});

describe.each(PKCS11_LOGIN_MODULE_KINDS)('PKCS#11 provider under concurrency with logouts on a real %s token', (kind) => {
  let fx: Pkcs11TestModule;
  beforeAll(async () => {
    ({ fx, provider } = await setUp(kind));
  });

  it('keeps serving while the token is logged out behind its back every 300 ms under load', async () => {
    const logout = (): void => {
      const raw = fx.raw();
      const s = raw.C_OpenSession(fx.slot(), 4);
      raw.C_Logout(s);
      raw.C_CloseSession(s);
    };
    const r = await soak(3000, logout);
    // Which failures, counted by message: a run that fails says what the requests got.
    const failures = new Map<string, number>();
    for (const u of r.unexpected) failures.set(u, (failures.get(u) ?? 0) + 1);
    console.info(`pkcs11 logout chaos: ${r.ok} ok, ${r.expected} expected, ${r.unexpected.length} failed`, [...failures].slice(0, 5));
    // Every answer is a spec answer; a request may fail only if the token was logged out again during its retry.
    expect(r.unexpected.filter((u) => !u.startsWith('InternalException') && !u.startsWith('DependencyTimeoutException'))).toEqual([]);
    expect(r.unexpected.length).toBeLessThan((r.ok + r.expected) / 100);
    expect(provider.stats().pools.get(TOKEN)).toMatchObject({ busy: 0, waiting: 0 });
    const out = await provider.encrypt({ keyId: 'foo', version: 0 }, Buffer.from('after chaos'), Buffer.alloc(0), budget());
    expect(Buffer.from(await provider.decrypt({ keyId: 'foo', version: 0 }, out, Buffer.alloc(0), budget())).toString()).toBe('after chaos');
  }, 30_000);
});

import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { GuardedProvider } from '../../../src/providers/guarded-provider.ts';
import { XksError } from '../../../src/xks/errors.ts';
import type { CallContext, KeyInfo, KeyProvider } from '../../../src/xks/key-provider-port.ts';

/** A provider made for these tests: each method does what the test sets. */
function scriptedProvider(overrides: Partial<KeyProvider> & { inits?: { count: number } }): KeyProvider {
  const inits = overrides.inits ?? { count: 0 };
  const key: KeyInfo = { keyId: 'k', usages: ['ENCRYPT', 'DECRYPT'], enabled: true, currentVersion: 0 };
  return {
    kind: 'scripted',
    init: async () => {
      inits.count++;
    },
    describe: async () => key,
    encrypt: async () => ({ iv: new Uint8Array(12), ciphertext: new Uint8Array(0), tag: new Uint8Array(16) }),
    decrypt: async () => new Uint8Array(0),
    health: async () => [{ id: 'scripted', model: 'scripted', healthStatus: 'ACTIVE' }],
    close: async () => undefined,
    ...overrides,
  };
}

function ctx(budgetMs: number): CallContext {
  return { deadline: Date.now() + budgetMs, signal: AbortSignal.timeout(Math.max(0, budgetMs)) };
}

const silent = pino({ level: 'silent' });

describe('GuardedProvider', () => {
  it('answers DependencyTimeoutException when a provider does not answer within the budget', async () => {
    const guarded = new GuardedProvider(scriptedProvider({ describe: () => new Promise<KeyInfo>(() => undefined) }), silent);
    const started = Date.now();
    await expect(guarded.describe('k', ctx(50))).rejects.toMatchObject({ errorName: 'DependencyTimeoutException' });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('refuses a call with no time left, also for a provider whose calls stay in process, without calling it', async () => {
    let called: boolean;
    const inner = scriptedProvider({
      callsStayInProcess: true,
      describe: async () => {
        called = true;
        return { keyId: 'k', usages: [], enabled: true, currentVersion: 0 };
      },
    });
    const guarded = new GuardedProvider(inner, silent);
    await guarded.describe('k', ctx(1_000)); // initialised
    called = false;
    await expect(guarded.describe('k', ctx(-1))).rejects.toMatchObject({ errorName: 'DependencyTimeoutException' });
    expect(called).toBe(false);
  });

  it('leaves the deadline to a provider that enforces it itself (no second timer), and still refuses a call with no time left', async () => {
    const late: KeyInfo = { keyId: 'late', usages: [], enabled: true, currentVersion: 0 };
    const inner = scriptedProvider({
      enforcesDeadline: true,
      // Answers after the budget: a guard racing its own timer would have answered DependencyTimeoutException.
      describe: () => new Promise<KeyInfo>((resolve) => setTimeout(() => resolve(late), 60)),
    });
    const guarded = new GuardedProvider(inner, silent);
    await guarded.init();
    expect(await guarded.describe('k', ctx(10))).toBe(late);
    await expect(guarded.describe('k', ctx(-1))).rejects.toMatchObject({ errorName: 'DependencyTimeoutException' });
  });

  it('initialises once for many calls, and again after a failed init', async () => {
    const inits = { count: 0 };
    let failNext = true;
    const inner = scriptedProvider({
      inits,
      init: async () => {
        inits.count++;
        if (failNext) {
          failNext = false;
          throw new Error('device not ready');
        }
      },
    });
    const guarded = new GuardedProvider(inner, silent);
    await expect(guarded.describe('k', ctx(1_000))).rejects.toMatchObject({ errorName: 'InternalException' });
    for (let i = 0; i < 5; i++) await guarded.describe('k', ctx(1_000));
    expect(inits.count).toBe(2);
  });

  it('turns an unexpected error into InternalException without its detail', async () => {
    const guarded = new GuardedProvider(
      scriptedProvider({
        callsStayInProcess: true,
        encrypt: async () => {
          throw new Error('secret detail 0xdeadbeef');
        },
      }),
      silent,
    );
    const error = await guarded.encrypt({ keyId: 'k', version: 0 }, new Uint8Array(1), new Uint8Array(0), ctx(1_000)).catch((e: unknown) => e);
    expect(error).toMatchObject({ errorName: 'InternalException' });
    expect((error as Error).message).not.toContain('deadbeef');
  });

  it("forwards the provider's pool counters (metrics read them through the seam), and reports none for a provider without", () => {
    const pool = { size: 4, idle: 3, busy: 1, waiting: 0, opened: 4, discarded: 0 };
    const withPools = new GuardedProvider(scriptedProvider({ stats: () => ({ pools: new Map([['token-a', pool]]) }) }), silent);
    expect([...withPools.stats().pools]).toEqual([['token-a', pool]]);
    expect(withPools.stats().pools.size).toBe(1);
    expect(new GuardedProvider(scriptedProvider({}), silent).stats().pools.size).toBe(0);
  });

  describe('the immediate calls (describeNow, encryptNow, decryptNow: a key in memory)', () => {
    const info: KeyInfo = { keyId: 'k', usages: ['ENCRYPT'], enabled: true, currentVersion: 1 };
    const gcm = { iv: new Uint8Array(12), ciphertext: new Uint8Array(1), tag: new Uint8Array(16) };
    const ref = { keyId: 'k', version: 1 };
    const immediate = (overrides: Partial<KeyProvider> = {}) =>
      scriptedProvider({ callsStayInProcess: true, describeNow: () => info, encryptNow: () => gcm, decryptNow: () => new Uint8Array([7]), ...overrides });

    it("pass the provider's answers on once it is initialised, and answer nothing before (the caller then makes the asynchronous call, which runs init)", async () => {
      const guarded = new GuardedProvider(immediate(), silent);
      expect(guarded.describeNow('k', ctx(1_000))).toBeUndefined();
      await guarded.describe('k', ctx(1_000));
      expect(guarded.describeNow('k', ctx(1_000))).toBe(info);
      expect(guarded.encryptNow(ref, new Uint8Array(1), new Uint8Array(0), ctx(1_000))).toBe(gcm);
      expect(guarded.decryptNow(ref, gcm, new Uint8Array(0), ctx(1_000))).toEqual(new Uint8Array([7]));
      await guarded.close();
      expect(guarded.describeNow('k', ctx(1_000))).toBeUndefined();
    });

    it('answer nothing for a provider without them, or one the guard does not call directly (its deadline needs the race)', async () => {
      const without = new GuardedProvider(scriptedProvider({ callsStayInProcess: true }), silent);
      await without.init();
      expect(without.describeNow('k', ctx(1_000))).toBeUndefined();
      const raced = new GuardedProvider(immediate({ callsStayInProcess: false }), silent);
      await raced.init();
      expect(raced.encryptNow(ref, new Uint8Array(1), new Uint8Array(0), ctx(1_000))).toBeUndefined();
    });

    it('throw what the asynchronous calls reject with: no time left, an unexpected error as InternalException without its detail, an XksError as it is', async () => {
      const guarded = new GuardedProvider(
        immediate({
          encryptNow: () => {
            throw new Error('secret detail 0xdeadbeef');
          },
          decryptNow: () => {
            throw new XksError('InvalidCiphertextException', 'tag mismatch');
          },
        }),
        silent,
      );
      await guarded.init();
      expect(() => guarded.describeNow('k', ctx(-1))).toThrow(expect.objectContaining({ errorName: 'DependencyTimeoutException' }));
      let thrown: unknown;
      try {
        guarded.encryptNow(ref, new Uint8Array(1), new Uint8Array(0), ctx(1_000));
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toMatchObject({ errorName: 'InternalException' });
      expect((thrown as Error).message).not.toContain('deadbeef');
      expect(() => guarded.decryptNow(ref, gcm, new Uint8Array(0), ctx(1_000))).toThrow(expect.objectContaining({ errorName: 'InvalidCiphertextException' }));
    });
  });

  it('refuses calls after close', async () => {
    const guarded = new GuardedProvider(scriptedProvider({ callsStayInProcess: true }), silent);
    await guarded.describe('k', ctx(1_000));
    await guarded.close();
    await expect(guarded.describe('k', ctx(1_000))).rejects.toMatchObject({ errorName: 'InternalException' });
    expect((await guarded.health(ctx(1_000)))[0]?.healthStatus).toBe('UNAVAILABLE');
  });
});

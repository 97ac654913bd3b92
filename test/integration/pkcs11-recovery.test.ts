import { writeFile } from 'node:fs/promises';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Pkcs11Api } from '../../src/providers/pkcs11/pkcs11-api.ts';
import { createPkcs11Provider, type Pkcs11KeyProvider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { loadPkcs11js } from '../../src/providers/pkcs11/pkcs11js-api.ts';
import { budget, errorNameOf, fixtureConfig, memoryLogger } from '../support/pkcs11-provider-harness.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from '../support/softhsm.ts';

const TOKEN = 'xks-recovery';
const KEY = { keyId: 'foo', version: 0 };

let fx: SoftHsmFixture;
let provider: Pkcs11KeyProvider;
let log: ReturnType<typeof memoryLogger>;
let logins = 0;

/** The real pkcs11js library, with C_Login counted (to prove a refused PIN is not retried). */
function countingLoader(path: string): Pkcs11Api {
  const api = loadPkcs11js(path);
  return {
    ...api,
    C_Login: (session, userType, pin) => {
      logins += 1;
      api.C_Login(session, userType, pin);
    },
  };
}

async function roundTrip(text: string, ms = 250): Promise<string> {
  const out = await provider.encrypt(KEY, Buffer.from(text), Buffer.from('aad'), budget(ms));
  return Buffer.from(await provider.decrypt(KEY, out, Buffer.from('aad'), budget(ms))).toString();
}

/** Logs the token out through a second handle, as an admin tool or another app would. */
function logoutBehindTheBack(): void {
  const raw = fx.raw();
  const s = raw.C_OpenSession(fx.slotOf(TOKEN), 4 /* CKF_SERIAL_SESSION */);
  raw.C_Logout(s);
  raw.C_CloseSession(s);
}

beforeAll(async () => {
  fx = await createSoftHsmFixture([TOKEN]);
  fx.generateKey(TOKEN, 'foo', { encrypt: true, decrypt: true });
  fx.generateKey(TOKEN, 'xks-health-canary', { encrypt: true, decrypt: true });
});

afterEach(async () => {
  await provider?.close();
});

afterAll(async () => {
  await fx?.cleanup();
});

async function start(overrides: Record<string, unknown> = {}): Promise<void> {
  log = memoryLogger();
  provider = createPkcs11Provider(fixtureConfig(fx, overrides), { logger: log.logger, configDir: fx.dir, env: process.env }, countingLoader);
  await provider.init();
  expect(await roundTrip('warm')).toBe('warm');
}

describe('PKCS#11 provider recovery on a real SoftHSM2 token', () => {
  it('replaces its sessions and logs in again after all sessions are closed behind its back', async () => {
    await start();
    fx.raw().C_CloseAllSessions(fx.slotOf(TOKEN));
    expect(await roundTrip('after close-all')).toBe('after close-all');
    expect(log.lines().some((l) => l.msg === 'PKCS#11 token recovered; retrying' && String(l.after).includes('SESSION_HANDLE_INVALID'))).toBe(true);
    expect((await provider.health(budget()))[0]?.healthStatus).toBe('ACTIVE');
  });

  it('logs in again and finds its keys again after the token is logged out behind its back', async () => {
    await start();
    logoutBehindTheBack();
    // SoftHSM2 invalidates private object handles on logout: the cached key handle is stale too.
    expect(await roundTrip('after logout')).toBe('after logout');
    expect(await provider.describe('foo', budget())).toMatchObject({ usages: ['ENCRYPT', 'DECRYPT'] });
  });

  it('re-initializes the library after it was finalized behind its back', async () => {
    await start();
    fx.raw().C_Finalize();
    expect(await roundTrip('after finalize')).toBe('after finalize');
    expect((await provider.health(budget()))[0]?.healthStatus).toBe('ACTIVE');
  });

  it('recovers on the health check too, reporting ACTIVE after the sessions were closed', async () => {
    await start();
    fx.raw().C_CloseAllSessions(fx.slotOf(TOKEN));
    expect((await provider.health(budget()))[0]?.healthStatus).toBe('ACTIVE');
    expect(await roundTrip('still fine')).toBe('still fine');
  });

  it('does not retry when the budget is spent: DependencyTimeoutException, then serves the next request', async () => {
    await start();
    fx.raw().C_CloseAllSessions(fx.slotOf(TOKEN));
    expect(await errorNameOf(provider.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget(3)))).toBe('DependencyTimeoutException');
    expect(log.lines().some((l) => l.msg === 'PKCS#11 request failed on every token')).toBe(true);
    expect(await roundTrip('next request')).toBe('next request');
  });

  it('goes UNAVAILABLE with a clear log line when the PIN stops working, never resends a refused PIN, and heals when the PIN file is fixed', async () => {
    await start({ tokenRetrySeconds: 0.1 });
    const pinFile = fx.tokens[0]?.pinFile as string;
    const goodPin = fx.tokens[0]?.pin as string;
    await writeFile(pinFile, 'wrong-pin\n');
    logoutBehindTheBack();
    const before = logins;
    expect(await errorNameOf(provider.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget()))).toBe('InternalException');
    const [health] = await provider.health(budget());
    expect(health?.healthStatus).toBe('UNAVAILABLE');
    expect(health?.detail).toContain('not trying it again');
    for (let i = 0; i < 5; i++) await errorNameOf(provider.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget()));
    expect(logins - before).toBe(1);
    const unavailable = log.lines().find((l) => l.msg?.toString().startsWith('PKCS#11 token unavailable'));
    expect(String(unavailable?.reason)).toContain('CKR_PIN_INCORRECT');
    expect(JSON.stringify(log.lines())).not.toContain(goodPin);

    await writeFile(pinFile, `${goodPin}\n`);
    expect(await roundTrip('pin fixed')).toBe('pin fixed');
    expect((await provider.health(budget()))[0]?.healthStatus).toBe('ACTIVE');
  });

  it('refuses to start with an InternalException naming the token when the token label is unknown', async () => {
    const bad = createPkcs11Provider(
      { ...fixtureConfig(fx), tokens: [{ label: 'no-such-token', pin: `file:${fx.tokens[0]?.pinFile}` }] },
      { logger: pino({ level: 'silent' }), configDir: fx.dir, env: process.env },
    );
    try {
      await expect(bad.init()).rejects.toMatchObject({ errorName: 'InternalException', logDetail: expect.stringContaining('no-such-token') });
    } finally {
      await bad.close();
    }
  });
});

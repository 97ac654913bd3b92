import { writeFile } from 'node:fs/promises';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Pkcs11Api } from '../../src/providers/pkcs11/pkcs11-api.ts';
import { createPkcs11Provider, type Pkcs11KeyProvider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { loadPkcs11js } from '../../src/providers/pkcs11/pkcs11js-api.ts';
import { budget, errorNameOf, memoryLogger } from '../support/pkcs11-provider-harness.ts';
import {
  createPkcs11TestModule,
  PKCS11_LOGIN_MODULE_KINDS,
  PKCS11_MODULE_KINDS,
  type Pkcs11ModuleKind,
  type Pkcs11TestModule,
} from '../support/pkcs11-modules.ts';

const TOKEN = 'xks-recovery';
const KEY = { keyId: 'foo', version: 0 };

let fx: Pkcs11TestModule;
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
  const s = raw.C_OpenSession(fx.slot(), 4 /* CKF_SERIAL_SESSION */);
  raw.C_Logout(s);
  raw.C_CloseSession(s);
}

/** Each module's token, made once per file (libraries initialize once per process). */
const modules = new Map<Pkcs11ModuleKind, Pkcs11TestModule>();

async function useModule(kind: Pkcs11ModuleKind): Promise<void> {
  let m = modules.get(kind);
  if (m === undefined) {
    m = await createPkcs11TestModule(kind, TOKEN);
    m.generateKey('foo', { encrypt: true, decrypt: true });
    m.generateKey('xks-health-canary', { encrypt: true, decrypt: true });
    modules.set(kind, m);
  }
  fx = m;
}

afterEach(async () => {
  await provider?.close();
});

afterAll(async () => {
  for (const m of modules.values()) await m.cleanup();
});

async function start(overrides: Record<string, unknown> = {}): Promise<void> {
  log = memoryLogger();
  provider = createPkcs11Provider(fx.config(overrides), { logger: log.logger, configDir: fx.dir, env: process.env }, countingLoader);
  await provider.init();
  expect(await roundTrip('warm')).toBe('warm');
}

describe.each(PKCS11_MODULE_KINDS)('PKCS#11 provider recovery on a real %s token', (kind) => {
  beforeAll(() => useModule(kind));

  it('replaces its sessions (and logs in again where it logs in) after all sessions are closed behind its back', async () => {
    await start();
    fx.raw().C_CloseAllSessions(fx.slot());
    expect(await roundTrip('after close-all')).toBe('after close-all');
    expect(log.lines().some((l) => l.msg === 'PKCS#11 token recovered; retrying' && String(l.after).includes('SESSION_HANDLE_INVALID'))).toBe(true);
    expect((await provider.health(budget()))[0]?.healthStatus).toBe('ACTIVE');
  });

  it('re-initializes the library after it was finalized behind its back', async () => {
    await start();
    fx.raw().C_Finalize();
    expect(await roundTrip('after finalize')).toBe('after finalize');
    expect((await provider.health(budget()))[0]?.healthStatus).toBe('ACTIVE');
  });

  it('recovers on the health check too, reporting ACTIVE after the sessions were closed', async () => {
    await start();
    fx.raw().C_CloseAllSessions(fx.slot());
    expect((await provider.health(budget()))[0]?.healthStatus).toBe('ACTIVE');
    expect(await roundTrip('still fine')).toBe('still fine');
  });

  it('does not retry when the budget is spent: DependencyTimeoutException, then serves the next request', async () => {
    await start();
    fx.raw().C_CloseAllSessions(fx.slot());
    expect(await errorNameOf(provider.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget(3)))).toBe('DependencyTimeoutException');
    expect(log.lines().some((l) => l.msg === 'PKCS#11 request failed on every token')).toBe(true);
    expect(await roundTrip('next request')).toBe('next request');
  });

  it('refuses to start with an InternalException naming the token when the token label is unknown', async () => {
    const bad = createPkcs11Provider(fx.config({ tokens: [{ label: 'no-such-token' }] }), {
      logger: pino({ level: 'silent' }),
      configDir: fx.dir,
      env: process.env,
    });
    try {
      await expect(bad.init()).rejects.toMatchObject({ errorName: 'InternalException', logDetail: expect.stringContaining('no-such-token') });
    } finally {
      await bad.close();
    }
  });
});

describe.each(PKCS11_LOGIN_MODULE_KINDS)('PKCS#11 provider login recovery on a real %s token', (kind) => {
  beforeAll(() => useModule(kind));

  it('logs in again and finds its keys again after the token is logged out behind its back', async () => {
    await start();
    logoutBehindTheBack();
    // SoftHSM2 invalidates private object handles on logout: the cached key handle is stale too.
    expect(await roundTrip('after logout')).toBe('after logout');
    expect(await provider.describe('foo', budget())).toMatchObject({ usages: ['ENCRYPT', 'DECRYPT'] });
  });

  it('goes UNAVAILABLE with a clear log line when the PIN stops working, never resends a refused PIN, and heals when the PIN file is fixed', async () => {
    await start({ tokenRetrySeconds: 0.1 });
    const pinFile = fx.pinFile as string;
    const goodPin = fx.pin as string;
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
});

import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { pkcs11ProviderConfigSchema } from '../../../../src/providers/pkcs11/pkcs11-config.ts';
import { CKF_RW_SESSION, CKF_SERIAL_SESSION, CKR } from '../../../../src/providers/pkcs11/pkcs11-constants.ts';
import { createPkcs11Provider, type Pkcs11KeyProvider } from '../../../../src/providers/pkcs11/pkcs11-provider.ts';
import { budget, errorNameOf } from '../../../support/pkcs11-provider-harness.ts';
import { FakePkcs11 } from './fake-pkcs11.ts';

const KEY = { keyId: 'foo', version: 0 };
const open: Pkcs11KeyProvider[] = [];

/** A provider on fake tokens (one fake library per token label), PIN from an env variable. */
async function start(fakes: FakePkcs11[], overrides: Record<string, unknown> = {}): Promise<Pkcs11KeyProvider> {
  const paths = new Map(fakes.map((f) => [`/fake/${randomUUID()}.so`, f]));
  const config = pkcs11ProviderConfigSchema.parse({
    type: 'pkcs11',
    module: '/unused.so',
    pin: 'env:FAKE_PIN',
    tokens: [...paths.keys()].map((module, i) => ({ label: fakes[i]?.label, module })),
    tokenRetrySeconds: 0.1,
    ...overrides,
  });
  const provider = createPkcs11Provider(
    config,
    { logger: pino({ level: 'silent' }), configDir: '/', env: { FAKE_PIN: '1234' } },
    (path) => paths.get(path) as FakePkcs11,
  );
  open.push(provider);
  await provider.init();
  return provider;
}

function fake(label = 'fake'): FakePkcs11 {
  const f = new FakePkcs11(label);
  f.addKey('foo');
  f.addKey('xks-health-canary');
  return f;
}

afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

describe('PKCS#11 provider wiring (fake library)', () => {
  it('initializes the library once with OS locking and finalizes it on close', async () => {
    const f = fake();
    const p = await start([f]);
    await p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    expect(f.calls.get('C_Initialize')).toBe(1);
    await p.close();
    expect(f.calls.get('C_Finalize')).toBe(1);
    expect(f.calls.get('close')).toBe(1);
  });

  it('passes libraryParameters to C_Initialize, and none when the config has none', async () => {
    const f = fake();
    await start([f], { libraryParameters: "configdir='sql:/var/lib/nss'" });
    expect(f.libraryParameters).toBe("configdir='sql:/var/lib/nss'");
    const g = fake();
    await start([g]);
    expect(g.libraryParameters).toBeUndefined();
  });

  it('never logs in with login: none, and opens read/write sessions only when readWriteSessions is set', async () => {
    const f = fake();
    f.publicObjects = true;
    const p = await start([f], { pin: undefined, login: 'none' });
    await p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    expect(f.calls.get('C_Login')).toBeUndefined();
    expect(await errorNameOf(p.encrypt({ keyId: 'missing', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget()))).toBe('KeyNotFoundException');
    expect((await p.health(budget()))[0]?.healthStatus).toBe('ACTIVE');
    expect(new Set(f.sessionFlags)).toEqual(new Set([CKF_SERIAL_SESSION]));
    const g = fake();
    const q = await start([g], { readWriteSessions: true });
    await q.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    expect(g.calls.get('C_Login')).toBe(1);
    expect(new Set(g.sessionFlags)).toEqual(new Set([CKF_SERIAL_SESSION | CKF_RW_SESSION]));
  });

  it('retries once on a fresh session after a device error, and the caller never sees it', async () => {
    const f = fake();
    const p = await start([f]);
    f.fail('C_EncryptAsync', CKR.DEVICE_ERROR);
    const out = await p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    expect(Buffer.from(await p.decrypt(KEY, out, Buffer.alloc(0), budget())).toString()).toBe('x');
    expect(p.stats().pools.get('fake')?.discarded).toBe(1);
  });

  it('answers InternalException and reports UNAVAILABLE when the device keeps failing', async () => {
    const f = fake();
    const p = await start([f]);
    f.fail('C_EncryptAsync', CKR.DEVICE_ERROR, 4);
    expect(await errorNameOf(p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget()))).toBe('InternalException');
    const [h] = await p.health(budget());
    expect(h).toMatchObject({ id: 'fake', healthStatus: 'UNAVAILABLE' });
    expect(h?.detail).toContain('CKR_DEVICE_ERROR');
  });

  it('does not retry when the deadline leaves no time: DependencyTimeoutException', async () => {
    const f = fake();
    const p = await start([f]);
    f.fail('C_EncryptAsync', CKR.DEVICE_ERROR);
    expect(await errorNameOf(p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget(2)))).toBe('DependencyTimeoutException');
  });

  it('looks the key up again after a stale handle instead of failing', async () => {
    const f = fake();
    const p = await start([f]);
    await p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    const finds = f.calls.get('C_FindObjectsInit') ?? 0;
    f.fail('C_EncryptInit', CKR.KEY_HANDLE_INVALID);
    await p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    expect(f.calls.get('C_FindObjectsInit')).toBe(finds + 1);
  });

  it("maps other HSMs' tag failure code (CKR_ENCRYPTED_DATA_INVALID) to InvalidCiphertextException", async () => {
    const p = await start([fake()]);
    const out = await p.encrypt(KEY, Buffer.from('x'), Buffer.from('a'), budget());
    expect(await errorNameOf(p.decrypt(KEY, out, Buffer.from('b'), budget()))).toBe('InvalidCiphertextException');
  });

  it('returns the IV the token generated when ivSource is token-generated', async () => {
    const f = fake();
    f.generatesIv = true;
    const p = await start([f], { ivSource: 'token-generated' });
    const out = await p.encrypt(KEY, Buffer.from('token iv'), Buffer.alloc(0), budget());
    expect(out.iv.some((b) => b !== 0)).toBe(true);
    expect(Buffer.from(await p.decrypt(KEY, out, Buffer.alloc(0), budget())).toString()).toBe('token iv');
  });

  it('never returns a ciphertext when ivSource is token-generated and the token leaves the IV empty', async () => {
    const f = fake(); // does not write the IV: a token that does not generate one
    const p = await start([f], { ivSource: 'token-generated' });
    const refused = p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    await expect(refused).rejects.toMatchObject({ errorName: 'InternalException', message: expect.stringContaining('did not generate an IV') });
    // The health canary goes through the same check: the token answers, but its crypto is not proven.
    const [health] = await p.health(budget());
    expect(health).toMatchObject({ healthStatus: 'DEGRADED', detail: expect.stringContaining('did not generate an IV') });
  });

  it('answers by the deadline when the token hangs, in requests and in health', async () => {
    const f = fake();
    const p = await start([f], { sessionsPerToken: 1 });
    f.fail('C_EncryptAsync', 'hang', 2);
    const hung = p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget(1000)).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    const started = Date.now();
    expect(await errorNameOf(p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget(50)))).toBe('DependencyTimeoutException');
    const [h] = await p.health(budget(50));
    expect(h).toMatchObject({ healthStatus: 'UNAVAILABLE', detail: expect.stringContaining('budget') });
    expect(Date.now() - started).toBeLessThan(500);
    f.releaseHung();
    await hung;
  });

  it('keeps the library loaded at close while an operation is still running (finalizing would crash)', async () => {
    const f = fake();
    const p = await start([f]);
    f.fail('C_EncryptAsync', 'hang');
    const hung = p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget(10_000)).catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    const closing = p.close();
    setTimeout(() => f.releaseHung(), 20);
    await closing;
    await hung;
    expect(f.calls.get('C_Finalize')).toBe(1);
  });

  it('spreads work over a fleet and fails over when one token keeps failing', async () => {
    const a = fake('a');
    const b = fake('b');
    const p = await start([a, b]);
    b.fail('C_EncryptAsync', CKR.DEVICE_ERROR, 1000);
    for (let i = 0; i < 10; i++) await p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    expect((a.calls.get('C_EncryptAsync') ?? 0) >= 10).toBe(true);
    const health = await p.health(budget());
    expect(health.map((h) => h.healthStatus)).toEqual(['ACTIVE', 'UNAVAILABLE']);
  });

  it('moves on to the next token when one hangs, within the request budget', async () => {
    const a = fake('a');
    const b = fake('b');
    const p = await start([a, b], { attemptTimeoutMs: 40 });
    a.fail('C_EncryptAsync', 'hang');
    // Success proves the failover came within the 250 ms budget: past the deadline the
    // call is DependencyTimeoutException (next test). No wall-clock assertion (busy CI).
    const out = await p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    expect(out.tag).toHaveLength(16);
    expect(b.calls.get('C_EncryptAsync')).toBe(1);
    a.releaseHung();
  });

  it('drops the late failure of an attempt it already moved on from: the next token is asked once', async () => {
    const a = fake('a');
    const b = fake('b');
    const p = await start([a, b], { attemptTimeoutMs: 40 });
    a.fail('C_EncryptAsync', 'hang-then-fail');
    const out = await p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget());
    expect(out.tag).toHaveLength(16);
    // The hung call now fails (CKR_DEVICE_ERROR) within the request's budget: that must not
    // count as the fleet's failure of b, nor start another attempt on b.
    a.releaseHung();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(b.calls.get('C_EncryptAsync')).toBe(1);
    expect(a.calls.get('C_EncryptAsync')).toBe(1);
  });

  it('answers DependencyTimeoutException at the deadline when the only token hangs', async () => {
    const f = fake();
    const p = await start([f]);
    f.fail('C_EncryptAsync', 'hang');
    const started = Date.now();
    expect(await errorNameOf(p.encrypt(KEY, Buffer.from('x'), Buffer.alloc(0), budget(60)))).toBe('DependencyTimeoutException');
    expect(Date.now() - started).toBeLessThan(200);
    f.releaseHung();
  });

  it('serves describe from the key cache without opening a session', async () => {
    const f = fake();
    const p = await start([f]);
    await p.describe('foo', budget());
    const opens = f.calls.get('C_OpenSession');
    const attrs = f.calls.get('C_GetAttributeValue');
    for (let i = 0; i < 5; i++) await p.describe('foo', budget());
    expect(f.calls.get('C_OpenSession')).toBe(opens);
    expect(f.calls.get('C_GetAttributeValue')).toBe(attrs);
  });

  it('reads keys again when keyCacheSeconds is 0', async () => {
    const f = fake();
    const p = await start([f], { keyCacheSeconds: 0 });
    await p.describe('foo', budget());
    const attrs = f.calls.get('C_GetAttributeValue') ?? 0;
    await p.describe('foo', budget());
    expect(f.calls.get('C_GetAttributeValue')).toBe(attrs + 1);
  });
});

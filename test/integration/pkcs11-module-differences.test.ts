/**
 * The behaviour differences met between SoftHSM2 2.6 and NSS softoken 3.87, each checked on
 * both through the provider: the answer a user sees must be the same on every module.
 * (Differences and how the provider absorbs them: docs/pkcs11.md, "Two implementations".)
 */
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPkcs11Provider, type Pkcs11KeyProvider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { budget, errorNameOf } from '../support/pkcs11-provider-harness.ts';
import { createPkcs11TestModule, PKCS11_MODULE_KINDS, type Pkcs11TestModule } from '../support/pkcs11-modules.ts';

const require = createRequire(import.meta.url);
const pkcs11js = require('pkcs11js') as typeof Pkcs11js;

const FOO = { keyId: 'foo', version: 0 };
const opened: Array<{ fx: Pkcs11TestModule; provider: Pkcs11KeyProvider }> = [];

afterAll(async () => {
  for (const { fx, provider } of opened) {
    await provider.close();
    await fx.cleanup();
  }
});

/** Encrypts through the raw handle with a caller-chosen IV (the provider always picks 12 bytes). */
function rawEncrypt(fx: Pkcs11TestModule, label: string, iv: Buffer, plaintext: Buffer, aad: Buffer): { ciphertext: Buffer; tag: Buffer } {
  const p = fx.raw();
  const session = p.C_OpenSession(fx.slot(), pkcs11js.CKF_SERIAL_SESSION);
  try {
    if (fx.logsIn) {
      try {
        p.C_Login(session, pkcs11js.CKU_USER, fx.pin);
      } catch (e) {
        if ((e as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw e;
      }
    }
    p.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: label }]);
    const [key] = p.C_FindObjects(session, 1);
    p.C_FindObjectsFinal(session);
    const params = { type: pkcs11js.CK_PARAMS_GCM, iv, ivBits: iv.length * 8, aad, tagBits: 128 } as Pkcs11js.IParams;
    p.C_EncryptInit(session, { mechanism: pkcs11js.CKM_AES_GCM, parameter: params }, key as Buffer);
    const out = Buffer.from(p.C_Encrypt(session, plaintext, Buffer.alloc(plaintext.length + 16)));
    return { ciphertext: out.subarray(0, plaintext.length), tag: out.subarray(plaintext.length) };
  } finally {
    p.C_CloseSession(session);
  }
}

describe.each(PKCS11_MODULE_KINDS)('the same answers on a real %s token', (kind) => {
  let fx: Pkcs11TestModule;
  let provider: Pkcs11KeyProvider;

  beforeAll(async () => {
    fx = await createPkcs11TestModule(kind, 'xks-differences');
    fx.generateKey('foo', { encrypt: true, decrypt: true });
    fx.generateKey('encrypt_only_key', { encrypt: true, decrypt: false });
    fx.generateKey('decrypt_only_key', { encrypt: false, decrypt: true });
    fx.generateKey('xks-health-canary', { encrypt: true, decrypt: true });
    // One session: a session left in a bad state by one call would fail the next one.
    provider = createPkcs11Provider(fx.config({ sessionsPerToken: 1 }), { logger: pino({ level: 'silent' }), configDir: fx.dir, env: process.env });
    await provider.init();
    opened.push({ fx, provider });
  });

  it('encrypts an empty plaintext (single-part C_Encrypt; NSS has no multi-part GCM) and decrypts it back', async () => {
    const out = await provider.encrypt(FOO, Buffer.alloc(0), Buffer.from('aad'), budget(2000));
    expect(out.ciphertext.length).toBe(0);
    expect(out.tag.length).toBe(16);
    expect((await provider.decrypt(FOO, out, Buffer.from('aad'), budget(2000))).length).toBe(0);
  });

  it('answers a wrong tag with InvalidCiphertextException (SoftHSM2: CKR_GENERAL_ERROR, NSS: CKR_ENCRYPTED_DATA_INVALID) and keeps serving on the same session', async () => {
    const out = await provider.encrypt(FOO, Buffer.from('secret'), Buffer.alloc(0), budget(2000));
    const tag = Uint8Array.from(out.tag);
    tag[0] = (tag[0] as number) ^ 1;
    expect(await errorNameOf(provider.decrypt(FOO, { ...out, tag }, Buffer.alloc(0), budget(2000)))).toBe('InvalidCiphertextException');
    expect(await errorNameOf(provider.decrypt(FOO, out, Buffer.from('other aad'), budget(2000)))).toBe('InvalidCiphertextException');
    expect(Buffer.from(await provider.decrypt(FOO, out, Buffer.alloc(0), budget(2000))).toString()).toBe('secret');
  });

  it('refuses a usage the key lacks with InvalidKeyUsageException (SoftHSM2: CKR_KEY_FUNCTION_NOT_PERMITTED, NSS: CKR_KEY_TYPE_INCONSISTENT)', async () => {
    const eo = { keyId: 'encrypt_only_key', version: 0 };
    const out = await provider.encrypt(eo, Buffer.from('x'), Buffer.alloc(0), budget(2000));
    expect(await errorNameOf(provider.decrypt(eo, out, Buffer.alloc(0), budget(2000)))).toBe('InvalidKeyUsageException');
    expect(await errorNameOf(provider.encrypt({ keyId: 'decrypt_only_key', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget(2000)))).toBe(
      'InvalidKeyUsageException',
    );
    expect((await provider.health(budget(2000)))[0]?.healthStatus).toBe('ACTIVE');
  });

  it('decrypts a ciphertext made with a 16-byte IV (ulIvBits set from the IV length; NSS reads it, SoftHSM2 ignores it)', async () => {
    const iv = Buffer.alloc(16, 7);
    const { ciphertext, tag } = rawEncrypt(fx, 'foo', iv, Buffer.from('sixteen-byte iv'), Buffer.from('aad'));
    const back = await provider.decrypt(FOO, { iv, ciphertext, tag }, Buffer.from('aad'), budget(2000));
    expect(Buffer.from(back).toString()).toBe('sixteen-byte iv');
  });
});

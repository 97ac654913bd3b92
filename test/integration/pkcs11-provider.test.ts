import { createCipheriv, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pkcs11KeyProvider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { budget, errorNameOf, startProvider } from '../support/pkcs11-provider-harness.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from '../support/softhsm.ts';

const BOTH = { encrypt: true, decrypt: true };
const KNOWN_KEY = Buffer.alloc(32, 0x5a);

let fx: SoftHsmFixture;
let provider: Pkcs11KeyProvider;

beforeAll(async () => {
  fx = await createSoftHsmFixture(['xks-provider']);
  const t = 'xks-provider';
  fx.generateKey(t, 'foo', BOTH);
  fx.generateKey(t, 'encrypt_only_key', { encrypt: true, decrypt: false });
  fx.generateKey(t, 'decrypt_only_key', { encrypt: false, decrypt: true });
  fx.generateKey(t, 'impotent_key', { encrypt: false, decrypt: false });
  fx.generateKey(t, 'aes128_key', BOTH, 16);
  fx.generateKey(t, 'xks-health-canary', BOTH);
  fx.generateKey(t, 'twin', BOTH);
  fx.generateKey(t, 'twin', BOTH);
  fx.importAesKey(t, 'known_key', KNOWN_KEY, BOTH);
  provider = await startProvider(fx);
});

afterAll(async () => {
  await provider?.close();
  await fx?.cleanup();
});

describe('PKCS#11 provider on a SoftHSM2 token', () => {
  // First: no test before it has read impotent_key into the key cache.
  it('describes a key at once from its token key cache once a describe has read it, and leaves an unread or unknown key to the token', async () => {
    expect(provider.describeNow?.('impotent_key')).toBeUndefined();
    const described = await provider.describe('impotent_key', budget());
    expect(provider.describeNow?.('impotent_key')).toEqual(described);
    expect(provider.describeNow?.('no_such_key')).toBeUndefined();
  });

  it('encrypts and decrypts inside the token with a fresh 12-byte IV and a 16-byte tag', async () => {
    const plaintext = randomBytes(4300);
    const aad = randomBytes(8192);
    const key = { keyId: 'foo', version: 0 };
    const a = await provider.encrypt(key, plaintext, aad, budget());
    const b = await provider.encrypt(key, plaintext, aad, budget());
    expect(a.iv).toHaveLength(12);
    expect(a.tag).toHaveLength(16);
    expect(a.ciphertext).toHaveLength(plaintext.length);
    expect(Buffer.from(a.iv).equals(Buffer.from(b.iv))).toBe(false);
    expect(Buffer.from(a.ciphertext).equals(plaintext)).toBe(false);
    const back = await provider.decrypt(key, a, aad, budget());
    expect(Buffer.from(back).equals(plaintext)).toBe(true);
  });

  it('produces standard AES-256-GCM: the same bytes node:crypto makes with that key and IV', async () => {
    const plaintext = Buffer.from('interoperable with any AES-GCM implementation');
    const aad = Buffer.from('aad bytes built by the key store');
    const out = await provider.encrypt({ keyId: 'known_key', version: 0 }, plaintext, aad, budget());
    const cipher = createCipheriv('aes-256-gcm', KNOWN_KEY, out.iv);
    cipher.setAAD(aad);
    const expected = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    expect(Buffer.from(out.ciphertext).equals(expected)).toBe(true);
    expect(Buffer.from(out.tag).equals(cipher.getAuthTag())).toBe(true);
  });

  it('reports key usages from CKA_ENCRYPT and CKA_DECRYPT, version 0, enabled', async () => {
    expect(await provider.describe('foo', budget())).toEqual({ keyId: 'foo', usages: ['ENCRYPT', 'DECRYPT'], enabled: true, currentVersion: 0 });
    expect((await provider.describe('encrypt_only_key', budget())).usages).toEqual(['ENCRYPT']);
    expect((await provider.describe('decrypt_only_key', budget())).usages).toEqual(['DECRYPT']);
    expect((await provider.describe('impotent_key', budget())).usages).toEqual([]);
  });

  it('answers InvalidKeyUsageException when the token refuses the key for the operation', async () => {
    const out = await provider.encrypt({ keyId: 'encrypt_only_key', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget());
    expect(await errorNameOf(provider.decrypt({ keyId: 'encrypt_only_key', version: 0 }, out, Buffer.alloc(0), budget()))).toBe('InvalidKeyUsageException');
    expect(await errorNameOf(provider.encrypt({ keyId: 'decrypt_only_key', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget()))).toBe(
      'InvalidKeyUsageException',
    );
    expect(await errorNameOf(provider.encrypt({ keyId: 'impotent_key', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget()))).toBe(
      'InvalidKeyUsageException',
    );
  });

  it('answers KeyNotFoundException for a label the token does not hold', async () => {
    expect(await errorNameOf(provider.describe('no_such_key', budget()))).toBe('KeyNotFoundException');
    expect(await errorNameOf(provider.encrypt({ keyId: 'no_such_key', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget()))).toBe('KeyNotFoundException');
  });

  it('answers InvalidStateException (not a crash) for a key that is not AES-256 or whose label is ambiguous', async () => {
    expect(await errorNameOf(provider.describe('aes128_key', budget()))).toBe('InvalidStateException');
    expect(await errorNameOf(provider.encrypt({ keyId: 'aes128_key', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget()))).toBe('InvalidStateException');
    expect(await errorNameOf(provider.describe('twin', budget()))).toBe('InvalidStateException');
  });

  it('keeps the health canary out of reach of customer requests', async () => {
    expect(await errorNameOf(provider.describe('xks-health-canary', budget()))).toBe('KeyNotFoundException');
  });

  it('answers InvalidCiphertextException for a changed ciphertext, tag, IV or AAD, and keeps serving', async () => {
    const key = { keyId: 'foo', version: 0 };
    const aad = Buffer.from('context');
    const good = await provider.encrypt(key, Buffer.from('secret message'), aad, budget());
    const flip = (b: Uint8Array): Uint8Array => {
      const c = Uint8Array.from(b);
      c[0] = (c[0] ?? 0) ^ 1;
      return c;
    };
    const names = await Promise.all([
      errorNameOf(provider.decrypt(key, { ...good, ciphertext: flip(good.ciphertext) }, aad, budget())),
      errorNameOf(provider.decrypt(key, { ...good, tag: flip(good.tag) }, aad, budget())),
      errorNameOf(provider.decrypt(key, { ...good, iv: flip(good.iv) }, aad, budget())),
      errorNameOf(provider.decrypt(key, { ...good, iv: randomBytes(16) }, aad, budget())),
      errorNameOf(provider.decrypt(key, good, Buffer.from('other context'), budget())),
    ]);
    expect(names).toEqual(Array(5).fill('InvalidCiphertextException'));
    expect(Buffer.from(await provider.decrypt(key, good, aad, budget())).toString()).toBe('secret message');
  });

  it('encrypts a zero-length plaintext (tag only) and the session is not poisoned by it', async () => {
    const key = { keyId: 'foo', version: 0 };
    const before = provider.stats().pools.get('xks-provider')?.discarded ?? 0;
    for (let i = 0; i < 20; i++) {
      const empty = await provider.encrypt(key, new Uint8Array(0), Buffer.from('a'), budget());
      expect(empty.ciphertext).toHaveLength(0);
      expect(empty.tag).toHaveLength(16);
      expect(await provider.decrypt(key, empty, Buffer.from('a'), budget())).toHaveLength(0);
      const normal = await provider.encrypt(key, Buffer.from('after empty'), Buffer.from('a'), budget());
      expect(Buffer.from(await provider.decrypt(key, normal, Buffer.from('a'), budget())).toString()).toBe('after empty');
    }
    expect(provider.stats().pools.get('xks-provider')?.discarded).toBe(before);
  });

  it('reports one ACTIVE health entry for the token, proven with the canary key', async () => {
    const health = await provider.health(budget());
    expect(health).toEqual([{ id: 'xks-provider', model: expect.stringContaining('SoftHSM'), healthStatus: 'ACTIVE' }]);
  });

  it('reports DEGRADED, not ACTIVE, when the canary key is missing', async () => {
    const other = await startProvider(fx, { healthKeyLabel: 'missing-canary' });
    try {
      const [entry] = await other.health(budget());
      expect(entry?.healthStatus).toBe('DEGRADED');
      expect(entry?.detail).toContain('missing-canary');
      // Crypto with customer keys still works on that provider.
      await other.encrypt({ keyId: 'foo', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget());
    } finally {
      await other.close();
    }
  });

  it('maps externalKeyIds to labels with keyLabels, and refuses unmapped ids in mapped-only mode', async () => {
    const mapped = await startProvider(fx, { keyLabels: { 'alias-1': 'foo' }, unmappedKeys: 'mapped-only' });
    try {
      expect((await mapped.describe('alias-1', budget())).usages).toEqual(['ENCRYPT', 'DECRYPT']);
      expect(await errorNameOf(mapped.describe('foo', budget()))).toBe('KeyNotFoundException');
      // Same key behind both names: a ciphertext made under the alias decrypts under the label.
      const out = await mapped.encrypt({ keyId: 'alias-1', version: 0 }, Buffer.from('hi'), Buffer.alloc(0), budget());
      expect(Buffer.from(await provider.decrypt({ keyId: 'foo', version: 0 }, out, Buffer.alloc(0), budget())).toString()).toBe('hi');
    } finally {
      await mapped.close();
    }
  });

  it('takes IVs from the token RNG when ivSource is token-rng', async () => {
    const rng = await startProvider(fx, { ivSource: 'token-rng' });
    try {
      const out = await rng.encrypt({ keyId: 'foo', version: 0 }, Buffer.from('iv from the HSM'), Buffer.alloc(0), budget());
      expect(out.iv).toHaveLength(12);
      expect(Buffer.from(await rng.decrypt({ keyId: 'foo', version: 0 }, out, Buffer.alloc(0), budget())).toString()).toBe('iv from the HSM');
    } finally {
      await rng.close();
    }
  });

  it('refuses ivSource token-generated on a token that does not generate IVs, without returning a ciphertext', async () => {
    const gen = await startProvider(fx, { ivSource: 'token-generated' });
    try {
      expect(await errorNameOf(gen.encrypt({ keyId: 'foo', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget()))).toBe('InternalException');
    } finally {
      await gen.close();
    }
  });

  it('answers InvalidCiphertextException for a ciphertext that names a key version other than 0', async () => {
    const out = await provider.encrypt({ keyId: 'foo', version: 0 }, Buffer.from('x'), Buffer.alloc(0), budget());
    expect(await errorNameOf(provider.decrypt({ keyId: 'foo', version: 3 }, out, Buffer.alloc(0), budget()))).toBe('InvalidCiphertextException');
  });
});

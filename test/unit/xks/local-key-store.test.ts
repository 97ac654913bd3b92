/**
 * LocalKeyStore on its own: the spec's rules it applies for every provider (usage and
 * state checks, the checks of what a provider returns, CDIV with its verification
 * decrypt, key versions from ciphertextMetadata, health) against a provider test double.
 * The double does real AES-256-GCM (node:crypto) with keys in memory; each test bends one
 * thing it returns or reports. The providers themselves are covered by the contract suite.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { computeCdiv } from '../../../src/xks/cdiv.ts';
import { decodeCiphertextMetadata } from '../../../src/xks/ciphertext-metadata.ts';
import { isXksError, XksError } from '../../../src/xks/errors.ts';
import { buildGcmAad } from '../../../src/xks/gcm-aad.ts';
import type { CallContext, EkmHealth, GcmInput, GcmOutput, KeyInfo, KeyProvider, KeyRef, KeyUsage } from '../../../src/xks/key-provider-port.ts';
import type { EncryptResponse } from '../../../src/xks/key-store.ts';
import { LocalKeyStore, type LocalKeyStoreOptions } from '../../../src/xks/local-key-store.ts';
import type { DecryptRequest, EncryptRequest } from '../../../src/xks/requests.ts';

const ctx = (ms = 2000): CallContext => ({ deadline: Date.now() + ms, signal: AbortSignal.timeout(ms) });
const requestMetadata = { kmsRequestId: 'unit', kmsOperation: 'Encrypt', awsPrincipalArn: 'arn:aws:iam::1:user/a' };
const PLAINTEXT = Buffer.from('sixteen bytes ok');
const AAD = Buffer.from('project=nile');

interface DoubleKey {
  usages: KeyUsage[];
  enabled: boolean;
  /** Material of versions 1..n (index 0 is version 1). */
  versions: Buffer[];
}

/** A call the double received, for tests that check what the key store asked for. */
interface SeenCall {
  op: 'encrypt' | 'decrypt';
  key: KeyRef;
  aad: Buffer;
}

/**
 * Test double of a KeyProvider (not a real key manager): AES-256-GCM in memory, versions
 * numbered from 1. `bendEncrypt` / `bendDecrypt` change what it returns; `failWith`
 * makes every call throw.
 */
class InMemoryProviderDouble implements KeyProvider {
  readonly kind = 'in-memory test double';
  readonly keys = new Map<string, DoubleKey>();
  readonly calls: SeenCall[] = [];
  bendEncrypt: ((out: GcmOutput) => GcmOutput) | undefined;
  bendDecrypt: ((plaintext: Buffer) => Uint8Array) | undefined;
  /** Thrown by the verification or any decrypt instead of decrypting. */
  decryptError: XksError | undefined;
  failWith: XksError | undefined;
  fleet: EkmHealth[] = [{ id: 'double-1', model: 'test double', healthStatus: 'ACTIVE' }];
  closed = false;

  constructor() {
    this.keys.set('foo', { usages: ['ENCRYPT', 'DECRYPT'], enabled: true, versions: [randomBytes(32)] });
    this.keys.set('encrypt_only', { usages: ['ENCRYPT'], enabled: true, versions: [randomBytes(32)] });
    this.keys.set('decrypt_only', { usages: ['DECRYPT'], enabled: true, versions: [randomBytes(32)] });
    this.keys.set('disabled', { usages: ['ENCRYPT', 'DECRYPT'], enabled: false, versions: [randomBytes(32)] });
  }

  async init(): Promise<void> {}

  /** Calls that went the asynchronous way (describe, encrypt, decrypt). */
  asyncCalls = 0;

  async describe(keyId: string): Promise<KeyInfo> {
    this.asyncCalls++;
    return this.describeAtOnce(keyId);
  }

  async encrypt(ref: KeyRef, plaintext: Uint8Array, aad: Uint8Array): Promise<GcmOutput> {
    this.asyncCalls++;
    return this.encryptAtOnce(ref, plaintext, aad);
  }

  async decrypt(ref: KeyRef, input: GcmInput, aad: Uint8Array): Promise<Uint8Array> {
    this.asyncCalls++;
    return this.decryptAtOnce(ref, input, aad);
  }

  describeAtOnce(keyId: string): KeyInfo {
    const key = this.#key(keyId);
    return { keyId, usages: key.usages, enabled: key.enabled, currentVersion: key.versions.length };
  }

  encryptAtOnce(ref: KeyRef, plaintext: Uint8Array, aad: Uint8Array): GcmOutput {
    this.calls.push({ op: 'encrypt', key: ref, aad: Buffer.from(aad) });
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#material(ref, 'encrypt'), iv);
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const out = { iv, ciphertext, tag: cipher.getAuthTag() };
    return this.bendEncrypt === undefined ? out : this.bendEncrypt(out);
  }

  decryptAtOnce(ref: KeyRef, input: GcmInput, aad: Uint8Array): Uint8Array {
    this.calls.push({ op: 'decrypt', key: ref, aad: Buffer.from(aad) });
    if (this.decryptError !== undefined) throw this.decryptError;
    const decipher = createDecipheriv('aes-256-gcm', this.#material(ref, 'decrypt'), input.iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(input.tag);
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(input.ciphertext), decipher.final()]);
    } catch {
      throw new XksError('InvalidCiphertextException', 'authentication failed');
    }
    return this.bendDecrypt === undefined ? plaintext : this.bendDecrypt(plaintext);
  }

  async health(): Promise<EkmHealth[]> {
    return this.fleet;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  rotate(keyId: string): void {
    this.#key(keyId).versions.push(randomBytes(32));
  }

  #key(keyId: string): DoubleKey {
    if (this.failWith !== undefined) throw this.failWith;
    const key = this.keys.get(keyId);
    if (key === undefined) throw new XksError('KeyNotFoundException', `no key ${keyId}`);
    return key;
  }

  #material(ref: KeyRef, op: 'encrypt' | 'decrypt'): Buffer {
    const material = this.#key(ref.keyId).versions[ref.version - 1];
    if (material === undefined) throw new XksError(op === 'decrypt' ? 'InvalidCiphertextException' : 'InternalException', `no version ${ref.version}`);
    return material;
  }
}

/**
 * The same double answering at once as well (the port's describeNow, encryptNow,
 * decryptNow, as the software keystore does for a key in memory): the key store must apply
 * every rule the same way on that path.
 */
class ImmediateProviderDouble extends InMemoryProviderDouble {
  describeNow(keyId: string): KeyInfo | undefined {
    return this.describeAtOnce(keyId);
  }

  encryptNow(ref: KeyRef, plaintext: Uint8Array, aad: Uint8Array): GcmOutput | undefined {
    return this.encryptAtOnce(ref, plaintext, aad);
  }

  decryptNow(ref: KeyRef, input: GcmInput, aad: Uint8Array): Uint8Array | undefined {
    return this.decryptAtOnce(ref, input, aad);
  }
}

/** The double the suite below runs against (it runs once for each). */
let Double: typeof InMemoryProviderDouble = InMemoryProviderDouble;

function setup(options: Partial<LocalKeyStoreOptions> = {}) {
  const provider = new Double();
  const store = new LocalKeyStore(provider, {
    prefix: 'unit',
    foreignCiphertextAad: 'spec',
    healthCacheMs: 30_000,
    fleetSize: 1,
    proxyModel: 'xks-proxy unit',
    ekmVendor: 'test double vendor',
    ...options,
  });
  return { provider, store };
}

const encryptReq = (plaintext = PLAINTEXT, aad: Buffer | undefined = AAD, wantsCdiv = false): EncryptRequest => ({
  requestMetadata,
  plaintext,
  aad,
  wantsCdiv,
});
const decryptReq = (enc: EncryptResponse, aad: Buffer | undefined = AAD): DecryptRequest => ({
  requestMetadata,
  ciphertext: Buffer.from(enc.ciphertext, 'base64'),
  iv: Buffer.from(enc.initializationVector, 'base64'),
  tag: Buffer.from(enc.authenticationTag, 'base64'),
  aad,
  ciphertextMetadata: enc.ciphertextMetadata === undefined ? undefined : Buffer.from(enc.ciphertextMetadata, 'base64'),
});

async function errorOf(p: Promise<unknown>): Promise<XksError> {
  try {
    await p;
  } catch (e) {
    if (isXksError(e)) return e;
    throw e;
  }
  throw new Error('expected an XksError, got an answer');
}

const cryptoCalls = (provider: InMemoryProviderDouble) => provider.calls.map((c) => c.op);

describe.each([
  ['a provider that answers asynchronously', InMemoryProviderDouble],
  ['a provider that answers at once (describeNow, encryptNow, decryptNow)', ImmediateProviderDouble],
])('LocalKeyStore with %s', (_name, double) => {
  beforeAll(() => {
    Double = double;
  });

  it('makes the asynchronous provider calls only when the provider cannot answer at once', async () => {
    const { provider, store } = setup();
    const enc = await store.encrypt('foo', encryptReq(PLAINTEXT, AAD, true), ctx());
    await store.decrypt('foo', decryptReq(enc), ctx());
    // describe, encrypt and the verification decrypt; then describe and decrypt.
    expect(provider.asyncCalls).toBe(double === ImmediateProviderDouble ? 0 : 5);
    expect(cryptoCalls(provider)).toEqual(['encrypt', 'decrypt', 'decrypt']);
  });

  it('round-trips, recording the key version in ciphertextMetadata and decrypting with the version it names after a rotation', async () => {
    const { provider, store } = setup();
    const enc = await store.encrypt('foo', encryptReq(), ctx());
    expect(decodeCiphertextMetadata(Buffer.from(enc.ciphertextMetadata!, 'base64'))).toEqual({ keyVersion: 1, construction: 'spec' });
    provider.rotate('foo');
    const dec = await store.decrypt('foo', decryptReq(enc), ctx());
    expect(Buffer.from(dec.plaintext, 'base64').equals(PLAINTEXT)).toBe(true);
    expect(provider.calls.map((c) => [c.op, c.key.version])).toEqual([
      ['encrypt', 1],
      ['decrypt', 1],
    ]);
    // New ciphertexts use the current version.
    const next = await store.encrypt('foo', encryptReq(), ctx());
    expect(decodeCiphertextMetadata(Buffer.from(next.ciphertextMetadata!, 'base64'))?.keyVersion).toBe(2);
  });

  it('gives the provider the spec AAD construction over the request AAD and the metadata', async () => {
    const { provider, store } = setup();
    const enc = await store.encrypt('foo', encryptReq(), ctx());
    const metadata = Buffer.from(enc.ciphertextMetadata!, 'base64');
    expect(provider.calls[0]!.aad.equals(buildGcmAad(AAD, metadata, 'spec'))).toBe(true);
  });

  it('decrypts a ciphertext without our metadata with the current version and the foreignCiphertextAad construction', async () => {
    const { provider, store } = setup({ foreignCiphertextAad: 'aws-sample-sha256' });
    provider.rotate('foo');
    const out = await provider.encrypt({ keyId: 'foo', version: 2 }, PLAINTEXT, buildGcmAad(AAD, undefined, 'aws-sample-sha256'));
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    const dec = await store.decrypt(
      'foo',
      decryptReq({ ciphertext: b64(out.ciphertext), initializationVector: b64(out.iv), authenticationTag: b64(out.tag) }),
      ctx(),
    );
    expect(Buffer.from(dec.plaintext, 'base64').equals(PLAINTEXT)).toBe(true);
    expect(provider.calls.at(-1)!.key).toEqual({ keyId: 'foo', version: 2 });
  });

  describe('what the provider returns from encrypt is checked before it reaches KMS', () => {
    it.each([
      ['a 15-byte tag', (o: GcmOutput) => ({ ...o, tag: o.tag.subarray(0, 15) })],
      ['a 17-byte tag', (o: GcmOutput) => ({ ...o, tag: Buffer.concat([o.tag, Buffer.alloc(1)]) })],
      ['an 8-byte IV', (o: GcmOutput) => ({ ...o, iv: o.iv.subarray(0, 8) })],
      ['a 13-byte IV', (o: GcmOutput) => ({ ...o, iv: Buffer.concat([o.iv, Buffer.alloc(1)]) })],
      ['a ciphertext shorter than the plaintext', (o: GcmOutput) => ({ ...o, ciphertext: o.ciphertext.subarray(1) })],
      ['a ciphertext longer than the plaintext (the tag left appended)', (o: GcmOutput) => ({ ...o, ciphertext: Buffer.concat([o.ciphertext, o.tag]) })],
    ])('answers InternalException, not a malformed response, for %s', async (_name, bend) => {
      const { provider, store } = setup();
      provider.bendEncrypt = bend;
      const e = await errorOf(store.encrypt('foo', encryptReq(), ctx()));
      expect([e.errorName, e.message]).toEqual(['InternalException', 'The key manager returned a malformed AES-GCM result.']);
    });

    it('accepts a 16-byte IV (the spec allows 12 or 16)', async () => {
      const { provider, store } = setup();
      provider.bendEncrypt = (o) => ({ ...o, iv: Buffer.alloc(16, 7) });
      const enc = await store.encrypt('foo', encryptReq(), ctx());
      expect(enc.initializationVector).toBe(Buffer.alloc(16, 7).toString('base64'));
    });

    it('encodes output that is a Uint8Array view into a larger buffer (not a Buffer) by its own bytes only', async () => {
      const { provider, store } = setup();
      let real: GcmOutput | undefined;
      provider.bendEncrypt = (o) => {
        real = o;
        // Each field a plain Uint8Array at an offset into one shared ArrayBuffer, as a native binding may return.
        const joined = new Uint8Array([0xee, ...o.iv, 0xee, ...o.ciphertext, 0xee, ...o.tag, 0xee]);
        const ivAt = 1;
        const ctAt = ivAt + o.iv.length + 1;
        const tagAt = ctAt + o.ciphertext.length + 1;
        return {
          iv: new Uint8Array(joined.buffer, ivAt, o.iv.length),
          ciphertext: new Uint8Array(joined.buffer, ctAt, o.ciphertext.length),
          tag: new Uint8Array(joined.buffer, tagAt, o.tag.length),
        };
      };
      const enc = await store.encrypt('foo', encryptReq(PLAINTEXT, AAD, true), ctx());
      expect(enc.initializationVector).toBe(Buffer.from(real!.iv).toString('base64'));
      expect(enc.ciphertext).toBe(Buffer.from(real!.ciphertext).toString('base64'));
      expect(enc.authenticationTag).toBe(Buffer.from(real!.tag).toString('base64'));
      provider.bendEncrypt = undefined;
      // And a decrypt whose plaintext is such a view answers exactly the plaintext.
      provider.bendDecrypt = (p) => new Uint8Array([0xee, ...p, 0xee]).subarray(1, p.length + 1);
      expect((await store.decrypt('foo', decryptReq(enc), ctx())).plaintext).toBe(PLAINTEXT.toString('base64'));
    });
  });

  describe('CDIV (spec Appendix C)', () => {
    it('computes the CDIV over the response fields and verifies by decrypting the same output with the same key version and AAD', async () => {
      const { provider, store } = setup();
      const enc = await store.encrypt('foo', encryptReq(PLAINTEXT, AAD, true), ctx());
      const b = (s: string) => Buffer.from(s, 'base64');
      expect(enc.ciphertextDataIntegrityValue).toBe(
        computeCdiv({
          aad: AAD,
          ciphertextMetadata: b(enc.ciphertextMetadata!),
          iv: b(enc.initializationVector),
          ciphertext: b(enc.ciphertext),
          tag: b(enc.authenticationTag),
        }),
      );
      const [encryptCall, verifyCall] = provider.calls;
      expect(verifyCall).toEqual({ op: 'decrypt', key: encryptCall!.key, aad: encryptCall!.aad });
    });

    it('makes no verification decrypt and returns no CDIV when none was asked for', async () => {
      const { provider, store } = setup();
      const enc = await store.encrypt('foo', encryptReq(), ctx());
      expect(enc.ciphertextDataIntegrityValue).toBeUndefined();
      expect(cryptoCalls(provider)).toEqual(['encrypt']);
    });

    it('answers InternalException when the verification decrypt returns another plaintext', async () => {
      const { provider, store } = setup();
      provider.bendDecrypt = (p) => Buffer.concat([p.subarray(0, -1), Buffer.from([p[p.length - 1]! ^ 1])]);
      const e = await errorOf(store.encrypt('foo', encryptReq(PLAINTEXT, AAD, true), ctx()));
      expect([e.errorName, e.message]).toEqual(['InternalException', 'The key manager produced a ciphertext that does not decrypt to the plaintext.']);
    });

    it('answers InternalException, never the Decrypt-only InvalidCiphertextException, when the verification decrypt fails authentication', async () => {
      const { provider, store } = setup();
      provider.bendEncrypt = (o) => ({ ...o, tag: Buffer.alloc(16) });
      const e = await errorOf(store.encrypt('foo', encryptReq(PLAINTEXT, AAD, true), ctx()));
      expect(e.errorName).toBe('InternalException');
      expect(cryptoCalls(provider)).toEqual(['encrypt', 'decrypt']);
    });

    it('passes other verification decrypt errors on as they are (a key manager timing out)', async () => {
      const { provider, store } = setup();
      provider.decryptError = new XksError('DependencyTimeoutException', 'too slow');
      expect((await errorOf(store.encrypt('foo', encryptReq(PLAINTEXT, AAD, true), ctx()))).errorName).toBe('DependencyTimeoutException');
    });
  });

  describe('key lookup, usage and state, checked before any crypto', () => {
    it('passes KeyNotFoundException on for every operation', async () => {
      const { provider, store } = setup();
      const enc = await setup().store.encrypt('foo', encryptReq(), ctx());
      expect((await errorOf(store.getKeyMetadata('nope', { requestMetadata }, ctx()))).errorName).toBe('KeyNotFoundException');
      expect((await errorOf(store.encrypt('nope', encryptReq(), ctx()))).errorName).toBe('KeyNotFoundException');
      expect((await errorOf(store.decrypt('nope', decryptReq(enc), ctx()))).errorName).toBe('KeyNotFoundException');
      expect(provider.calls).toEqual([]);
    });

    it('reports a key usages and status as metadata', async () => {
      const { store } = setup();
      expect(await store.getKeyMetadata('encrypt_only', { requestMetadata }, ctx())).toEqual({
        keySpec: 'AES_256',
        keyUsage: ['ENCRYPT'],
        keyStatus: 'ENABLED',
      });
      expect(await store.getKeyMetadata('disabled', { requestMetadata }, ctx())).toEqual({
        keySpec: 'AES_256',
        keyUsage: ['ENCRYPT', 'DECRYPT'],
        keyStatus: 'DISABLED',
      });
    });

    it('refuses a key without ENCRYPT usage to encrypt, without DECRYPT to decrypt, with InvalidKeyUsageException', async () => {
      const { provider, store } = setup();
      const enc = await store.encrypt('encrypt_only', encryptReq(), ctx());
      provider.calls.length = 0;
      expect((await errorOf(store.encrypt('decrypt_only', encryptReq(), ctx()))).errorName).toBe('InvalidKeyUsageException');
      expect((await errorOf(store.decrypt('encrypt_only', decryptReq(enc), ctx()))).errorName).toBe('InvalidKeyUsageException');
      expect(provider.calls).toEqual([]);
    });

    it('refuses a CDIV for a key that cannot decrypt (the verification decrypt is not allowed) before encrypting', async () => {
      const { provider, store } = setup();
      const e = await errorOf(store.encrypt('encrypt_only', encryptReq(PLAINTEXT, AAD, true), ctx()));
      expect(e.errorName).toBe('InvalidKeyUsageException');
      expect(e.message).toMatch(/ciphertextDataIntegrityValue/);
      expect(provider.calls).toEqual([]);
    });

    it('refuses a disabled key with InvalidStateException for encrypt and decrypt', async () => {
      const { provider, store } = setup();
      provider.keys.get('disabled')!.enabled = true;
      const enc = await store.encrypt('disabled', encryptReq(), ctx());
      provider.keys.get('disabled')!.enabled = false;
      provider.calls.length = 0;
      expect((await errorOf(store.encrypt('disabled', encryptReq(), ctx()))).errorName).toBe('InvalidStateException');
      expect((await errorOf(store.decrypt('disabled', decryptReq(enc), ctx()))).errorName).toBe('InvalidStateException');
      expect(provider.calls).toEqual([]);
    });
  });

  describe('health', () => {
    it('answers the spec fields, cutting the key managers to ten and leaving out their detail', async () => {
      const { provider, store } = setup({ fleetSize: 3 });
      provider.fleet = Array.from({ length: 12 }, (_, i): EkmHealth => ({ id: `hsm-${i}`, model: 'm', healthStatus: 'DEGRADED', detail: 'secret-ish detail' }));
      const health = await store.health({ requestMetadata }, ctx());
      expect(health).toEqual({
        xksProxyFleetSize: 3,
        xksProxyVendor: 'xks-proxy open source project',
        xksProxyModel: 'xks-proxy unit',
        ekmVendor: 'test double vendor',
        ekmFleetDetails: provider.fleet.slice(0, 10).map(({ id, model, healthStatus }) => ({ id, model, healthStatus })),
      });
    });

    it('asks a counted fleet size on every answer', async () => {
      let live = 2;
      const { store } = setup({ fleetSize: () => live });
      expect((await store.health({ requestMetadata }, ctx())).xksProxyFleetSize).toBe(2);
      live = 5;
      expect((await store.health({ requestMetadata }, ctx())).xksProxyFleetSize).toBe(5);
    });

    it('reads DEGRADED at once when a live call fails with a key manager failure, not after a client error', async () => {
      const { provider, store } = setup();
      await store.health({ requestMetadata }, ctx());
      await errorOf(store.encrypt('nope', encryptReq(), ctx()));
      expect((await store.readiness(ctx()))[0]!.healthStatus).toBe('ACTIVE');
      provider.failWith = new XksError('InternalException', 'the HSM is gone', { dependencyFailure: true });
      await errorOf(store.encrypt('foo', encryptReq(), ctx()));
      expect((await store.readiness(ctx()))[0]).toMatchObject({ healthStatus: 'DEGRADED', detail: expect.stringMatching(/the HSM is gone/) });
    });
  });

  it('closes its provider', async () => {
    const { provider, store } = setup();
    await store.close();
    expect(provider.closed).toBe(true);
  });
});

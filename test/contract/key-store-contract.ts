/**
 * ONE suite of key store behaviour, run unchanged against every provider (software
 * keystore on a file and on PostgreSQL, PKCS#11 on SoftHSM2 and NSS, KMIP on PyKMIP) and
 * against the upstream key store (forwarding to another proxy of ours). Each is set up
 * exactly as its demo sets it up (keys foo, encrypt_only_key, decrypt_only_key,
 * impotent_key and a health canary), and the key store is built from config as the proxy
 * builds it.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { prepareDemo, type DemoProvider } from '../../src/cli/demo-command.ts';
import type { CallContext, KeyProvider } from '../../src/xks/key-provider-port.ts';
import { localKeyStore } from '../../src/server/build-tenants.ts';
import { createProvider } from '../../src/providers/registry.ts';
import { decodeCiphertextMetadata, encodeCiphertextMetadata } from '../../src/xks/ciphertext-metadata.ts';
import { isXksError } from '../../src/xks/errors.ts';
import type { KeyStore } from '../../src/xks/key-store.ts';
import type { DecryptRequest, EncryptRequest, RequestMetadata } from '../../src/xks/requests.ts';
import { expectedCdiv } from '../support/xks-client.ts';

const md = (op: string): RequestMetadata => ({ kmsRequestId: 'contract', kmsOperation: op, awsPrincipalArn: 'arn:aws:iam::1:user/a' });
const ctx = (ms = 2000): CallContext => ({ deadline: Date.now() + ms, signal: AbortSignal.timeout(ms) });
const bytes = (n: number, fill = 0x5a) => Buffer.alloc(n, fill);

async function errorName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isXksError(e)) return e.errorName;
    throw e;
  }
  return 'no error';
}

/** What the contract runs against: a key store and the provider that holds its keys. */
export interface ContractSubject {
  keyStore: KeyStore;
  /**
   * The provider holding the keys the key store serves, initialised, for what only it can
   * do: make a ciphertext the way the AWS sample proxy did, and answer the seam's own rules.
   * For the upstream key store it is the provider of the proxy it forwards to.
   */
  provider: KeyProvider;
  /** Stops what the subject started (the key store is closed by the suite). */
  stop(): Promise<void>;
}

/** Sets up one subject in a private temp dir. */
export type OpenContractSubject = (dataDir: string) => Promise<ContractSubject>;

/** A provider's demo, served by LocalKeyStore as `npm run demo[:<provider>]` serves it. */
function openDemoKeyStore(provider: DemoProvider): OpenContractSubject {
  return async (dataDir) => {
    const demo = await prepareDemo(provider, dataDir, { throwaway: true });
    const ks = demo.loaded.config.keyStores[0]!;
    // Ciphertexts without our metadata are read as the AWS sample proxy made them.
    ks.foreignCiphertextAad = 'aws-sample-sha256';
    const opts = { logger: pino({ level: 'silent' }), configDir: demo.loaded.configDir, env: process.env };
    if (ks.provider.type === 'upstream') throw new Error('a demo serves a KeyProvider');
    // The raw provider is the one inside the key store (its guard runs init).
    const raw = createProvider(ks.provider, opts);
    const keyStore = localKeyStore(ks, demo.loaded.config, raw, opts);
    await keyStore.readiness(ctx(30_000));
    return { keyStore, provider: raw, stop: demo.stop };
  };
}

/** Registers the contract for one provider's demo, or for a key store `open` sets up. */
export function keyStoreContract(name: DemoProvider): void;
export function keyStoreContract(name: string, open: OpenContractSubject): void;
export function keyStoreContract(name: string, open: OpenContractSubject = openDemoKeyStore(name as DemoProvider)): void {
  describe(`key store contract: ${name}`, () => {
    let dataDir: string;
    let subject: ContractSubject | undefined;
    let keyStore: KeyStore;
    let raw: KeyProvider;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), `xks-contract-${name}-`));
      subject = await open(dataDir);
      keyStore = subject.keyStore;
      raw = subject.provider;
    }, 120_000);

    afterAll(async () => {
      await subject?.keyStore.close();
      await subject?.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    const encryptReq = (plaintext: Buffer, aad?: Buffer, wantsCdiv = false): EncryptRequest => ({ requestMetadata: md('Encrypt'), plaintext, aad, wantsCdiv });
    const decryptReq = (
      enc: { ciphertext: string; initializationVector: string; authenticationTag: string; ciphertextMetadata?: string },
      aad?: Buffer,
    ): DecryptRequest => ({
      requestMetadata: md('Decrypt'),
      ciphertext: Buffer.from(enc.ciphertext, 'base64'),
      iv: Buffer.from(enc.initializationVector, 'base64'),
      tag: Buffer.from(enc.authenticationTag, 'base64'),
      aad,
      ciphertextMetadata: enc.ciphertextMetadata === undefined ? undefined : Buffer.from(enc.ciphertextMetadata, 'base64'),
    });

    it('reports every key manager ACTIVE in deep health', async () => {
      const health = await keyStore.health({ requestMetadata: md('KmsHealthCheck') }, ctx());
      expect(health.ekmFleetDetails.length).toBeGreaterThanOrEqual(1);
      expect(health.ekmFleetDetails.every((e) => e.healthStatus === 'ACTIVE')).toBe(true);
    });

    it.each([
      ['foo', ['ENCRYPT', 'DECRYPT']],
      ['encrypt_only_key', ['ENCRYPT']],
      ['decrypt_only_key', ['DECRYPT']],
      ['impotent_key', []],
    ])('reports the usages of %s', async (keyId, usages) => {
      const meta = await keyStore.getKeyMetadata(keyId, { requestMetadata: md('DescribeKey') }, ctx());
      expect(meta).toEqual({ keySpec: 'AES_256', keyUsage: usages, keyStatus: 'ENABLED' });
    });

    it('answers an unknown key with KeyNotFoundException', async () => {
      expect(await errorName(keyStore.getKeyMetadata('no_such_key', { requestMetadata: md('DescribeKey') }, ctx()))).toBe('KeyNotFoundException');
      expect(await errorName(keyStore.encrypt('no_such_key', encryptReq(bytes(4)), ctx()))).toBe('KeyNotFoundException');
    });

    it.each([
      ['no AAD', bytes(32), undefined],
      ['an AAD', bytes(32), Buffer.from('project=nile,department=marketing')],
      ['an empty AAD', bytes(32), Buffer.alloc(0)],
      ['the largest sizes (4300-byte plaintext, 8192-byte AAD)', bytes(4300, 1), bytes(8192, 2)],
      ['a one-byte plaintext', bytes(1), undefined],
    ])('round-trips with %s', async (_name, plaintext, aad) => {
      const enc = await keyStore.encrypt('foo', encryptReq(plaintext, aad), ctx());
      expect(Buffer.from(enc.ciphertext, 'base64')).toHaveLength(plaintext.length);
      expect(Buffer.from(enc.authenticationTag, 'base64')).toHaveLength(16);
      expect([12, 16]).toContain(Buffer.from(enc.initializationVector, 'base64').length);
      const dec = await keyStore.decrypt('foo', decryptReq(enc, aad), ctx());
      expect(Buffer.from(dec.plaintext, 'base64').equals(plaintext)).toBe(true);
    });

    it('uses a fresh IV for every encryption', async () => {
      const ivs = new Set<string>();
      for (let i = 0; i < 30; i++) ivs.add((await keyStore.encrypt('foo', encryptReq(bytes(16)), ctx())).initializationVector);
      expect(ivs.size).toBe(30);
    });

    it('returns a CDIV that matches the response fields', async () => {
      const aad = Buffer.from('cdiv');
      const enc = await keyStore.encrypt('foo', encryptReq(bytes(20), aad, true), ctx());
      const expected = expectedCdiv(aad, enc);
      expect(enc.ciphertextDataIntegrityValue).toBe(expected);
    });

    describe('tamper detection', () => {
      const aad = Buffer.from('aad-for-tamper');
      const flip = (b64: string, i = 0) => {
        const b = Buffer.from(b64, 'base64');
        b[i] = b[i]! ^ 0x01;
        return b.toString('base64');
      };
      it.each([
        ['ciphertext', (e: any) => ({ ...e, ciphertext: flip(e.ciphertext) }), aad],
        ['tag', (e: any) => ({ ...e, authenticationTag: flip(e.authenticationTag) }), aad],
        ['IV', (e: any) => ({ ...e, initializationVector: flip(e.initializationVector) }), aad],
        ['ciphertextMetadata', (e: any) => ({ ...e, ciphertextMetadata: flip(e.ciphertextMetadata, 6) }), aad],
        ['key version in ciphertextMetadata', (e: any) => ({ ...e, ciphertextMetadata: flip(e.ciphertextMetadata, 3) }), aad],
        ['missing ciphertextMetadata', (e: any) => ({ ...e, ciphertextMetadata: undefined }), aad],
        ['AAD', (e: any) => e, Buffer.from('aad-for-tampeR')],
        ['missing AAD', (e: any) => e, undefined],
      ])('rejects a changed %s with InvalidCiphertextException', async (_name, change, decryptAad) => {
        const enc = await keyStore.encrypt('foo', encryptReq(bytes(24), aad), ctx());
        expect(await errorName(keyStore.decrypt('foo', decryptReq(change(enc), decryptAad), ctx()))).toBe('InvalidCiphertextException');
      });
    });

    it('enforces usages: encrypt-only cannot decrypt, decrypt-only cannot encrypt, impotent can neither', async () => {
      const enc = await keyStore.encrypt('encrypt_only_key', encryptReq(bytes(8)), ctx());
      expect(await errorName(keyStore.decrypt('encrypt_only_key', decryptReq(enc), ctx()))).toBe('InvalidKeyUsageException');
      expect(await errorName(keyStore.encrypt('encrypt_only_key', encryptReq(bytes(8), undefined, true), ctx()))).toBe('InvalidKeyUsageException');
      expect(await errorName(keyStore.encrypt('decrypt_only_key', encryptReq(bytes(8)), ctx()))).toBe('InvalidKeyUsageException');
      expect(await errorName(keyStore.encrypt('impotent_key', encryptReq(bytes(8)), ctx()))).toBe('InvalidKeyUsageException');
    });

    it('does not let one key decrypt what another key encrypted', async () => {
      const enc = await keyStore.encrypt('foo', encryptReq(bytes(8)), ctx());
      expect(await errorName(keyStore.decrypt('decrypt_only_key', decryptReq(enc), ctx()))).toBe('InvalidCiphertextException');
    });

    describe('a ciphertext naming a key version that does not exist (the rule of keyVersionNotFound in the port)', () => {
      const aad = Buffer.from('aad-for-versions');

      it('is InvalidCiphertextException from the key store, never KeyNotFoundException (the key exists)', async () => {
        const enc = await keyStore.encrypt('foo', encryptReq(bytes(12), aad), ctx());
        const issued = decodeCiphertextMetadata(Buffer.from(enc.ciphertextMetadata!, 'base64'))!.keyVersion;
        // Just past the current one (the software keystore then checks its store once), far past, the largest.
        for (const version of [issued + 1, issued + 1000, 0xffffffff]) {
          const forged = { ...enc, ciphertextMetadata: encodeCiphertextMetadata(version).toString('base64') };
          const e = await keyStore.decrypt('foo', decryptReq(forged, aad), ctx()).then(
            () => undefined,
            (err: unknown) => err,
          );
          // The provider's version check answered, not a GCM tag failure behind it (the forged metadata is in the AAD too).
          expect(isXksError(e) ? [e.errorName, e.message] : e).toEqual([
            'InvalidCiphertextException',
            expect.stringContaining(`names version ${version} of key foo, which does not exist`),
          ]);
        }
      });

      it('is InvalidCiphertextException from the provider itself for decrypt, InternalException for encrypt', async () => {
        const { currentVersion } = await raw.describe('foo', ctx());
        const out = await raw.encrypt({ keyId: 'foo', version: currentVersion }, bytes(12), aad, ctx());
        // The same GCM input decrypts under the version that exists: only the version is wrong below.
        expect(Buffer.from(await raw.decrypt({ keyId: 'foo', version: currentVersion }, out, aad, ctx())).equals(bytes(12))).toBe(true);
        for (const version of [currentVersion + 1, currentVersion + 1000]) {
          expect([version, await errorName(raw.decrypt({ keyId: 'foo', version }, out, aad, ctx()))]).toEqual([version, 'InvalidCiphertextException']);
          expect([version, await errorName(raw.encrypt({ keyId: 'foo', version }, bytes(12), aad, ctx()))]).toEqual([version, 'InternalException']);
        }
      });
    });

    it('answers at once (describeNow, encryptNow, decryptNow), where the provider can, as its asynchronous calls answer', async () => {
      // A provider answers describe at once from memory (the software keystore, PKCS#11's key
      // cache), and encrypt and decrypt only when its keys are in memory: then both.
      expect(raw.encryptNow === undefined).toBe(raw.decryptNow === undefined);
      const described = await raw.describe('foo', ctx()); // warms a cache
      if (raw.describeNow !== undefined) expect(raw.describeNow('foo', ctx())).toEqual(described);
      if (raw.encryptNow === undefined || raw.decryptNow === undefined) return;
      const ref = { keyId: 'foo', version: described.currentVersion };
      const aad = Buffer.from('aad-for-immediate-calls');
      // What one way encrypts, the other decrypts.
      const atOnce = raw.encryptNow(ref, bytes(12), aad, ctx())!;
      expect(Buffer.from(await raw.decrypt(ref, atOnce, aad, ctx())).equals(bytes(12))).toBe(true);
      const later = await raw.encrypt(ref, bytes(12), aad, ctx());
      expect(Buffer.from(raw.decryptNow(ref, later, aad, ctx())!).equals(bytes(12))).toBe(true);
      // Refusals are thrown as the asynchronous calls reject with them.
      const badTag = { ...later, tag: Buffer.alloc(16) };
      expect(() => raw.decryptNow!(ref, badTag, aad, ctx())).toThrow(expect.objectContaining({ errorName: 'InvalidCiphertextException' }));
      expect(await errorName(raw.decrypt(ref, badTag, aad, ctx()))).toBe('InvalidCiphertextException');
      expect(() => raw.encryptNow!({ ...ref, version: ref.version + 1 }, bytes(12), aad, ctx())).toThrow(
        expect.objectContaining({ errorName: 'InternalException' }),
      );
    });

    describe('ciphertexts migrated from the AWS sample proxy (foreignCiphertextAad: aws-sample-sha256)', () => {
      /** The sample proxy's GCM AAD, built here by hand: uint16(len aad) || sha256(aad) || uint8(0). */
      function sampleProxyAad(aad: Buffer): Buffer {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(aad.length);
        return Buffer.concat([len, createHash('sha256').update(aad).digest(), Buffer.from([0])]);
      }

      /** What the sample proxy returned: iv, ciphertext and tag, no ciphertextMetadata. */
      async function sampleProxyEncrypt(plaintext: Buffer, aad: Buffer) {
        // Foreign ciphertexts are decrypted with the key's current version.
        const { currentVersion } = await raw.describe('foo', ctx());
        const out = await raw.encrypt({ keyId: 'foo', version: currentVersion }, plaintext, sampleProxyAad(aad), ctx());
        const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
        return { ciphertext: b64(out.ciphertext), initializationVector: b64(out.iv), authenticationTag: b64(out.tag) };
      }

      it('decrypts a ciphertext made with SHA-256(AAD) and no metadata', async () => {
        const aad = Buffer.from('legacy-context');
        const plaintext = Buffer.from('made by the sample proxy');
        const dec = await keyStore.decrypt('foo', decryptReq(await sampleProxyEncrypt(plaintext, aad), aad), ctx());
        expect(Buffer.from(dec.plaintext, 'base64').equals(plaintext)).toBe(true);
      });

      it('refuses such a ciphertext when its AAD differs', async () => {
        const enc = await sampleProxyEncrypt(bytes(8), Buffer.from('a'));
        expect(await errorName(keyStore.decrypt('foo', decryptReq(enc, Buffer.from('b')), ctx()))).toBe('InvalidCiphertextException');
      });

      it('still decrypts its own new ciphertexts, which record the spec construction', async () => {
        const aad = Buffer.from('new');
        const enc = await keyStore.encrypt('foo', encryptReq(bytes(10), aad), ctx());
        expect(Buffer.from((await keyStore.decrypt('foo', decryptReq(enc, aad), ctx())).plaintext, 'base64').equals(bytes(10))).toBe(true);
      });
    });
  });
}

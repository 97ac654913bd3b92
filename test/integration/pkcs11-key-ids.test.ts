import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pkcs11KeyProvider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { budget, errorNameOf, startProvider } from '../support/pkcs11-provider-harness.ts';
import { createSoftHsmFixture, type SoftHsmFixture } from '../support/softhsm.ts';
import { INHERITED_NAMES } from '../support/xks-fuzz.ts';

/**
 * Issue 15 item 1: an external key id that names a member every JavaScript object has
 * (`constructor`, `__proto__`, ...) was looked up in the plain-object `keyLabels` map and
 * the inherited function handed to pkcs11js as CKA_LABEL: the process aborted with
 * `free(): invalid pointer`. KMS lets a user create a key with such an XksKeyId.
 */
const INHERITED = INHERITED_NAMES;

let fx: SoftHsmFixture;
let provider: Pkcs11KeyProvider;
let mappedOnly: Pkcs11KeyProvider;

beforeAll(async () => {
  fx = await createSoftHsmFixture(['xks-key-ids']);
  fx.generateKey('xks-key-ids', 'foo', { encrypt: true, decrypt: true });
  fx.generateKey('xks-key-ids', 'toString', { encrypt: true, decrypt: true });
  provider = await startProvider(fx, { keyLabels: { alias: 'foo' } });
  mappedOnly = await startProvider(fx, { keyLabels: { alias: 'foo' }, unmappedKeys: 'mapped-only' });
});

afterAll(async () => {
  await provider?.close();
  await mappedOnly?.close();
  await fx?.cleanup();
});

describe('external key ids named like inherited object members, on a real SoftHSM2 token', () => {
  it.each(INHERITED.filter((id) => id !== 'toString'))('GetKeyMetadata and Encrypt of "%s" answer KeyNotFoundException (the process stays up)', async (id) => {
    expect(await errorNameOf(provider.describe(id, budget(2000)))).toBe('KeyNotFoundException');
    expect(await errorNameOf(provider.encrypt({ keyId: id, version: 0 }, Buffer.from('p'), Buffer.from('a'), budget(2000)))).toBe('KeyNotFoundException');
  });

  it('finds a real key that happens to be labelled "toString", and still maps configured aliases', async () => {
    expect(await provider.describe('toString', budget(2000))).toMatchObject({ keyId: 'toString', usages: ['ENCRYPT', 'DECRYPT'] });
    expect(await provider.describe('alias', budget(2000))).toMatchObject({ keyId: 'alias' });
  });

  it('with unmappedKeys mapped-only, an inherited name is not a mapping', async () => {
    for (const id of INHERITED) expect(await errorNameOf(mappedOnly.describe(id, budget(2000)))).toBe('KeyNotFoundException');
    expect(await mappedOnly.describe('alias', budget(2000))).toMatchObject({ usages: ['ENCRYPT', 'DECRYPT'] });
  });
});

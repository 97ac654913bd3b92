import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CredentialSet } from '../../../src/auth/credential-set.ts';
import { deriveSigningKey } from '../../../src/auth/sigv4-signature.ts';

const SECRET_A = 'sEcReTaAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const SECRET_B = 'sEcReTbBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=';

describe('CredentialSet', () => {
  it('accepts two credentials at once (rotation)', () => {
    const set = new CredentialSet([
      { accessKeyId: 'OLDKEYAAAAAAAAAAAAAA', secret: SECRET_A },
      { accessKeyId: 'NEWKEYBBBBBBBBBBBBBB', secret: SECRET_B },
    ]);
    expect(set.size).toBe(2);
    expect(set.lookup('OLDKEYAAAAAAAAAAAAAA')?.accessKeyId).toBe('OLDKEYAAAAAAAAAAAAAA');
    expect(set.lookup('NEWKEYBBBBBBBBBBBBBB')?.accessKeyId).toBe('NEWKEYBBBBBBBBBBBBBB');
    expect(set.lookup('OTHERKEYCCCCCCCCCCCC')).toBeUndefined();
  });

  it('derives the same signing key as the pure function, from a string or bytes', () => {
    const fromString = new CredentialSet([{ accessKeyId: 'K1', secret: SECRET_A }]).lookup('K1');
    const fromBytes = new CredentialSet([{ accessKeyId: 'K1', secret: Buffer.from(SECRET_A) }]).lookup('K1');
    const expected = deriveSigningKey(Buffer.from(SECRET_A), '20240101', 'us-east-1', 'kms-xks-proxy');
    expect(fromString?.signingKey('20240101', 'us-east-1', 'kms-xks-proxy').equals(expected)).toBe(true);
    expect(fromBytes?.signingKey('20240101', 'us-east-1', 'kms-xks-proxy').equals(expected)).toBe(true);
  });

  it('caches signing keys per scope and keeps only a few', () => {
    const cred = new CredentialSet([{ accessKeyId: 'K1', secret: SECRET_A }]).lookup('K1')!;
    const first = cred.signingKey('20240101', 'us-east-1', 'kms-xks-proxy');
    expect(cred.signingKey('20240101', 'us-east-1', 'kms-xks-proxy')).toBe(first);
    for (const day of ['02', '03', '04', '05']) cred.signingKey(`202401${day}`, 'us-east-1', 'kms-xks-proxy');
    const again = cred.signingKey('20240101', 'us-east-1', 'kms-xks-proxy');
    expect(again).not.toBe(first); // evicted, derived anew
    expect(again.equals(first)).toBe(true);
  });

  it('replaces all credentials at once and keeps unchanged ones (with their caches)', () => {
    const set = new CredentialSet([
      { accessKeyId: 'K1', secret: SECRET_A },
      { accessKeyId: 'K2', secret: SECRET_B },
    ]);
    const k1 = set.lookup('K1');
    set.replace([
      { accessKeyId: 'K1', secret: SECRET_A },
      { accessKeyId: 'K3', secret: SECRET_B },
    ]);
    expect(set.lookup('K1')).toBe(k1);
    expect(set.lookup('K2')).toBeUndefined();
    expect(set.lookup('K3')).toBeDefined();
    set.replace([{ accessKeyId: 'K1', secret: SECRET_B }]);
    expect(set.lookup('K1')).not.toBe(k1); // same id, new secret: a new credential
  });

  it('keeps the old credentials when a replacement is invalid', () => {
    const set = new CredentialSet([{ accessKeyId: 'K1', secret: SECRET_A }]);
    expect(() =>
      set.replace([
        { accessKeyId: 'K2', secret: SECRET_A },
        { accessKeyId: 'K2', secret: SECRET_B },
      ]),
    ).toThrow(/K2 is listed twice/);
    expect(set.accessKeyIds()).toEqual(['K1']);
  });

  it('refuses an empty secret or access key id, without printing secrets', () => {
    expect(() => new CredentialSet([{ accessKeyId: 'K1', secret: '' }])).toThrow(/K1: secret is empty/);
    expect(() => new CredentialSet([{ accessKeyId: '', secret: SECRET_A }])).toThrow(/access key id is empty/);
  });

  it('never shows a secret through JSON, string conversion or inspect', () => {
    const set = new CredentialSet([{ accessKeyId: 'K1', secret: SECRET_A }]);
    const cred = set.lookup('K1')!;
    const renderings = [
      JSON.stringify(set),
      JSON.stringify(cred),
      JSON.stringify({ nested: [cred] }),
      String(set),
      // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- rendering the credential is what this test checks
      `${cred}`,
      inspect(set, { showHidden: true, depth: 10 }),
      inspect(cred, { showHidden: true, depth: 10 }),
      inspect({ set, cred }, { depth: 10 }),
    ];
    for (const text of renderings) {
      expect(text).not.toContain('sEcReT');
      expect(text).toContain('K1');
    }
  });
});

import { describe, expect, it } from 'vitest';
import { parsePkcs11KeyUsage } from '../../../../src/providers/pkcs11/pkcs11-key-admin.ts';

describe('hsm keys create --usage', () => {
  it('accepts encrypt,decrypt | encrypt | decrypt | none', () => {
    expect(parsePkcs11KeyUsage('encrypt,decrypt')).toEqual({ encrypt: true, decrypt: true });
    expect(parsePkcs11KeyUsage('encrypt')).toEqual({ encrypt: true, decrypt: false });
    expect(parsePkcs11KeyUsage('decrypt')).toEqual({ encrypt: false, decrypt: true });
    expect(parsePkcs11KeyUsage('none')).toEqual({ encrypt: false, decrypt: false });
  });

  it('refuses anything else', () => {
    for (const bad of ['', 'sign', 'encrypt,wrap', 'none,encrypt']) expect(() => parsePkcs11KeyUsage(bad)).toThrow(/invalid usage/);
  });
});

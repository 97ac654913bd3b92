import { describe, expect, it } from 'vitest';
import { acquirePkcs11Module, Pkcs11LibraryParametersConflictError } from '../../../../src/providers/pkcs11/pkcs11-module-registry.ts';
import { FakePkcs11 } from './fake-pkcs11.ts';

describe('PKCS#11 module registry', () => {
  it('initializes a library once with its libraryParameters, shares it, and initializes or restarts it again with the same parameters', () => {
    const fake = new FakePkcs11();
    const a = acquirePkcs11Module('/fake/registry-a.so', () => fake, undefined, "configdir='sql:/db'");
    const b = acquirePkcs11Module('/fake/registry-a.so', () => fake, undefined, "configdir='sql:/db'");
    expect(fake.calls.get('C_Initialize')).toBe(1);
    expect(fake.libraryParameters).toBe("configdir='sql:/db'");
    fake.C_Finalize(); // behind our back
    a.reinitialize(a.generation);
    expect(fake.calls.get('C_Initialize')).toBe(2);
    expect(fake.libraryParameters).toBe("configdir='sql:/db'");
    // The restart after lost token storage (C_Finalize + C_Initialize) keeps them too.
    expect(a.restartWhenIdle(a.generation)).toBe(true);
    expect(fake.calls.get('C_Initialize')).toBe(3);
    expect(fake.libraryParameters).toBe("configdir='sql:/db'");
    b.release();
    a.release();
  });

  it('refuses a second, different configuration of a library already initialized in this process', () => {
    const fake = new FakePkcs11();
    const a = acquirePkcs11Module('/fake/registry-b.so', () => fake, undefined, "configdir='sql:/one'");
    try {
      expect(() => acquirePkcs11Module('/fake/registry-b.so', () => fake, undefined, "configdir='sql:/two'")).toThrow(Pkcs11LibraryParametersConflictError);
      expect(() => acquirePkcs11Module('/fake/registry-b.so', () => fake)).toThrow(/other libraryParameters/);
    } finally {
      a.release();
    }
    // Once released, the library may be configured anew.
    acquirePkcs11Module('/fake/registry-b.so', () => new FakePkcs11(), undefined, "configdir='sql:/two'").release();
  });
});

import { describe, expect, it } from 'vitest';
import { matchPkcs11Vendor, type Pkcs11QuirkConfig } from '../../../../src/providers/pkcs11/pkcs11-vendor-profiles.ts';

const pad = (s: string): string => s.padEnd(32);

describe('PKCS#11 vendor matcher', () => {
  // C_GetInfo strings of SoftHSM2 2.6.1 and NSS 3.87 are as measured on Debian 12; the
  // others are recognised by the library file names their vendors document.
  it.each([
    { manufacturerID: 'SoftHSM', libraryDescription: 'Implementation of PKCS11', modulePath: '/usr/lib/softhsm/libsofthsm2.so', vendor: 'softhsm' },
    {
      manufacturerID: 'Mozilla Foundation',
      libraryDescription: 'NSS Internal Crypto Services',
      modulePath: '/usr/lib/x86_64-linux-gnu/libsoftokn3.so',
      vendor: 'nss',
    },
    { manufacturerID: 'Mozilla Foundation', libraryDescription: '', modulePath: '/opt/x/renamed.so', vendor: 'nss' },
    { manufacturerID: 'Unknown', libraryDescription: '', modulePath: '/opt/cloudhsm/lib/libcloudhsm_pkcs11.so', vendor: 'cloudhsm' },
    { manufacturerID: 'SafeNet', libraryDescription: 'Chrystoki', modulePath: '/opt/x/lib.so', vendor: 'luna' },
    { manufacturerID: 'Unknown', libraryDescription: '', modulePath: '/usr/safenet/lunaclient/lib/libCryptoki2_64.so', vendor: 'luna' },
    { manufacturerID: 'nCipher Corp. Ltd', libraryDescription: '', modulePath: '/opt/x/lib.so', vendor: 'nshield' },
    { manufacturerID: 'Unknown', libraryDescription: '', modulePath: '/opt/nfast/toolkits/pkcs11/libcknfast.so', vendor: 'nshield' },
    { manufacturerID: 'Utimaco IS GmbH', libraryDescription: '', modulePath: '/opt/x/lib.so', vendor: 'utimaco' },
    { manufacturerID: 'Unknown', libraryDescription: '', modulePath: '/opt/utimaco/lib/libcs_pkcs11_R3.so', vendor: 'utimaco' },
    { manufacturerID: 'Acme HSM', libraryDescription: 'Acme', modulePath: '/opt/acme/libacme.so', vendor: undefined },
  ])('$manufacturerID + $modulePath -> $vendor', ({ manufacturerID, libraryDescription, modulePath, vendor }) => {
    expect(matchPkcs11Vendor({ manufacturerID: pad(manufacturerID), libraryDescription: pad(libraryDescription), modulePath })?.id).toBe(vendor);
  });
});

describe('PKCS#11 vendor quirks', () => {
  const config = (c: Partial<Pkcs11QuirkConfig>): Pkcs11QuirkConfig => ({ ivSource: 'os', login: 'user', readWriteSessions: false, keyCacheSeconds: 60, ...c });
  const warnings = (modulePath: string, c: Partial<Pkcs11QuirkConfig>): string[] =>
    matchPkcs11Vendor({ manufacturerID: pad(''), libraryDescription: pad(''), modulePath })?.warnings(config(c)) ?? [];

  it('tells a CloudHSM user to let the HSM generate the IV, to open read/write sessions, not to share key handles and to log in', () => {
    const path = '/opt/cloudhsm/lib/libcloudhsm_pkcs11.so';
    expect(warnings(path, {}).join('\n')).toMatch(/ivSource: token-generated[^]*readWriteSessions: true[^]*keyCacheSeconds: 0/);
    const fit = { ivSource: 'token-generated', readWriteSessions: true, keyCacheSeconds: 0 } as const;
    expect(warnings(path, fit)).toEqual([]);
    expect(warnings(path, { ...fit, login: 'none' }).join('\n')).toMatch(/<CU name>:<password>/);
  });

  it('tells an NSS user that an empty-password database needs login: none', () => {
    const path = '/usr/lib/x86_64-linux-gnu/libsoftokn3.so';
    expect(warnings(path, { login: 'user' }).join('\n')).toMatch(/use login: none/);
    expect(warnings(path, { login: 'none' }).join('\n')).not.toMatch(/login: none/);
    expect(warnings(path, { login: 'none' }).join('\n')).toMatch(/tests and demos only/);
  });

  it('warns that SoftHSM2 is a software token', () => {
    expect(warnings('/usr/lib/softhsm/libsofthsm2.so', {}).join('\n')).toMatch(/software token/);
  });
});

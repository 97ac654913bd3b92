import { basename } from 'node:path';
import type { Pkcs11ProviderConfig } from './pkcs11-config.ts';

/** What identifies a PKCS#11 library: C_GetInfo strings (blank padded) and its file. */
export interface Pkcs11LibraryIdentity {
  manufacturerID: string;
  libraryDescription: string;
  modulePath: string;
}

/** The config fields a vendor's quirks depend on. */
export type Pkcs11QuirkConfig = Pick<Pkcs11ProviderConfig, 'ivSource' | 'login' | 'readWriteSessions' | 'keyCacheSeconds'>;

/**
 * What is known about one vendor's PKCS#11 library, from its public documentation (each
 * fact and its source is in docs/pkcs11.md, section `docs`). `match` recognises the
 * library by C_GetInfo's manufacturer or description, or by the library file name the
 * vendor documents; `warnings` are the quirks `config check` reports for a config.
 */
export interface Pkcs11VendorProfile {
  id: string;
  name: string;
  /** Heading in docs/pkcs11.md with the vendor's profile and sources. */
  docs: string;
  match: (lib: { manufacturer: string; description: string; file: string }) => boolean;
  warnings: (config: Pkcs11QuirkConfig) => string[];
}

const has = (text: string, ...needles: string[]): boolean => needles.some((n) => text.includes(n));

/** Known vendors. Order matters only if two could match; they are disjoint today. */
export const PKCS11_VENDOR_PROFILES: readonly Pkcs11VendorProfile[] = [
  {
    id: 'softhsm',
    name: 'SoftHSMv2',
    docs: 'SoftHSMv2',
    match: (l) => has(l.manufacturer, 'softhsm') || has(l.file, 'libsofthsm2'),
    warnings: () => ['SoftHSMv2 is a software token (keys are files in its token directory, not in hardware): use it for tests and demos only'],
  },
  {
    id: 'nss',
    name: 'NSS softoken',
    docs: 'NSS softoken',
    match: (l) => has(l.manufacturer, 'mozilla') || has(l.file, 'libsoftokn3'),
    warnings: (c) => [
      'NSS softoken is a software token (keys live in the key4.db of its configdir): use it for tests and demos only',
      ...(c.login === 'user'
        ? ['an NSS database with an empty password needs no login: use login: none (a database with a password works with login: user)']
        : []),
    ],
  },
  {
    id: 'cloudhsm',
    name: 'AWS CloudHSM',
    docs: 'AWS CloudHSM',
    match: (l) => has(l.manufacturer, 'cloudhsm') || has(l.description, 'cloudhsm') || has(l.file, 'cloudhsm'),
    warnings: (c) => [
      ...(c.ivSource !== 'token-generated'
        ? ["AWS CloudHSM ignores the caller's AES-GCM IV on encrypt and writes its own into the IV buffer: set ivSource: token-generated"]
        : []),
      ...(c.login === 'none' ? ['AWS CloudHSM needs a crypto user login: set login: user and a PIN of the form <CU name>:<password>'] : []),
      ...(c.readWriteSessions ? [] : ['AWS CloudHSM Client SDK 5 lists read-only sessions as not supported: set readWriteSessions: true']),
      ...(c.keyCacheSeconds > 0
        ? ['AWS CloudHSM Client SDK 5 key handles are session-specific, and the provider shares cached handles between its sessions: set keyCacheSeconds: 0']
        : []),
    ],
  },
  {
    id: 'luna',
    name: 'Thales Luna',
    docs: 'Thales Luna',
    match: (l) => has(l.manufacturer, 'safenet', 'thales', 'luna') || has(l.file, 'libcryptoki2'),
    warnings: () => [
      'Thales Luna in FIPS mode (HSM policy 12) generates a 16-byte AES-GCM IV and returns it after the tag; this provider needs a caller-supplied IV, so use a partition on an HSM without that policy (see docs/pkcs11.md)',
    ],
  },
  {
    id: 'nshield',
    name: 'Entrust nShield',
    docs: 'Entrust nShield',
    match: (l) => has(l.manufacturer, 'ncipher', 'nshield', 'entrust') || has(l.file, 'libcknfast'),
    warnings: () => [
      'Entrust nShield: the module slot ("accelerator") takes no login and no private objects (use login: none there, keys are module-protected); softcards need load-sharing mode (CKNFAST_LOADSHARING=1)',
      'Entrust nShield: with CKNFAST_ASSUME_SINGLE_PROCESS=1 (the default) only keys present at C_Initialize are visible, so a key made by `hsm keys create` appears after a proxy restart; set CKNFAST_ASSUME_SINGLE_PROCESS=0 in cknfastrc to see new keys at once',
    ],
  },
  {
    id: 'utimaco',
    name: 'Utimaco CryptoServer',
    docs: 'Utimaco',
    match: (l) => has(l.manufacturer, 'utimaco') || has(l.file, 'cs_pkcs11', 'cs2_pkcs11'),
    warnings: () => [
      'Utimaco CryptoServer: the library reads its device address and operating mode from its own configuration file (cs_pkcs11_R2.cfg for PKCS#11 R2), not from this config',
    ],
  },
];

/** The profile of the vendor that made this library, or undefined for an unknown one. */
export function matchPkcs11Vendor(lib: Pkcs11LibraryIdentity): Pkcs11VendorProfile | undefined {
  const normalized = {
    manufacturer: lib.manufacturerID.trim().toLowerCase(),
    description: lib.libraryDescription.trim().toLowerCase(),
    file: basename(lib.modulePath).toLowerCase(),
  };
  return PKCS11_VENDOR_PROFILES.find((p) => p.match(normalized));
}

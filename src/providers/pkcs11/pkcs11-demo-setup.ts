import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { withPkcs11AdminSession, type Pkcs11AdminTarget } from './pkcs11-admin-session.ts';
import { pkcs11ProviderConfigSchema, type Pkcs11ProviderConfig } from './pkcs11-config.ts';
import { generatePkcs11AesKey, type Pkcs11KeyUsageSpec } from './pkcs11-key-admin.ts';
import { findObjects } from './pkcs11-key-lookup.ts';
import { CKA } from './pkcs11-constants.ts';
import { ensureNssDatabase, findNssModule, NSS_KEY_TOKEN_LABEL, nssLibraryParameters } from './pkcs11-nss.ts';
import { findSoftHsmModule, initSoftHsmToken, writeSoftHsmConfig } from './pkcs11-softhsm.ts';

/** Label of the demo token. */
export const PKCS11_DEMO_TOKEN_LABEL = 'xks-demo';

/** The keys the public AWS XKS proxy test client expects, plus the health canary. */
const DEMO_KEYS: ReadonlyArray<{ label: string; usage: Pkcs11KeyUsageSpec }> = [
  { label: 'foo', usage: { encrypt: true, decrypt: true } },
  { label: 'encrypt_only_key', usage: { encrypt: true, decrypt: false } },
  { label: 'decrypt_only_key', usage: { encrypt: false, decrypt: true } },
  { label: 'impotent_key', usage: { encrypt: false, decrypt: false } },
  { label: 'xks-health-canary', usage: { encrypt: true, decrypt: true } },
];

/** What the demo set-up made or found. */
export interface Pkcs11DemoToken {
  /** True when the token was initialized on this call (first run). */
  createdToken: boolean;
  /** Labels of keys generated on this call. */
  createdKeys: string[];
  /** The private softhsm2.conf; SOFTHSM2_CONF has been set to it in this process. */
  softhsmConf: string;
  /** The user PIN file (mode 0600), referenced by providerConfig.pin. */
  pinFile: string;
  /** A complete pkcs11 provider config for a key store serving the demo token. */
  providerConfig: Pkcs11ProviderConfig;
}

/**
 * Makes sure a private SoftHSM2 token with the demo keys exists under `<dataDir>/softhsm`:
 * on first run writes softhsm2.conf, random user and SO PINs (files, mode 0600), initializes
 * the token and generates `foo`, `encrypt_only_key`, `decrypt_only_key`, `impotent_key`
 * and the health canary inside it; later runs only add keys that are missing. Sets
 * SOFTHSM2_CONF for this process, so call it before any PKCS#11 provider starts (SoftHSM2
 * reads the variable when the library is initialized).
 */
export async function ensurePkcs11DemoToken(dataDir: string, modulePath: string | undefined = findSoftHsmModule()): Promise<Pkcs11DemoToken> {
  if (modulePath === undefined) throw new Error('SoftHSM2 is not installed (Debian/Ubuntu: apt-get install softhsm2)');
  const dir = resolve(dataDir, 'softhsm');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const softhsmConf = join(dir, 'softhsm2.conf');
  if (!existsSync(softhsmConf)) await writeSoftHsmConfig(dir);
  const pinFile = join(dir, 'user-pin');
  process.env.SOFTHSM2_CONF = softhsmConf;

  const tokenDirs = await readdir(join(dir, 'tokens')).catch(() => [] as string[]);
  const createdToken = tokenDirs.length === 0;
  if (createdToken) {
    const userPin = randomBytes(8).toString('hex');
    const soPin = randomBytes(8).toString('hex');
    await writeFile(pinFile, `${userPin}\n`, { mode: 0o600 });
    await writeFile(join(dir, 'so-pin'), `${soPin}\n`, { mode: 0o600 });
    await initSoftHsmToken(softhsmConf, { label: PKCS11_DEMO_TOKEN_LABEL, soPin, userPin });
  }

  const providerConfig = pkcs11ProviderConfigSchema.parse({
    type: 'pkcs11',
    module: modulePath,
    pin: `file:${pinFile}`,
    tokens: [{ label: PKCS11_DEMO_TOKEN_LABEL }],
  });
  const createdKeys = await ensureDemoKeys({
    modulePath,
    selector: { label: PKCS11_DEMO_TOKEN_LABEL },
    pin: { tokenName: PKCS11_DEMO_TOKEN_LABEL, pinRef: `file:${pinFile}`, field: 'demo PIN', configDir: dir, env: process.env },
  });
  return { createdToken, createdKeys, softhsmConf, pinFile, providerConfig };
}

/** Generates the demo keys the token lacks (private objects when the target logs in); returns their labels. */
async function ensureDemoKeys(target: Pkcs11AdminTarget): Promise<string[]> {
  const isPrivate = target.pin !== undefined;
  return withPkcs11AdminSession(target, (api, session) =>
    DEMO_KEYS.filter((k) => findObjects(api, session, [{ type: CKA.LABEL, value: k.label }], 1).length === 0).map((k) => {
      generatePkcs11AesKey(api, session, k.label, k.usage, isPrivate);
      return k.label;
    }),
  );
}

/** What the NSS demo set-up made or found. */
export interface NssDemoDatabase {
  /** True when the database was created on this call (first run). */
  createdDatabase: boolean;
  /** Labels of keys generated on this call. */
  createdKeys: string[];
  /** The database directory (cert9.db, key4.db). */
  dir: string;
  /** A complete pkcs11 provider config serving the database through NSS softoken. */
  providerConfig: Pkcs11ProviderConfig;
}

/**
 * Makes sure an NSS database with the demo keys exists under `<dataDir>/nss`: on first run
 * creates it with an empty password (no login) and generates `foo`, `encrypt_only_key`,
 * `decrypt_only_key`, `impotent_key` and the health canary in its key token as public,
 * sensitive, non-extractable objects; later runs only add keys that are missing. The
 * provider config differs from the SoftHSM2 demo's only in configuration: module,
 * libraryParameters, login none and the token label.
 */
export async function ensureNssDemoDatabase(dataDir: string, modulePath: string | undefined = findNssModule()): Promise<NssDemoDatabase> {
  if (modulePath === undefined) throw new Error('NSS softoken is not installed (Debian/Ubuntu: apt-get install libnss3 libnss3-tools)');
  const dir = resolve(dataDir, 'nss');
  const { created } = await ensureNssDatabase(dir);
  const libraryParameters = nssLibraryParameters(dir);
  const providerConfig = pkcs11ProviderConfigSchema.parse({
    type: 'pkcs11',
    module: modulePath,
    libraryParameters,
    login: 'none',
    tokens: [{ name: 'nss', label: NSS_KEY_TOKEN_LABEL }],
  });
  const createdKeys = await ensureDemoKeys({ modulePath, libraryParameters, selector: { label: NSS_KEY_TOKEN_LABEL }, pin: undefined });
  return { createdDatabase: created, createdKeys, dir, providerConfig };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Pkcs11js from 'pkcs11js';
import { pkcs11ProviderConfigSchema, type Pkcs11ProviderConfig } from '../../src/providers/pkcs11/pkcs11-config.ts';
import { ensureNssDatabase, findNssModule, NSS_KEY_TOKEN_LABEL, nssLibraryParameters } from '../../src/providers/pkcs11/pkcs11-nss.ts';
import { createSoftHsmFixture, type TestKeyUsage } from './softhsm.ts';

const require = createRequire(import.meta.url);
const pkcs11js = require('pkcs11js') as typeof Pkcs11js;

/** The two independent PKCS#11 implementations the provider is held to. */
export type Pkcs11ModuleKind = 'softhsm' | 'nss';
export const PKCS11_MODULE_KINDS: readonly Pkcs11ModuleKind[] = ['softhsm', 'nss'];
/** The kinds whose token the provider logs in to (login tests apply to these only). */
export const PKCS11_LOGIN_MODULE_KINDS: readonly Pkcs11ModuleKind[] = ['softhsm'];

/**
 * One token on a real PKCS#11 library, set up for a test file: SoftHSM2 (a private token,
 * login with a PIN) or NSS softoken (a private database, no login). Tests use only this
 * interface, so the same test runs on both; what differs is configuration.
 */
export interface Pkcs11TestModule {
  kind: Pkcs11ModuleKind;
  dir: string;
  /** The token's name in provider config, pool stats and health. */
  tokenName: string;
  /** True when the provider logs in (SoftHSM2); NSS runs with login: none. */
  logsIn: boolean;
  /** The file holding the user PIN (modules that log in). */
  pinFile?: string;
  /** The user PIN (modules that log in). */
  pin?: string;
  /** Provider config serving the token, plus overrides. */
  config(overrides?: Record<string, unknown>): Pkcs11ProviderConfig;
  /** A second, raw pkcs11js handle onto the same library (shares the process's PKCS#11 state). */
  raw(): Pkcs11js.PKCS11;
  /** The slot currently holding the token. */
  slot(): Buffer;
  /** Generates a non-extractable AES-256 key in the token (a public object when there is no login). */
  generateKey(keyLabel: string, usage: TestKeyUsage): void;
  cleanup(): Promise<void>;
}

function aesTemplate(keyLabel: string, usage: TestKeyUsage, isPrivate: boolean): Pkcs11js.Template {
  return [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_LABEL, value: keyLabel },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: isPrivate },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: usage.encrypt },
    { type: pkcs11js.CKA_DECRYPT, value: usage.decrypt },
  ];
}

async function createNssModule(tokenName: string): Promise<Pkcs11TestModule> {
  const modulePath = findNssModule();
  if (modulePath === undefined) throw new Error('NSS softoken is not installed (apt-get install libnss3 libnss3-tools)');
  const dir = await mkdtemp(join(tmpdir(), 'xks-nss-'));
  const dbDir = join(dir, 'db');
  await ensureNssDatabase(dbDir);
  const libraryParameters = nssLibraryParameters(dbDir);
  let raw: Pkcs11js.PKCS11 | undefined;
  const getRaw = (): Pkcs11js.PKCS11 => {
    if (raw === undefined) {
      raw = new pkcs11js.PKCS11();
      raw.load(modulePath);
      try {
        raw.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK, libraryParameters });
      } catch (e) {
        if ((e as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e;
      }
    }
    return raw;
  };
  const slot = (): Buffer => {
    const p = getRaw();
    const found = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === NSS_KEY_TOKEN_LABEL);
    if (found === undefined) throw new Error(`no NSS token "${NSS_KEY_TOKEN_LABEL}"`);
    return found;
  };
  return {
    kind: 'nss',
    dir,
    tokenName,
    logsIn: false,
    config: (overrides = {}) =>
      pkcs11ProviderConfigSchema.parse({
        type: 'pkcs11',
        module: modulePath,
        libraryParameters,
        login: 'none',
        tokens: [{ name: tokenName, label: NSS_KEY_TOKEN_LABEL }],
        ...overrides,
      }),
    raw: getRaw,
    slot,
    generateKey(keyLabel, usage) {
      const p = getRaw();
      const session = p.C_OpenSession(slot(), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      try {
        p.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, aesTemplate(keyLabel, usage, false));
      } finally {
        p.C_CloseSession(session);
      }
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

async function createSoftHsmModule(tokenName: string): Promise<Pkcs11TestModule> {
  const fx = await createSoftHsmFixture([tokenName]);
  return {
    kind: 'softhsm',
    dir: fx.dir,
    tokenName,
    logsIn: true,
    pinFile: fx.tokens[0]?.pinFile,
    pin: fx.tokens[0]?.pin,
    // The PIN on the provider, so an override of `tokens` keeps it (as with NSS's login: none).
    config: (overrides = {}) =>
      pkcs11ProviderConfigSchema.parse({
        type: 'pkcs11',
        module: fx.modulePath,
        pin: `file:${fx.tokens[0]?.pinFile ?? ''}`,
        tokens: [{ label: tokenName }],
        ...overrides,
      }),
    raw: () => fx.raw(),
    slot: () => fx.slotOf(tokenName),
    generateKey: (keyLabel, usage) => fx.generateKey(tokenName, keyLabel, usage),
    cleanup: () => fx.cleanup(),
  };
}

/**
 * Sets up a token on `kind`. SoftHSM2 reads SOFTHSM2_CONF and NSS its parameters once per
 * process, so create each kind at most once per test file, before any provider starts.
 */
export function createPkcs11TestModule(kind: Pkcs11ModuleKind, tokenName: string): Promise<Pkcs11TestModule> {
  return kind === 'nss' ? createNssModule(tokenName) : createSoftHsmModule(tokenName);
}

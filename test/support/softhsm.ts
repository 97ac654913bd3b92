import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Pkcs11js from 'pkcs11js';
import { findSoftHsmModule, initSoftHsmToken, writeSoftHsmConfig } from '../../src/providers/pkcs11/pkcs11-softhsm.ts';

const require = createRequire(import.meta.url);
const pkcs11js = require('pkcs11js') as typeof Pkcs11js;

/** One initialized token of a fixture. */
export interface SoftHsmTestToken {
  label: string;
  soPin: string;
  pin: string;
  /** A file holding the user PIN, for `pin: file:...` config. */
  pinFile: string;
}

/** Usages of a test key. */
export interface TestKeyUsage {
  encrypt: boolean;
  decrypt: boolean;
}

/**
 * A private SoftHSM2 installation in a temp dir: its own softhsm2.conf and token directory,
 * initialized tokens, and a second, raw pkcs11js handle onto the same library for test
 * set-up and for breaking things behind the provider's back (it shares the process's
 * PKCS#11 state: logins, sessions, initialization).
 */
export interface SoftHsmFixture {
  dir: string;
  confPath: string;
  modulePath: string;
  tokens: SoftHsmTestToken[];
  /** The raw handle (initialized on first use, never finalized by the fixture). */
  raw(): Pkcs11js.PKCS11;
  /** The slot currently holding the token labelled `label`. */
  slotOf(label: string): Buffer;
  /** Generates a non-extractable AES key of `bytes` length inside a token. */
  generateKey(tokenLabel: string, keyLabel: string, usage: TestKeyUsage, bytes?: number): void;
  /** Creates a key with known material (test only: to put the same key in two tokens). */
  importAesKey(tokenLabel: string, keyLabel: string, value: Buffer, usage: TestKeyUsage): void;
  /** Removes the temp dir (the library stays loaded: it is per process). */
  cleanup(): Promise<void>;
}

/**
 * Creates the fixture and points SOFTHSM2_CONF at it. SoftHSM2 reads that variable at
 * C_Initialize and PKCS#11 initialization is per process, so use one fixture per test file
 * (vitest runs each file in its own process) and create it before any provider starts.
 */
export async function createSoftHsmFixture(tokenLabels: string[] = ['xks-test']): Promise<SoftHsmFixture> {
  const modulePath = findSoftHsmModule();
  if (modulePath === undefined) throw new Error('SoftHSM2 is not installed (apt-get install softhsm2)');
  const dir = await mkdtemp(join(tmpdir(), 'xks-softhsm-'));
  const confPath = await writeSoftHsmConfig(dir);
  process.env.SOFTHSM2_CONF = confPath;
  const tokens: SoftHsmTestToken[] = [];
  for (const label of tokenLabels) {
    const pin = randomBytes(6).toString('hex');
    const soPin = randomBytes(6).toString('hex');
    await initSoftHsmToken(confPath, { label, soPin, userPin: pin });
    const pinFile = join(dir, `pin-${label}`);
    await writeFile(pinFile, `${pin}\n`, { mode: 0o600 });
    tokens.push({ label, soPin, pin, pinFile });
  }

  let raw: Pkcs11js.PKCS11 | undefined;
  const getRaw = (): Pkcs11js.PKCS11 => {
    if (raw === undefined) {
      raw = new pkcs11js.PKCS11();
      raw.load(modulePath);
      try {
        raw.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
      } catch (e) {
        // The provider's handle initialized the library already: state is shared, that is the point.
        if ((e as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw e;
      }
    }
    return raw;
  };
  const slotOf = (label: string): Buffer => {
    const p = getRaw();
    const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === label);
    if (slot === undefined) throw new Error(`no token ${label}`);
    return slot;
  };
  const withUserSession = (tokenLabel: string, fn: (p: Pkcs11js.PKCS11, s: Buffer) => void): void => {
    const p = getRaw();
    const token = tokens.find((t) => t.label === tokenLabel);
    if (token === undefined) throw new Error(`no token ${tokenLabel}`);
    const session = p.C_OpenSession(slotOf(tokenLabel), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      try {
        p.C_Login(session, pkcs11js.CKU_USER, token.pin);
      } catch (e) {
        if ((e as { code?: number }).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw e;
      }
      fn(p, session);
    } finally {
      p.C_CloseSession(session);
    }
  };
  const keyTemplate = (keyLabel: string, usage: TestKeyUsage): Pkcs11js.Template => [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    { type: pkcs11js.CKA_LABEL, value: keyLabel },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_ENCRYPT, value: usage.encrypt },
    { type: pkcs11js.CKA_DECRYPT, value: usage.decrypt },
  ];

  return {
    dir,
    confPath,
    modulePath,
    tokens,
    raw: getRaw,
    slotOf,
    generateKey(tokenLabel, keyLabel, usage, bytes = 32) {
      withUserSession(tokenLabel, (p, s) => {
        p.C_GenerateKey(s, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [...keyTemplate(keyLabel, usage), { type: pkcs11js.CKA_VALUE_LEN, value: bytes }]);
      });
    },
    importAesKey(tokenLabel, keyLabel, value, usage) {
      withUserSession(tokenLabel, (p, s) => {
        p.C_CreateObject(s, [...keyTemplate(keyLabel, usage), { type: pkcs11js.CKA_VALUE, value }]);
      });
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

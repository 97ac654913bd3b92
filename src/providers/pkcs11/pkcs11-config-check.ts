import { accessSync, constants } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { resolveSecretRef } from '../../config-values/secret-ref.ts';
import { isXksError } from '../../xks/errors.ts';
import type { ProviderDeps } from '../provider-deps.ts';
import type { Pkcs11Api, Pkcs11Handle, Pkcs11Loader } from './pkcs11-api.ts';
import { pkcs11LibraryParameters, pkcs11TokenName, type Pkcs11ProviderConfig } from './pkcs11-config.ts';
import { matchPkcs11Vendor } from './pkcs11-vendor-profiles.ts';
import { CKF_SERIAL_SESSION, CKR, CKS_USER_STATES, CKU_USER, ckrName } from './pkcs11-constants.ts';
import { pkcs11ErrorCode } from './pkcs11-error-code.ts';
import { lookupAesKey } from './pkcs11-key-lookup.ts';
import { acquirePkcs11Module, type Pkcs11Module } from './pkcs11-module-registry.ts';
import { findTokenSlot, Pkcs11TokenNotFoundError } from './pkcs11-slot.ts';
import { loadPkcs11js } from './pkcs11js-api.ts';

/** One finding of `config check`, with the provider field it is about (e.g. "tokens.0.pin"). */
export interface Pkcs11ConfigProblem {
  level: 'fail' | 'warn';
  field: string;
  message: string;
}

function errorText(e: unknown): string {
  const code = pkcs11ErrorCode(e);
  if (code !== undefined) return ckrName(code);
  return e instanceof Error ? e.message : String(e);
}

/**
 * Checks a PKCS#11 provider config against the real library and tokens, reporting each
 * problem with the field to fix: a missing or unloadable module file, an unknown token
 * label or serial, an unreadable or wrong PIN, a missing or unusable health canary, and
 * mapped key labels the token does not hold. Note that a wrong PIN counts as a failed
 * login on the HSM (each check uses one attempt).
 */
export async function checkPkcs11Config(
  config: Pkcs11ProviderConfig,
  deps: Pick<ProviderDeps, 'configDir' | 'env'>,
  loader: Pkcs11Loader = loadPkcs11js,
): Promise<Pkcs11ConfigProblem[]> {
  const problems: Pkcs11ConfigProblem[] = [];
  const modules = new Map<string, Pkcs11Module | undefined>();
  const open = (field: string, path: string, libraryParameters: string | undefined): Pkcs11Module | undefined => {
    const abs = isAbsolute(path) ? path : resolve(deps.configDir, path);
    if (modules.has(abs)) return modules.get(abs);
    let module: Pkcs11Module | undefined;
    try {
      accessSync(abs, constants.R_OK);
      module = acquirePkcs11Module(abs, loader, undefined, libraryParameters);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // NSS softoken refuses C_Initialize without its parameters (measured): say which field is missing.
      const hint =
        libraryParameters === undefined && pkcs11ErrorCode(e) === CKR.ARGUMENTS_BAD ? '; this library may need libraryParameters (NSS softoken does)' : '';
      const message = code === 'ENOENT' ? `PKCS#11 library ${abs} does not exist` : `cannot load PKCS#11 library ${abs}: ${errorText(e)}${hint}`;
      problems.push({ level: 'fail', field, message });
    }
    modules.set(abs, module);
    if (module !== undefined) vendorWarnings(module, field, config, problems);
    return module;
  };

  try {
    config.tokens.forEach((token, i) => {
      const module = open(token.module !== undefined ? `tokens.${i}.module` : 'module', token.module ?? config.module, pkcs11LibraryParameters(config, token));
      if (module === undefined) return;
      const name = pkcs11TokenName(token);
      const selectorField = `tokens.${i}.${token.label !== undefined ? 'label' : 'serial'}`;
      let slot;
      try {
        slot = findTokenSlot(module.api, token);
      } catch (e) {
        problems.push({ level: 'fail', field: selectorField, message: e instanceof Pkcs11TokenNotFoundError ? e.message : errorText(e) });
        return;
      }
      const pinField = token.pin !== undefined ? `tokens.${i}.pin` : 'pin';
      let pin: string | undefined;
      try {
        // login: none: the token is used without C_Login (no PIN to read).
        if (config.login === 'user') pin = resolveSecretRef((token.pin ?? config.pin) as string, pinField, deps.env, deps.configDir);
      } catch (e) {
        problems.push({ level: 'fail', field: pinField, message: (e as Error).message.replace(`${pinField}: `, '') });
        return;
      }
      const session = module.api.C_OpenSession(slot.slot, CKF_SERIAL_SESSION);
      try {
        if (pin !== undefined && !login(module.api, session, pin, pinField, name, problems)) return;
        const loginRequired = pin !== undefined;
        checkKey(module.api, session, config.healthKeyLabel, 'healthKeyLabel', name, true, loginRequired, problems);
        for (const [id, label] of Object.entries(config.keyLabels)) {
          checkKey(module.api, session, label, `keyLabels.${id}`, name, false, loginRequired, problems);
        }
      } finally {
        module.api.C_CloseSession(session);
      }
    });
  } finally {
    for (const m of modules.values()) m?.release();
  }

  // Async HSM calls run on the libuv thread pool: fewer threads than sessions caps concurrency.
  const threads = Number(deps.env.UV_THREADPOOL_SIZE ?? 4);
  const sessions = config.sessionsPerToken * config.tokens.length;
  if (threads < sessions) {
    problems.push({
      level: 'warn',
      field: 'sessionsPerToken',
      message: `${sessions} sessions but only ${threads} libuv threads run HSM calls at once; start the proxy with UV_THREADPOOL_SIZE=${Math.min(sessions, 1024)}`,
    });
  }
  return problems;
}

/** Warns about the known quirks of the library's vendor (C_GetInfo manufacturer, library file). */
function vendorWarnings(module: Pkcs11Module, field: string, config: Pkcs11ProviderConfig, problems: Pkcs11ConfigProblem[]): void {
  let info;
  try {
    info = module.api.C_GetInfo();
  } catch (e) {
    problems.push({ level: 'warn', field, message: `C_GetInfo failed (${errorText(e)}); vendor quirks not checked` });
    return;
  }
  const vendor = matchPkcs11Vendor({ manufacturerID: info.manufacturerID, libraryDescription: info.libraryDescription, modulePath: module.path });
  if (vendor === undefined) return;
  for (const message of vendor.warnings(config)) {
    problems.push({ level: 'warn', field, message: `${vendor.name} (${info.manufacturerID.trim()}): ${message}; see docs/pkcs11.md, "${vendor.docs}"` });
  }
}

function login(api: Pkcs11Api, session: Pkcs11Handle, pin: string, field: string, token: string, problems: Pkcs11ConfigProblem[]): boolean {
  if (CKS_USER_STATES.has(api.C_GetSessionInfo(session).state)) {
    problems.push({ level: 'warn', field, message: `token ${token} is already logged in by this process; the PIN was not verified` });
    return true;
  }
  try {
    api.C_Login(session, CKU_USER, pin);
    return true;
  } catch (e) {
    const code = pkcs11ErrorCode(e);
    if (code === CKR.USER_ALREADY_LOGGED_IN) return true;
    const why =
      code === CKR.PIN_INCORRECT
        ? 'wrong PIN: the token refused it'
        : code === CKR.PIN_LOCKED
          ? 'the user PIN is locked on the token; unlock it with the SO'
          : 'login failed';
    problems.push({ level: 'fail', field, message: `token ${token}: ${why} (${errorText(e)})` });
    return false;
  }
}

function checkKey(
  api: Pkcs11Api,
  session: Pkcs11Handle,
  label: string,
  field: string,
  token: string,
  isCanary: boolean,
  loginRequired: boolean,
  problems: Pkcs11ConfigProblem[],
): void {
  try {
    const key = lookupAesKey(api, session, label, loginRequired);
    if (isCanary && key.usages.length < 2) {
      problems.push({ level: 'fail', field, message: `health canary "${label}" in token ${token} must allow both encrypt and decrypt` });
    }
  } catch (e) {
    const missing = isXksError(e) && e.errorName === 'KeyNotFoundException';
    const hint = isCanary ? '; create it with `xks-proxy hsm keys create-canary`' : '';
    problems.push({
      level: missing ? 'warn' : 'fail',
      field,
      message: `token ${token}: ${missing ? `no key labelled "${label}"${hint}` : errorText(e)}`,
    });
  }
}

import { isAbsolute, resolve } from 'node:path';
import type { Pkcs11Api, Pkcs11Handle, Pkcs11Loader } from './pkcs11-api.ts';
import { pkcs11LibraryParameters, pkcs11TokenName, type Pkcs11ProviderConfig } from './pkcs11-config.ts';
import { CKF_RW_SESSION, CKF_SERIAL_SESSION } from './pkcs11-constants.ts';
import { Pkcs11Login, type Pkcs11PinSource } from './pkcs11-login.ts';
import { acquirePkcs11Module } from './pkcs11-module-registry.ts';
import { findTokenSlot, type Pkcs11Slot, type Pkcs11TokenSelector } from './pkcs11-slot.ts';
import { loadPkcs11js } from './pkcs11js-api.ts';

/** What an admin task needs to reach one token. */
export interface Pkcs11AdminTarget {
  modulePath: string;
  /** C_Initialize library parameters (config `libraryParameters`). */
  libraryParameters?: string | undefined;
  selector: Pkcs11TokenSelector;
  /** The user PIN; undefined: the token is used without login (config `login: none`). */
  pin: Pkcs11PinSource | undefined;
}

/**
 * Runs `task` on a read/write session of one token, logged in as the user unless the
 * target has no PIN (key generation and listing), then closes the session and releases
 * the library.
 */
export async function withPkcs11AdminSession<T>(
  target: Pkcs11AdminTarget,
  task: (api: Pkcs11Api, session: Pkcs11Handle, slot: Pkcs11Slot) => T | Promise<T>,
  loader: Pkcs11Loader = loadPkcs11js,
): Promise<T> {
  const module = acquirePkcs11Module(target.modulePath, loader, undefined, target.libraryParameters);
  try {
    const slot = findTokenSlot(module.api, target.selector);
    const session = module.api.C_OpenSession(slot.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    try {
      new Pkcs11Login(target.pin).ensure(module.api, session);
      return await task(module.api, session, slot);
    } finally {
      module.api.C_CloseSession(session);
    }
  } finally {
    module.release();
  }
}

/** One token of a provider config, ready for admin tasks. */
export interface Pkcs11NamedTarget {
  name: string;
  target: Pkcs11AdminTarget;
}

/** The admin targets of every token in a provider config (paths and PIN references resolved like the provider's). */
export function pkcs11AdminTargets(config: Pkcs11ProviderConfig, configDir: string, env: NodeJS.ProcessEnv, field = 'provider'): Pkcs11NamedTarget[] {
  return config.tokens.map((t, i) => {
    const name = pkcs11TokenName(t);
    const module = t.module ?? config.module;
    return {
      name,
      target: {
        modulePath: isAbsolute(module) ? module : resolve(configDir, module),
        libraryParameters: pkcs11LibraryParameters(config, t),
        selector: { label: t.label, serial: t.serial },
        pin:
          config.login === 'none'
            ? undefined
            : {
                tokenName: name,
                pinRef: (t.pin ?? config.pin) as string,
                field: t.pin !== undefined ? `${field}.tokens.${i}.pin` : `${field}.pin`,
                configDir,
                env,
              },
      },
    };
  });
}

import { resolve } from 'node:path';
import type { Pkcs11Api, Pkcs11Loader } from './pkcs11-api.ts';
import { CKR } from './pkcs11-constants.ts';
import { hasPkcs11Code } from './pkcs11-error-code.ts';
import { loadPkcs11js } from './pkcs11js-api.ts';

/**
 * A loaded, initialized PKCS#11 library shared by everything in this process that uses
 * the same path. C_Initialize / C_Finalize are per process (the library keeps global
 * state), so two providers on one module must share one initialization.
 */
export interface Pkcs11Module {
  readonly path: string;
  readonly api: Pkcs11Api;
  /** Bumped each time the library is initialized again; sessions of older generations are gone. */
  readonly generation: number;
  /**
   * C_Initialize again after someone finalized the library behind our back
   * (CKR_CRYPTOKI_NOT_INITIALIZED). `seenGeneration` makes concurrent callers do it once.
   */
  reinitialize(seenGeneration: number): void;
  /**
   * C_Finalize + C_Initialize: the only way SoftHSM2 sees its token storage again after
   * the token directory vanished and came back (measured: C_GetSlotList keeps failing with
   * CKR_GENERAL_ERROR and searches find nothing until then). Finalizing under a running
   * native operation crashes the process, so it runs only when no user of this library
   * (every token on it) reports work in flight; returns false (nothing done) otherwise.
   * `seenGeneration` makes concurrent callers restart once: a caller that is behind
   * gets true at once.
   */
  restartWhenIdle(seenGeneration: number): boolean;
  /** Drops this user's reference; the last one finalizes (if we initialized) and unloads. */
  release(): void;
}

/** Tells whether a user of a module has native operations in flight (see restartWhenIdle). */
export type Pkcs11BusyProbe = () => boolean;

interface Entry {
  api: Pkcs11Api;
  /** What C_Initialize was given; a library keeps one initialization per process. */
  libraryParameters: string | undefined;
  refs: number;
  /** False when the library was already initialized by other code in the process: then we never finalize it. */
  ownsInit: boolean;
  generation: number;
  /** One probe per acquire: a restart waits until none reports work in flight. */
  busy: Set<Pkcs11BusyProbe>;
}

const modules = new Map<string, Entry>();

function initialize(api: Pkcs11Api, libraryParameters: string | undefined): boolean {
  try {
    api.C_Initialize(libraryParameters);
    return true;
  } catch (e) {
    if (hasPkcs11Code(e, CKR.CRYPTOKI_ALREADY_INITIALIZED)) return false;
    throw e;
  }
}

/** A library already initialized in this process with other library parameters. */
export class Pkcs11LibraryParametersConflictError extends Error {
  constructor(readonly path: string) {
    super(`PKCS#11 library ${path} is already initialized in this process with other libraryParameters; one process can serve only one configuration of it`);
    this.name = 'Pkcs11LibraryParametersConflictError';
  }
}

/**
 * Loads (first use) or shares (later uses) the PKCS#11 library at `modulePath`, initialized
 * with OS locking and `libraryParameters` (config field; NSS softoken reads its database
 * location there). Each acquire must be paired with one `release()`.
 */
export function acquirePkcs11Module(
  modulePath: string,
  loader: Pkcs11Loader = loadPkcs11js,
  busy: Pkcs11BusyProbe = () => false,
  libraryParameters?: string,
): Pkcs11Module {
  const path = resolve(modulePath);
  let entry = modules.get(path);
  // Initialization is per process: a second configuration of the same library cannot be honoured.
  if (entry !== undefined && entry.libraryParameters !== libraryParameters) throw new Pkcs11LibraryParametersConflictError(path);
  if (entry === undefined) {
    const api = loader(path);
    let ownsInit: boolean;
    try {
      ownsInit = initialize(api, libraryParameters);
    } catch (e) {
      api.close();
      throw e;
    }
    entry = { api, libraryParameters, refs: 0, ownsInit, generation: 1, busy: new Set() };
    modules.set(path, entry);
  }
  entry.refs += 1;
  entry.busy.add(busy);
  const e = entry;
  let released = false;
  return {
    path,
    api: e.api,
    get generation() {
      return e.generation;
    },
    reinitialize(seenGeneration: number) {
      if (seenGeneration !== e.generation) return;
      if (initialize(e.api, e.libraryParameters)) e.ownsInit = true;
      e.generation += 1;
    },
    restartWhenIdle(seenGeneration: number) {
      if (seenGeneration !== e.generation) return true;
      for (const probe of e.busy) if (probe()) return false;
      try {
        e.api.C_Finalize();
      } catch {
        // Not initialized any more (finalized behind our back): initializing is what matters.
      }
      // From here every session and handle of the old generation is gone, even if this throws.
      e.generation += 1;
      e.ownsInit = initialize(e.api, e.libraryParameters) || e.ownsInit;
      return true;
    },
    release() {
      if (released) return;
      released = true;
      e.busy.delete(busy);
      e.refs -= 1;
      if (e.refs > 0) return;
      modules.delete(path);
      try {
        if (e.ownsInit) e.api.C_Finalize();
      } catch {
        // Already finalized (e.g. behind our back): nothing left to release.
      }
      e.api.close();
    },
  };
}

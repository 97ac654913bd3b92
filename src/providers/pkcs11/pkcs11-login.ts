import { createHash } from 'node:crypto';
import { resolveSecretRef } from '../../config-values/secret-ref.ts';
import type { Pkcs11Api, Pkcs11Handle } from './pkcs11-api.ts';
import { CKR, CKS_USER_STATES, CKU_USER, ckrName } from './pkcs11-constants.ts';
import { pkcs11ErrorCode } from './pkcs11-error-code.ts';

const PIN_REFUSED = new Set<number>([CKR.PIN_INCORRECT, CKR.PIN_INVALID, CKR.PIN_LEN_RANGE, CKR.PIN_EXPIRED, CKR.PIN_LOCKED, CKR.USER_PIN_NOT_INITIALIZED]);

/** The token refused the PIN; carries the CK_RV and the reference (never the PIN). */
export class Pkcs11PinRefusedError extends Error {
  constructor(
    readonly code: number,
    readonly tokenName: string,
    readonly pinRef: string,
    again: boolean,
  ) {
    super(
      again
        ? `token ${tokenName} refused this PIN before (${ckrName(code)}); not trying it again so the HSM does not lock the user: fix the secret ${pinRef}`
        : `token ${tokenName} refused the PIN from ${pinRef} (${ckrName(code)})`,
    );
    this.name = 'Pkcs11PinRefusedError';
  }
}

/** Where a token's user PIN comes from. */
export interface Pkcs11PinSource {
  tokenName: string;
  /** env:NAME or file:PATH; a relative file path resolves against `configDir`. */
  pinRef: string;
  /** Config field of the reference, for error messages. */
  field: string;
  configDir: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Keeps one token logged in as CKU_USER (or, with no PIN source: config `login: none`,
 * never logs in; the token's keys are then public objects, as in an NSS database
 * without a password). Login state is per application and token in
 * PKCS#11 (not per session), so one C_Login on any session serves the whole pool. The PIN
 * is read from its reference at each login, so a rotated PIN file takes effect without a
 * restart; a PIN the token refused is never sent again (HSMs lock the user after a few
 * wrong attempts) until the reference yields a different value.
 */
export class Pkcs11Login {
  #refusedDigest: Buffer | undefined;
  #refusedCode = 0;
  readonly #source: Pkcs11PinSource | undefined;

  constructor(source: Pkcs11PinSource | undefined) {
    this.#source = source;
  }

  /** True when the token is used logged in (a session that is not is then logged out behind our back). */
  get required(): boolean {
    return this.#source !== undefined;
  }

  /** Logs in on `session` unless the token already is (or needs no login); true when a login happened now. */
  ensure(api: Pkcs11Api, session: Pkcs11Handle): boolean {
    if (this.#source === undefined) return false;
    if (CKS_USER_STATES.has(api.C_GetSessionInfo(session).state)) return false;
    const pin = this.#readPin();
    const digest = createHash('sha256').update(pin).digest();
    if (this.#refusedDigest?.equals(digest)) {
      throw new Pkcs11PinRefusedError(this.#refusedCode, this.#source.tokenName, this.#source.pinRef, true);
    }
    try {
      api.C_Login(session, CKU_USER, pin);
    } catch (e) {
      const code = pkcs11ErrorCode(e);
      if (code === CKR.USER_ALREADY_LOGGED_IN) return false;
      if (code !== undefined && PIN_REFUSED.has(code)) {
        this.#refusedDigest = digest;
        this.#refusedCode = code;
        throw new Pkcs11PinRefusedError(code, this.#source.tokenName, this.#source.pinRef, false);
      }
      throw e;
    }
    this.#refusedDigest = undefined;
    return true;
  }

  #readPin(): string {
    const { pinRef, field, configDir, env } = this.#source as Pkcs11PinSource;
    return resolveSecretRef(pinRef, field, env, configDir);
  }
}

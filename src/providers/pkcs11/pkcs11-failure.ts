import { XksError } from '../../xks/errors.ts';
import { CKR, ckrName } from './pkcs11-constants.ts';
import { pkcs11ErrorCode } from './pkcs11-error-code.ts';
import { Pkcs11PinRefusedError } from './pkcs11-login.ts';

/** Which PKCS#11 call sequence failed: decrypt failures are read differently (see below). */
export type Pkcs11Operation = 'encrypt' | 'decrypt' | 'describe' | 'health';

/**
 * What to do about a failed PKCS#11 call:
 * - `answer`: the request itself is at fault; answer with `error` (the token is fine).
 * - `key-handle`: the cached key handle is stale; look the key up again and retry.
 * - `recover`: the session, login or library is gone; replace it, log in again, retry once.
 * - `pin`: the token refused the PIN; do not retry (a retry loop would lock the HSM user).
 * - `internal`: an unexpected result; the request fails, the session is replaced.
 * `discardSession` says the session's state is unknown (e.g. an operation left active).
 */
export type Pkcs11Failure =
  | { action: 'answer'; error: XksError; discardSession: boolean }
  | { action: 'key-handle'; code: number }
  | { action: 'recover'; code: number; libraryGone: boolean }
  | { action: 'pin'; code: number }
  | { action: 'internal'; code: number | undefined; discardSession: true };

/**
 * Codes an HSM returns when an AES-GCM tag, AAD, IV or ciphertext does not verify.
 * SoftHSM2 returns CKR_GENERAL_ERROR from C_Decrypt (measured, toolchain.md); others use
 * the data-invalid family, and some CKR_SIGNATURE_INVALID.
 */
const DECRYPT_INVALID = new Set<number>([
  CKR.GENERAL_ERROR,
  CKR.ENCRYPTED_DATA_INVALID,
  CKR.ENCRYPTED_DATA_LEN_RANGE,
  CKR.DATA_INVALID,
  CKR.DATA_LEN_RANGE,
  CKR.SIGNATURE_INVALID,
  // A 16-byte IV (allowed by the spec) that this HSM cannot take: the ciphertext is not ours.
  CKR.MECHANISM_PARAM_INVALID,
]);

/** The session, the login or the device is gone: a fresh session (and login) may work. */
const RECOVERABLE = new Set<number>([
  CKR.SESSION_HANDLE_INVALID,
  CKR.SESSION_CLOSED,
  CKR.USER_NOT_LOGGED_IN,
  CKR.OPERATION_ACTIVE,
  CKR.OPERATION_NOT_INITIALIZED,
  CKR.DEVICE_ERROR,
  CKR.DEVICE_MEMORY,
  CKR.DEVICE_REMOVED,
  CKR.TOKEN_NOT_PRESENT,
  CKR.TOKEN_NOT_RECOGNIZED,
  CKR.SESSION_COUNT,
  CKR.FUNCTION_FAILED,
  CKR.GENERAL_ERROR,
  CKR.CRYPTOKI_NOT_INITIALIZED,
]);

const PIN_REFUSED = new Set<number>([CKR.PIN_INCORRECT, CKR.PIN_INVALID, CKR.PIN_LEN_RANGE, CKR.PIN_EXPIRED, CKR.PIN_LOCKED, CKR.USER_PIN_NOT_INITIALIZED]);

/** Decides how to handle an error thrown by a PKCS#11 call during `op` (see Pkcs11Failure). */
export function classifyPkcs11Failure(e: unknown, op: Pkcs11Operation): Pkcs11Failure {
  const code = pkcs11ErrorCode(e);
  if (code === undefined) return { action: 'internal', code, discardSession: true };
  if (op === 'decrypt' && DECRYPT_INVALID.has(code)) {
    // PKCS#11 ends the operation on any C_Decrypt error but CKR_BUFFER_TOO_SMALL: the session stays usable.
    return {
      action: 'answer',
      error: new XksError('InvalidCiphertextException', 'The ciphertext, IV, tag or AAD does not verify under this key.'),
      discardSession: false,
    };
  }
  if (code === CKR.KEY_FUNCTION_NOT_PERMITTED) {
    return {
      action: 'answer',
      error: new XksError(
        'InvalidKeyUsageException',
        `The HSM key does not allow ${op === 'decrypt' ? 'decryption' : 'encryption'} (CKA_${op === 'decrypt' ? 'DECRYPT' : 'ENCRYPT'} is false).`,
      ),
      discardSession: false,
    };
  }
  if (code === CKR.KEY_TYPE_INCONSISTENT || code === CKR.KEY_SIZE_RANGE) {
    return {
      action: 'answer',
      error: new XksError('InvalidStateException', 'The HSM key cannot be used for AES-256-GCM.'),
      discardSession: false,
    };
  }
  if (op === 'encrypt' && code === CKR.DATA_LEN_RANGE) {
    return {
      action: 'answer',
      error: new XksError('UnsupportedOperationException', 'The plaintext is longer than this HSM accepts in one AES-GCM operation.'),
      discardSession: true,
    };
  }
  if (code === CKR.OBJECT_HANDLE_INVALID || code === CKR.KEY_HANDLE_INVALID) return { action: 'key-handle', code };
  if (PIN_REFUSED.has(code)) return { action: 'pin', code };
  if (RECOVERABLE.has(code)) return { action: 'recover', code, libraryGone: code === CKR.CRYPTOKI_NOT_INITIALIZED };
  // CKR_ARGUMENTS_BAD / CKR_BUFFER_TOO_SMALL leave the operation active on SoftHSM2 (measured): drop the session.
  return { action: 'internal', code, discardSession: true };
}

/** Log-safe description of a PKCS#11 error: the CK_RV name, never data. */
export function describePkcs11Error(e: unknown): string {
  // Our own errors carry a full sentence (which token, which PIN reference); keep it.
  if (e instanceof Pkcs11PinRefusedError) return e.message;
  const code = pkcs11ErrorCode(e);
  if (code !== undefined) return ckrName(code);
  if (e instanceof XksError) return `${e.errorName}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

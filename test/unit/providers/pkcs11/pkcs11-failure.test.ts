import { describe, expect, it } from 'vitest';
import { CKR } from '../../../../src/providers/pkcs11/pkcs11-constants.ts';
import { classifyPkcs11Failure, type Pkcs11Operation } from '../../../../src/providers/pkcs11/pkcs11-failure.ts';
import { ckError } from './fake-pkcs11.ts';

function outcome(code: number, op: Pkcs11Operation): string {
  const f = classifyPkcs11Failure(ckError(code), op);
  return f.action === 'answer' ? f.error.errorName : f.action;
}

describe('PKCS#11 error mapping', () => {
  it('reads every tag/AAD mismatch code on decrypt as InvalidCiphertextException (SoftHSM2: CKR_GENERAL_ERROR)', () => {
    for (const code of [CKR.GENERAL_ERROR, CKR.ENCRYPTED_DATA_INVALID, CKR.ENCRYPTED_DATA_LEN_RANGE, CKR.DATA_INVALID, CKR.SIGNATURE_INVALID]) {
      expect(outcome(code, 'decrypt')).toBe('InvalidCiphertextException');
    }
  });

  it('treats CKR_GENERAL_ERROR outside decrypt as a token failure to recover from', () => {
    expect(outcome(CKR.GENERAL_ERROR, 'encrypt')).toBe('recover');
    expect(outcome(CKR.GENERAL_ERROR, 'health')).toBe('recover');
  });

  it('maps CKR_KEY_FUNCTION_NOT_PERMITTED to InvalidKeyUsageException', () => {
    expect(outcome(CKR.KEY_FUNCTION_NOT_PERMITTED, 'encrypt')).toBe('InvalidKeyUsageException');
    expect(outcome(CKR.KEY_FUNCTION_NOT_PERMITTED, 'decrypt')).toBe('InvalidKeyUsageException');
  });

  it('recovers from lost sessions, logouts, device errors and a finalized library', () => {
    for (const code of [
      CKR.SESSION_HANDLE_INVALID,
      CKR.SESSION_CLOSED,
      CKR.USER_NOT_LOGGED_IN,
      CKR.DEVICE_ERROR,
      CKR.DEVICE_REMOVED,
      CKR.TOKEN_NOT_PRESENT,
      CKR.OPERATION_ACTIVE,
      CKR.CRYPTOKI_NOT_INITIALIZED,
    ]) {
      expect(outcome(code, 'encrypt')).toBe('recover');
    }
    expect(classifyPkcs11Failure(ckError(CKR.CRYPTOKI_NOT_INITIALIZED), 'encrypt')).toMatchObject({ libraryGone: true });
  });

  it('looks a key up again after a stale handle', () => {
    expect(outcome(CKR.OBJECT_HANDLE_INVALID, 'encrypt')).toBe('key-handle');
    expect(outcome(CKR.KEY_HANDLE_INVALID, 'decrypt')).toBe('key-handle');
  });

  it('never retries a refused PIN', () => {
    for (const code of [CKR.PIN_INCORRECT, CKR.PIN_LOCKED, CKR.PIN_EXPIRED]) expect(outcome(code, 'encrypt')).toBe('pin');
  });

  it('drops the session after results that leave an operation active (CKR_ARGUMENTS_BAD, CKR_BUFFER_TOO_SMALL)', () => {
    for (const code of [CKR.ARGUMENTS_BAD, CKR.BUFFER_TOO_SMALL]) {
      expect(classifyPkcs11Failure(ckError(code), 'encrypt')).toMatchObject({ action: 'internal', discardSession: true });
    }
  });

  it('answers UnsupportedOperationException when the HSM refuses the plaintext size, InvalidStateException for a wrong key type', () => {
    expect(outcome(CKR.DATA_LEN_RANGE, 'encrypt')).toBe('UnsupportedOperationException');
    expect(outcome(CKR.KEY_TYPE_INCONSISTENT, 'encrypt')).toBe('InvalidStateException');
  });

  it('leaves errors without a PKCS#11 code to the caller', () => {
    expect(classifyPkcs11Failure(new TypeError('bug'), 'encrypt')).toMatchObject({ action: 'internal', code: undefined });
  });
});

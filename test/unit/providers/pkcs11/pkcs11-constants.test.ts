import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  CKA,
  CKF_OS_LOCKING_OK,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKK_AES,
  CKM,
  CKO_SECRET_KEY,
  CKR,
  CKU_USER,
  ckrName,
} from '../../../../src/providers/pkcs11/pkcs11-constants.ts';

const pkcs11js = createRequire(import.meta.url)('pkcs11js') as unknown as Record<string, number>;

describe('PKCS#11 constants', () => {
  it('match the values pkcs11js was built with', () => {
    for (const [name, value] of Object.entries(CKR)) expect([`CKR_${name}`, value]).toEqual([`CKR_${name}`, pkcs11js[`CKR_${name}`]]);
    for (const [name, value] of Object.entries(CKA)) expect([`CKA_${name}`, value]).toEqual([`CKA_${name}`, pkcs11js[`CKA_${name}`]]);
    for (const [name, value] of Object.entries(CKM)) expect([`CKM_${name}`, value]).toEqual([`CKM_${name}`, pkcs11js[`CKM_${name}`]]);
    expect(CKO_SECRET_KEY).toBe(pkcs11js.CKO_SECRET_KEY);
    expect(CKK_AES).toBe(pkcs11js.CKK_AES);
    expect(CKU_USER).toBe(pkcs11js.CKU_USER);
    expect(CKF_SERIAL_SESSION).toBe(pkcs11js.CKF_SERIAL_SESSION);
    expect(CKF_RW_SESSION).toBe(pkcs11js.CKF_RW_SESSION);
    expect(CKF_OS_LOCKING_OK).toBe(pkcs11js.CKF_OS_LOCKING_OK);
  });

  it('names return values for log lines', () => {
    expect(ckrName(0x5)).toBe('CKR_GENERAL_ERROR (0x5)');
    expect(ckrName(0x80000001)).toBe('CKR 0x80000001');
  });
});

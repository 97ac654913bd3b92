/**
 * The PKCS#11 numbers this provider uses, with the values fixed by the PKCS#11 standard
 * (v2.40 / 3.0 headers). Kept here rather than read from pkcs11js so the wiring can be
 * unit-tested without loading the native module; a unit test checks them against it.
 */

/** Return values (CK_RV) the provider reacts to. */
export const CKR = {
  OK: 0x0,
  GENERAL_ERROR: 0x5,
  FUNCTION_FAILED: 0x6,
  ARGUMENTS_BAD: 0x7,
  ATTRIBUTE_SENSITIVE: 0x11,
  ATTRIBUTE_TYPE_INVALID: 0x12,
  DATA_INVALID: 0x20,
  DATA_LEN_RANGE: 0x21,
  DEVICE_ERROR: 0x30,
  DEVICE_MEMORY: 0x31,
  DEVICE_REMOVED: 0x32,
  ENCRYPTED_DATA_INVALID: 0x40,
  ENCRYPTED_DATA_LEN_RANGE: 0x41,
  KEY_HANDLE_INVALID: 0x60,
  KEY_SIZE_RANGE: 0x62,
  KEY_TYPE_INCONSISTENT: 0x63,
  KEY_FUNCTION_NOT_PERMITTED: 0x68,
  MECHANISM_INVALID: 0x70,
  MECHANISM_PARAM_INVALID: 0x71,
  OBJECT_HANDLE_INVALID: 0x82,
  OPERATION_ACTIVE: 0x90,
  OPERATION_NOT_INITIALIZED: 0x91,
  PIN_INCORRECT: 0xa0,
  PIN_INVALID: 0xa1,
  PIN_LEN_RANGE: 0xa2,
  PIN_EXPIRED: 0xa3,
  PIN_LOCKED: 0xa4,
  SESSION_CLOSED: 0xb0,
  SESSION_COUNT: 0xb1,
  SESSION_HANDLE_INVALID: 0xb3,
  SIGNATURE_INVALID: 0xc0,
  TOKEN_NOT_PRESENT: 0xe0,
  TOKEN_NOT_RECOGNIZED: 0xe1,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  USER_PIN_NOT_INITIALIZED: 0x102,
  BUFFER_TOO_SMALL: 0x150,
  CRYPTOKI_NOT_INITIALIZED: 0x190,
  CRYPTOKI_ALREADY_INITIALIZED: 0x191,
} as const;

/** Attribute types (CK_ATTRIBUTE_TYPE). */
export const CKA = {
  CLASS: 0x0,
  TOKEN: 0x1,
  PRIVATE: 0x2,
  LABEL: 0x3,
  VALUE: 0x11,
  KEY_TYPE: 0x100,
  ID: 0x102,
  SENSITIVE: 0x103,
  ENCRYPT: 0x104,
  DECRYPT: 0x105,
  WRAP: 0x106,
  UNWRAP: 0x107,
  SIGN: 0x108,
  VERIFY: 0x10a,
  DERIVE: 0x10c,
  VALUE_LEN: 0x161,
  EXTRACTABLE: 0x162,
} as const;

/** Object classes (CK_OBJECT_CLASS). */
export const CKO_SECRET_KEY = 0x4;
/** Key types (CK_KEY_TYPE). */
export const CKK_AES = 0x1f;
/** Mechanisms (CK_MECHANISM_TYPE). */
export const CKM = { AES_KEY_GEN: 0x1080, AES_GCM: 0x1087 } as const;
/** Session flags for C_OpenSession. */
export const CKF_SERIAL_SESSION = 0x4;
/** Read/write session flag: needed only to create token objects (key generation). */
export const CKF_RW_SESSION = 0x2;
/** C_Initialize flag: let the library use OS locking; without it concurrent calls crash SoftHSM. */
export const CKF_OS_LOCKING_OK = 0x2;
/** The normal user (CK_USER_TYPE). */
export const CKU_USER = 0x1;

/** Session states (CK_STATE) that mean "the normal user is logged in". */
export const CKS_USER_STATES: ReadonlySet<number> = new Set([1 /* RO_USER_FUNCTIONS */, 3 /* RW_USER_FUNCTIONS */]);

/** Name of a CK_RV for logs, e.g. "CKR_GENERAL_ERROR (0x5)". */
export function ckrName(code: number): string {
  const entry = Object.entries(CKR).find(([, v]) => v === code);
  const hex = `0x${code.toString(16)}`;
  return entry === undefined ? `CKR ${hex}` : `CKR_${entry[0]} (${hex})`;
}

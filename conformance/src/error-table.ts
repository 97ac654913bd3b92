/** The spec's error table (section "Error codes"), written out independently of any proxy. */

/** HTTP status for every errorName the spec defines. */
export const SPEC_ERROR_STATUS = {
  ValidationException: 400,
  InvalidStateException: 400,
  InvalidCiphertextException: 400,
  InvalidKeyUsageException: 400,
  AuthenticationFailedException: 401,
  AccessDeniedException: 403,
  KeyNotFoundException: 404,
  InvalidUriPathException: 404,
  ThrottlingException: 429,
  UnsupportedOperationException: 501,
  DependencyTimeoutException: 503,
  InternalException: 500,
} as const;

/** An errorName from the spec's table. */
export type SpecErrorName = keyof typeof SPEC_ERROR_STATUS;

/** True when `name` is one of the spec's errorNames. */
export function isSpecErrorName(name: unknown): name is SpecErrorName {
  return typeof name === 'string' && Object.hasOwn(SPEC_ERROR_STATUS, name);
}

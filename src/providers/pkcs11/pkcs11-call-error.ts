import { ckrName } from './pkcs11-constants.ts';

/**
 * An error this provider raises with a PKCS#11 return value, so it takes the same
 * recovery path as the library's own errors (e.g. USER_NOT_LOGGED_IN found by checking
 * the session state before reporting a key as missing).
 */
export class Pkcs11CallError extends Error {
  constructor(
    readonly code: number,
    message: string = ckrName(code),
  ) {
    super(message);
    this.name = 'Pkcs11CallError';
  }
}

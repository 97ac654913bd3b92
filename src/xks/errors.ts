/** The XKS error model (spec "Error codes"): one error class, one status table. */

/** Every errorName the XKS Proxy API v1 defines. */
export type XksErrorName =
  | 'ValidationException'
  | 'InvalidStateException'
  | 'InvalidCiphertextException'
  | 'InvalidKeyUsageException'
  | 'AuthenticationFailedException'
  | 'AccessDeniedException'
  | 'KeyNotFoundException'
  | 'InvalidUriPathException'
  | 'ThrottlingException'
  | 'UnsupportedOperationException'
  | 'DependencyTimeoutException'
  | 'InternalException';

/** HTTP status for each errorName, straight from the spec's table. */
export const XKS_ERROR_STATUS: Readonly<Record<XksErrorName, number>> = {
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
};

/** Longest errorMessage we send: the spec requires fewer than 512 characters. */
const MAX_ERROR_MESSAGE = 511;

/**
 * Makes a message safe for the errorMessage field: printable ASCII (0x20-0x7E) only and
 * shorter than 512 characters, as the spec requires (KMS copies it into CloudWatch).
 */
export function sanitizeErrorMessage(message: string): string {
  const printable = message.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > MAX_ERROR_MESSAGE ? printable.slice(0, MAX_ERROR_MESSAGE - 3) + '...' : printable;
}

/**
 * An error the proxy answers with the spec's errorName. Throw it where the problem is
 * found; the app turns it into the JSON response in one place. `message` goes to the
 * client: it must never contain plaintext, key bytes or secrets. `logDetail` is for the
 * operator's log only (also never secrets) and is not sent.
 */
export class XksError extends Error {
  readonly errorName: XksErrorName;
  readonly logDetail: string | undefined;
  /**
   * True when the key manager itself failed or could not be reached (a server down, a
   * token gone, a keystore that cannot be read), as opposed to a bad request or a key's
   * state. Live traffic with such an error marks health not ACTIVE at once.
   */
  readonly dependencyFailure: boolean;

  constructor(errorName: XksErrorName, message: string, options?: { logDetail?: string; cause?: unknown; dependencyFailure?: boolean }) {
    super(sanitizeErrorMessage(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'XksError';
    this.errorName = errorName;
    this.logDetail = options?.logDetail;
    this.dependencyFailure = options?.dependencyFailure === true;
  }

  /** HTTP status for this error per the spec's table. */
  get status(): number {
    return XKS_ERROR_STATUS[this.errorName];
  }

  /** The spec's response body. */
  toBody(): { errorName: XksErrorName; errorMessage: string } {
    return { errorName: this.errorName, errorMessage: this.message };
  }
}

/** True when `e` is an XksError (also across module copies). */
export function isXksError(e: unknown): e is XksError {
  return e instanceof XksError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'XksError');
}

/** Why a keystore file could not be used. */
export type KeystoreFileErrorKind =
  'missing' | 'exists' | 'unreadable' | 'wrong-secret' | 'corrupt' | 'locked' | 'write-failed' | 'invalid' | 'key-exists' | 'key-not-found' | 'invalid-key-id';

/**
 * A keystore problem the operator must act on. The message always names the file and
 * never contains key bytes or the passphrase; `kind` lets callers and tests branch.
 */
export class KeystoreFileError extends Error {
  readonly kind: KeystoreFileErrorKind;
  readonly file: string;

  constructor(kind: KeystoreFileErrorKind, file: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeystoreFileError';
    this.kind = kind;
    this.file = file;
  }
}

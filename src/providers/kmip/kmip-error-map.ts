/**
 * How KMIP failures become the XKS spec's errors. One table (KMIP Result Reason -> XKS
 * errorName) plus the two operation-specific rules that the table cannot express: on
 * Decrypt a cryptographic failure means the ciphertext, IV, AAD or tag did not
 * authenticate. The provider refines Permission Denied by re-reading the key (see
 * kmip-provider.ts), because servers use it for wrong state, wrong usage and no access alike.
 */
import { XksError, type XksErrorName } from '../../xks/errors.ts';
import { constantName, Operation, ResultReason, ResultStatus } from './kmip-constants.ts';
import { KmipUnavailableError } from './kmip-cluster.ts';
import type { KmipResultError } from './kmip-message.ts';

/** KMIP 2.0 reasons (spec 2.0 section 11.29) that 1.4 servers may already send. */
export const KMIP2_REASON = {
  BadCryptographicParameters: 0x24,
  IncompatibleCryptographicUsageMask: 0x29,
  InvalidAttributeValue: 0x2d,
  ObjectDestroyed: 0x36,
  ObjectNotFound: 0x37,
  NotAuthorised: 0x39,
  ServerLimitExceeded: 0x3a,
  UnsupportedCryptographicParameters: 0x3e,
  WrongKeyLifecycleState: 0x43,
} as const;

/** One row: the XKS error and the client-facing message. */
export interface ReasonMapping {
  errorName: XksErrorName;
  message: string;
}

/** KMIP Result Reason -> XKS error, for every reason the provider can meet. */
export const RESULT_REASON_MAP: ReadonlyMap<number, ReasonMapping> = new Map<number, ReasonMapping>([
  [ResultReason.ItemNotFound, { errorName: 'KeyNotFoundException', message: 'The KMIP server has no such key.' }],
  [KMIP2_REASON.ObjectNotFound, { errorName: 'KeyNotFoundException', message: 'The KMIP server has no such key.' }],
  [KMIP2_REASON.ObjectDestroyed, { errorName: 'KeyNotFoundException', message: 'The key was destroyed in the KMIP server.' }],
  [ResultReason.ObjectArchived, { errorName: 'InvalidStateException', message: 'The key is archived in the KMIP server.' }],
  [
    ResultReason.IllegalOperation,
    { errorName: 'InvalidStateException', message: 'The KMIP server does not allow this operation on the key in its current state.' },
  ],
  [KMIP2_REASON.WrongKeyLifecycleState, { errorName: 'InvalidStateException', message: 'The key is not in the Active state in the KMIP server.' }],
  [
    KMIP2_REASON.IncompatibleCryptographicUsageMask,
    { errorName: 'InvalidKeyUsageException', message: 'The key usage mask in the KMIP server does not allow this operation.' },
  ],
  [ResultReason.PermissionDenied, { errorName: 'AccessDeniedException', message: 'The KMIP server denied the proxy access to this key.' }],
  [KMIP2_REASON.NotAuthorised, { errorName: 'AccessDeniedException', message: 'The KMIP server denied the proxy access to this key.' }],
  [ResultReason.AuthenticationNotSuccessful, { errorName: 'InternalException', message: 'The KMIP server rejected the proxy client certificate.' }],
  [ResultReason.OperationNotSupported, { errorName: 'UnsupportedOperationException', message: 'The KMIP server does not support this operation.' }],
  [
    ResultReason.FeatureNotSupported,
    { errorName: 'UnsupportedOperationException', message: 'The KMIP server does not support AES-GCM with these parameters.' },
  ],
  [
    KMIP2_REASON.UnsupportedCryptographicParameters,
    { errorName: 'UnsupportedOperationException', message: 'The KMIP server does not support AES-GCM with these parameters.' },
  ],
  [ResultReason.ResponseTooLarge, { errorName: 'UnsupportedOperationException', message: 'The KMIP server cannot answer a request this large.' }],
  [KMIP2_REASON.ServerLimitExceeded, { errorName: 'ThrottlingException', message: 'The KMIP server is over its limits; retry later.' }],
  [ResultReason.CryptographicFailure, { errorName: 'InternalException', message: 'The KMIP server reported a cryptographic failure.' }],
  [ResultReason.InvalidField, { errorName: 'InternalException', message: 'The KMIP server rejected a request field.' }],
  [ResultReason.MissingData, { errorName: 'InternalException', message: 'The KMIP server reported missing request data.' }],
  [ResultReason.InvalidMessage, { errorName: 'InternalException', message: 'The KMIP server could not parse the request.' }],
  [ResultReason.GeneralFailure, { errorName: 'InternalException', message: 'The KMIP server failed to process the request.' }],
]);

/**
 * Reasons that, on Decrypt of a key that exists, is Active and allows Decrypt, can only
 * mean the input does not authenticate. PyKMIP 0.10 reports a GCM tag mismatch as General
 * Failure (its InvalidTag exception is not caught); other servers use Cryptographic
 * Failure, and Invalid Field / Bad Cryptographic Parameters for an IV they refuse.
 */
export const DECRYPT_INTEGRITY_REASONS: ReadonlySet<number> = new Set<number>([
  ResultReason.CryptographicFailure,
  ResultReason.GeneralFailure,
  ResultReason.InvalidField,
  KMIP2_REASON.BadCryptographicParameters,
  KMIP2_REASON.InvalidAttributeValue,
]);

/** The XKS error for a failed KMIP operation. */
export function xksErrorForResult(e: KmipResultError, keyName: string): XksError {
  const reasonName = e.reason === undefined ? 'none' : constantName({ ...ResultReason, ...KMIP2_REASON }, e.reason);
  const logDetail =
    `KMIP ${constantName(Operation, e.operation)} ${constantName(ResultStatus, e.status)}, reason ${reasonName}` +
    (e.serverMessage === undefined ? '' : `: ${e.serverMessage}`);
  if (e.status !== ResultStatus.OperationFailed) {
    // Pending (asynchronous) and Undone are not requested by this client.
    return new XksError('InternalException', 'The KMIP server gave an unexpected result status.', { logDetail, cause: e });
  }
  if (e.operation === Operation.Decrypt && e.reason !== undefined && DECRYPT_INTEGRITY_REASONS.has(e.reason)) {
    return new XksError('InvalidCiphertextException', 'The ciphertext, IV, AAD or authentication tag is not valid for this key.', { logDetail, cause: e });
  }
  const row = e.reason === undefined ? undefined : RESULT_REASON_MAP.get(e.reason);
  const mapped = row ?? { errorName: 'InternalException' as const, message: 'The KMIP server failed the request.' };
  return new XksError(mapped.errorName, `${mapped.message} (key ${keyName})`, { logDetail, cause: e });
}

/** The XKS error when no server completed the call. */
export function xksErrorForUnavailable(e: KmipUnavailableError): XksError {
  // Per-server reasons (socket errors, host names) are for the operator's log only.
  return e.timedOut
    ? new XksError('DependencyTimeoutException', 'No KMIP server answered within the request budget; the proxy log lists each server.', {
        logDetail: e.message,
        cause: e,
        dependencyFailure: true,
      })
    : new XksError('InternalException', 'No KMIP server could complete the call; the proxy log lists each server and why.', {
        logDetail: e.message,
        cause: e,
        dependencyFailure: true,
      });
}

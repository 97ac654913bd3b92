import { describe, expect, it } from 'vitest';
import { KmipUnavailableError } from '../../../../src/providers/kmip/kmip-cluster.ts';
import { Operation, ResultReason, ResultStatus } from '../../../../src/providers/kmip/kmip-constants.ts';
import { KMIP2_REASON, xksErrorForResult, xksErrorForUnavailable } from '../../../../src/providers/kmip/kmip-error-map.ts';
import { KmipResultError } from '../../../../src/providers/kmip/kmip-message.ts';

const failed = (operation: number, reason: number | undefined, message?: string) =>
  new KmipResultError(operation, ResultStatus.OperationFailed, reason, message);

// The documented table (docs/kmip.md), written out here so a change to the code must change the test.
const EXPECTED: Array<[string, number, string]> = [
  ['Item Not Found', ResultReason.ItemNotFound, 'KeyNotFoundException'],
  ['Object Not Found (2.0)', KMIP2_REASON.ObjectNotFound, 'KeyNotFoundException'],
  ['Object Destroyed (2.0)', KMIP2_REASON.ObjectDestroyed, 'KeyNotFoundException'],
  ['Object Archived', ResultReason.ObjectArchived, 'InvalidStateException'],
  ['Illegal Operation', ResultReason.IllegalOperation, 'InvalidStateException'],
  ['Wrong Key Lifecycle State (2.0)', KMIP2_REASON.WrongKeyLifecycleState, 'InvalidStateException'],
  ['Incompatible Cryptographic Usage Mask (2.0)', KMIP2_REASON.IncompatibleCryptographicUsageMask, 'InvalidKeyUsageException'],
  ['Permission Denied', ResultReason.PermissionDenied, 'AccessDeniedException'],
  ['Not Authorised (2.0)', KMIP2_REASON.NotAuthorised, 'AccessDeniedException'],
  ['Authentication Not Successful', ResultReason.AuthenticationNotSuccessful, 'InternalException'],
  ['Operation Not Supported', ResultReason.OperationNotSupported, 'UnsupportedOperationException'],
  ['Feature Not Supported', ResultReason.FeatureNotSupported, 'UnsupportedOperationException'],
  ['Unsupported Cryptographic Parameters (2.0)', KMIP2_REASON.UnsupportedCryptographicParameters, 'UnsupportedOperationException'],
  ['Response Too Large', ResultReason.ResponseTooLarge, 'UnsupportedOperationException'],
  ['Server Limit Exceeded (2.0)', KMIP2_REASON.ServerLimitExceeded, 'ThrottlingException'],
  ['Cryptographic Failure', ResultReason.CryptographicFailure, 'InternalException'],
  ['Invalid Field', ResultReason.InvalidField, 'InternalException'],
  ['Invalid Message', ResultReason.InvalidMessage, 'InternalException'],
  ['General Failure', ResultReason.GeneralFailure, 'InternalException'],
];

describe('KMIP result reasons -> XKS errors', () => {
  for (const [name, reason, errorName] of EXPECTED) {
    it(`maps ${name} on Encrypt to ${errorName}`, () => {
      expect(xksErrorForResult(failed(Operation.Encrypt, reason), 'foo').errorName).toBe(errorName);
    });
  }

  it('maps an unknown or missing reason to InternalException', () => {
    expect(xksErrorForResult(failed(Operation.Encrypt, 0x7777), 'foo').errorName).toBe('InternalException');
    expect(xksErrorForResult(failed(Operation.Encrypt, undefined), 'foo').errorName).toBe('InternalException');
  });

  it('maps a failed integrity check on Decrypt to InvalidCiphertextException, whichever reason the server uses', () => {
    for (const reason of [
      ResultReason.CryptographicFailure,
      ResultReason.GeneralFailure, // PyKMIP 0.10 on a GCM tag mismatch
      ResultReason.InvalidField,
      KMIP2_REASON.BadCryptographicParameters,
    ]) {
      expect(xksErrorForResult(failed(Operation.Decrypt, reason), 'foo').errorName).toBe('InvalidCiphertextException');
    }
  });

  it('still maps key problems on Decrypt by the table', () => {
    expect(xksErrorForResult(failed(Operation.Decrypt, ResultReason.ItemNotFound), 'foo').errorName).toBe('KeyNotFoundException');
    expect(xksErrorForResult(failed(Operation.Decrypt, ResultReason.PermissionDenied), 'foo').errorName).toBe('AccessDeniedException');
  });

  it('treats an asynchronous (pending) result as an internal error', () => {
    const pending = new KmipResultError(Operation.Encrypt, ResultStatus.OperationPending, undefined, undefined);
    expect(xksErrorForResult(pending, 'foo').errorName).toBe('InternalException');
  });

  it('keeps the server message in the log detail, not in the client message', () => {
    const e = xksErrorForResult(failed(Operation.Encrypt, ResultReason.PermissionDenied, 'Could not locate object: 42'), 'foo');
    expect(e.logDetail).toBe('KMIP Encrypt OperationFailed, reason PermissionDenied: Could not locate object: 42');
    expect(e.message).not.toContain('42');
    expect(e.message).toContain('key foo');
  });

  it('maps no server answering to DependencyTimeoutException when time ran out, else InternalException', () => {
    expect(xksErrorForUnavailable(new KmipUnavailableError('x', true)).errorName).toBe('DependencyTimeoutException');
    expect(xksErrorForUnavailable(new KmipUnavailableError('x', false)).errorName).toBe('InternalException');
  });
});

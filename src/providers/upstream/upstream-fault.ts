import { XksError, type XksErrorName } from '../../xks/errors.ts';

/** Why an upstream endpoint could not give a usable answer. */
export type UpstreamFaultKind =
  /** Connect, headers or body did not arrive before the deadline. */
  | 'timeout'
  /** Connection refused or reset, DNS or TLS failure. */
  | 'unreachable'
  /** An answer that is not the spec's JSON (garbage, wrong shape, unknown error name). */
  | 'malformed'
  /** The upstream answered a spec error that blames itself (InternalException, DependencyTimeoutException). */
  | 'upstream-error'
  /** The upstream refused this proxy's configuration (its credential or the upstream URI prefix). */
  | 'misconfigured';

/**
 * A failure that blames the endpoint, not the request: the next endpoint is tried. It
 * carries the XksError to answer with when no endpoint is left. Errors that blame the
 * request (InvalidCiphertextException and the other 4xx names) are thrown as plain
 * XksError instead and never fail over: another node would give the same answer.
 */
export class UpstreamFault extends Error {
  readonly xksError: XksError;

  constructor(
    readonly kind: UpstreamFaultKind,
    errorName: Extract<XksErrorName, 'InternalException' | 'DependencyTimeoutException'>,
    clientMessage: string,
    /** For the operator's log only: no request data, no secrets. */
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'UpstreamFault';
    this.xksError = new XksError(errorName, clientMessage, { logDetail: detail });
  }
}

/** A malformed answer from an upstream: InternalException, try the next endpoint. */
export function malformedAnswer(what: string, detail: string): UpstreamFault {
  return new UpstreamFault('malformed', 'InternalException', `The upstream XKS proxy returned a malformed ${what}.`, `${what}: ${detail}`);
}

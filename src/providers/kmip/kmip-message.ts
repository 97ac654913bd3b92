/**
 * KMIP request and response messages with one batch item (KMIP spec 7.1 "Message
 * Structure"): the header, the batch item with its operation and payload, and the result
 * fields of the answer. One request per message keeps a failure tied to one operation.
 */
import { constantName, Operation, ResultReason, ResultStatus, Tag } from './kmip-constants.ts';
import { decodeTtlv } from './ttlv-decode.ts';
import { encodeTtlv } from './ttlv-encode.ts';
import {
  byteString,
  childOf,
  childrenOf,
  enumeration,
  integer,
  KmipProtocolError,
  optionalChild,
  requiredChild,
  struct,
  valueAs,
  type TtlvItem,
} from './ttlv-item.ts';

/** A KMIP protocol version. */
export interface KmipProtocolVersion {
  major: number;
  minor: number;
}

/**
 * KMIP 1.4: the first version whose Encrypt/Decrypt carry the AEAD additional data and
 * tag (spec 1.4 sections 4.29/4.30). At 1.2 PyKMIP silently drops both fields.
 */
export const KMIP_1_4: KmipProtocolVersion = { major: 1, minor: 4 };

/** One operation to send: its code and the children of its Request Payload. */
export interface KmipRequest {
  operation: number;
  payload: TtlvItem[];
}

/** The outcome of one batch item. */
export interface KmipResponse {
  operation: number | undefined;
  status: number;
  reason: number | undefined;
  /** The server's free-text Result Message: for logs only (it may name object ids). */
  message: string | undefined;
  payload: TtlvItem | undefined;
}

/** A KMIP operation that the server answered with a failure status. */
export class KmipResultError extends Error {
  constructor(
    readonly operation: number,
    readonly status: number,
    readonly reason: number | undefined,
    readonly serverMessage: string | undefined,
  ) {
    super(
      `KMIP ${constantName(Operation, operation)} failed: ${constantName(ResultStatus, status)}` +
        (reason === undefined ? '' : ` / ${constantName(ResultReason, reason)}`),
    );
    this.name = 'KmipResultError';
  }
}

/** Encodes a Request Message with one batch item and a Unique Batch Item ID to match the answer. */
export function encodeRequestMessage(version: KmipProtocolVersion, request: KmipRequest, batchItemId: Uint8Array): Buffer {
  return encodeTtlv(
    struct(Tag.RequestMessage, [
      struct(Tag.RequestHeader, [
        struct(Tag.ProtocolVersion, [integer(Tag.ProtocolVersionMajor, version.major), integer(Tag.ProtocolVersionMinor, version.minor)]),
        integer(Tag.BatchCount, 1),
      ]),
      struct(Tag.BatchItem, [
        enumeration(Tag.Operation, request.operation),
        byteString(Tag.UniqueBatchItemId, batchItemId),
        struct(Tag.RequestPayload, request.payload),
      ]),
    ]),
  );
}

/**
 * Decodes a Response Message and returns its single batch item. A batch item id that does
 * not match ours means the stream is out of step: that is a protocol error, not a result.
 * Message-level errors (e.g. a rejected client certificate) come without an id.
 */
export function decodeResponseMessage(bytes: Uint8Array, batchItemId: Uint8Array): KmipResponse {
  const message = decodeTtlv(bytes);
  if (message.tag !== Tag.ResponseMessage) throw new KmipProtocolError('not a KMIP Response Message');
  const header = childOf(message, Tag.ResponseHeader);
  if (header === undefined) throw new KmipProtocolError('Response Message without a header');
  const items = childrenOf(message, Tag.BatchItem);
  if (items.length !== 1) throw new KmipProtocolError(`expected one batch item, got ${items.length}`);
  const item = items[0] as TtlvItem;
  const echoed = optionalChild(item, Tag.UniqueBatchItemId, 'ByteString');
  if (echoed !== undefined && !Buffer.from(echoed).equals(Buffer.from(batchItemId))) {
    throw new KmipProtocolError('response batch item id does not match the request');
  }
  const payload = childOf(item, Tag.ResponsePayload);
  if (payload !== undefined) valueAs(payload, 'Structure');
  return {
    operation: optionalChild(item, Tag.Operation, 'Enumeration'),
    status: requiredChild(item, Tag.ResultStatus, 'Enumeration'),
    reason: optionalChild(item, Tag.ResultReason, 'Enumeration'),
    message: optionalChild(item, Tag.ResultMessage, 'TextString'),
    payload,
  };
}

/** The payload of a successful response; a failure status becomes a KmipResultError. */
export function successPayload(request: KmipRequest, response: KmipResponse): TtlvItem {
  if (response.status !== ResultStatus.Success) {
    throw new KmipResultError(request.operation, response.status, response.reason, response.message);
  }
  if (response.operation !== undefined && response.operation !== request.operation) {
    throw new KmipProtocolError(`response is for operation ${response.operation}, not ${request.operation}`);
  }
  return response.payload ?? struct(Tag.ResponsePayload, []);
}

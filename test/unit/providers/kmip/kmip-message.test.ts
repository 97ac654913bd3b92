import { describe, expect, it } from 'vitest';
import { Operation, ResultReason, Tag } from '../../../../src/providers/kmip/kmip-constants.ts';
import { decodeResponseMessage, encodeRequestMessage, KMIP_1_4, KmipResultError, successPayload } from '../../../../src/providers/kmip/kmip-message.ts';
import {
  decryptRequest,
  encryptRequest,
  getAttributesRequest,
  KEY_ATTRIBUTE_NAMES,
  locateRequest,
  parseGetAttributes,
  parseLocate,
} from '../../../../src/providers/kmip/kmip-operations.ts';
import { decodeTtlv } from '../../../../src/providers/kmip/ttlv-decode.ts';
import { encodeTtlv } from '../../../../src/providers/kmip/ttlv-encode.ts';
import { byteString, childOf, enumeration, integer, KmipProtocolError, struct, textString, type TtlvItem } from '../../../../src/providers/kmip/ttlv-item.ts';

const ID = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

function response(items: TtlvItem[]): Buffer {
  return encodeTtlv(
    struct(Tag.ResponseMessage, [
      struct(Tag.ResponseHeader, [
        struct(Tag.ProtocolVersion, [integer(Tag.ProtocolVersionMajor, 1), integer(Tag.ProtocolVersionMinor, 4)]),
        integer(Tag.BatchCount, 1),
      ]),
      struct(Tag.BatchItem, items),
    ]),
  );
}

function tagsOf(item: TtlvItem | undefined): number[] {
  return item?.type === 'Structure' ? item.value.map((c) => c.tag) : [];
}

describe('KMIP request messages', () => {
  it('sends protocol version 1.4, one batch item and our batch item id', () => {
    const message = decodeTtlv(encodeRequestMessage(KMIP_1_4, locateRequest('foo'), ID));
    const header = childOf(message, Tag.RequestHeader)!;
    expect(childOf(header, Tag.ProtocolVersion)).toEqual(
      struct(Tag.ProtocolVersion, [integer(Tag.ProtocolVersionMajor, 1), integer(Tag.ProtocolVersionMinor, 4)]),
    );
    expect(childOf(header, Tag.BatchCount)).toEqual(integer(Tag.BatchCount, 1));
    const item = childOf(message, Tag.BatchItem)!;
    expect(tagsOf(item)).toEqual([Tag.Operation, Tag.UniqueBatchItemId, Tag.RequestPayload]);
    expect(childOf(item, Tag.UniqueBatchItemId)).toEqual(byteString(Tag.UniqueBatchItemId, ID));
  });

  it('puts the Encrypt fields in the order of the KMIP 1.4 table, with GCM, a 16-byte tag and our IV', () => {
    const request = encryptRequest('uid-1', Uint8Array.of(9), new Uint8Array(12).fill(7), Uint8Array.of(1, 2));
    expect(request.payload.map((i) => i.tag)).toEqual([
      Tag.UniqueIdentifier,
      Tag.CryptographicParameters,
      Tag.Data,
      Tag.IvCounterNonce,
      Tag.AuthenticatedEncryptionAdditionalData,
    ]);
    expect(request.payload[1]).toEqual(
      struct(Tag.CryptographicParameters, [enumeration(Tag.BlockCipherMode, 9), enumeration(Tag.CryptographicAlgorithm, 3), integer(Tag.TagLength, 16)]),
    );
    expect(request.payload[3]).toEqual(byteString(Tag.IvCounterNonce, new Uint8Array(12).fill(7)));
  });

  it('puts the tag last in Decrypt and leaves out an empty AAD', () => {
    const request = decryptRequest('uid-1', Uint8Array.of(9), new Uint8Array(12), new Uint8Array(0), new Uint8Array(16));
    expect(request.payload.map((i) => i.tag)).toEqual([
      Tag.UniqueIdentifier,
      Tag.CryptographicParameters,
      Tag.Data,
      Tag.IvCounterNonce,
      Tag.AuthenticatedEncryptionTag,
    ]);
  });

  it('asks Get Attributes for algorithm, length, usage mask and state by name', () => {
    expect(getAttributesRequest('7', KEY_ATTRIBUTE_NAMES).payload).toEqual([
      textString(Tag.UniqueIdentifier, '7'),
      textString(Tag.AttributeName, 'Cryptographic Algorithm'),
      textString(Tag.AttributeName, 'Cryptographic Length'),
      textString(Tag.AttributeName, 'Cryptographic Usage Mask'),
      textString(Tag.AttributeName, 'State'),
    ]);
  });
});

describe('KMIP response messages', () => {
  it('returns the payload of a successful answer', () => {
    const bytes = response([
      enumeration(Tag.Operation, Operation.Locate),
      byteString(Tag.UniqueBatchItemId, ID),
      enumeration(Tag.ResultStatus, 0),
      struct(Tag.ResponsePayload, [textString(Tag.UniqueIdentifier, '1'), textString(Tag.UniqueIdentifier, '5')]),
    ]);
    expect(parseLocate(successPayload(locateRequest('x'), decodeResponseMessage(bytes, ID)))).toEqual(['1', '5']);
  });

  it('turns a failure status into a KmipResultError with reason and message', () => {
    const bytes = response([
      enumeration(Tag.Operation, Operation.Encrypt),
      byteString(Tag.UniqueBatchItemId, ID),
      enumeration(Tag.ResultStatus, 1),
      enumeration(Tag.ResultReason, ResultReason.PermissionDenied),
      textString(Tag.ResultMessage, 'not Active'),
    ]);
    const request = encryptRequest('1', new Uint8Array(1), new Uint8Array(12), new Uint8Array(0));
    expect(() => successPayload(request, decodeResponseMessage(bytes, ID))).toThrow(
      expect.objectContaining({ name: 'KmipResultError', reason: ResultReason.PermissionDenied, serverMessage: 'not Active' }) as KmipResultError,
    );
  });

  it('refuses an answer to another request (batch item id mismatch) as out of step', () => {
    const bytes = response([byteString(Tag.UniqueBatchItemId, Uint8Array.of(9, 9)), enumeration(Tag.ResultStatus, 0)]);
    expect(() => decodeResponseMessage(bytes, ID)).toThrow(KmipProtocolError);
  });

  it('accepts a message-level error without a batch item id (e.g. a rejected certificate)', () => {
    const bytes = response([enumeration(Tag.ResultStatus, 1), enumeration(Tag.ResultReason, ResultReason.AuthenticationNotSuccessful)]);
    expect(decodeResponseMessage(bytes, ID)).toMatchObject({ status: 1, reason: ResultReason.AuthenticationNotSuccessful });
  });

  it('refuses messages that are not one Response Message with one batch item', () => {
    expect(() => decodeResponseMessage(encodeTtlv(struct(Tag.RequestMessage, [])), ID)).toThrow(KmipProtocolError);
    const two = encodeTtlv(
      struct(Tag.ResponseMessage, [
        struct(Tag.ResponseHeader, []),
        struct(Tag.BatchItem, [enumeration(Tag.ResultStatus, 0)]),
        struct(Tag.BatchItem, [enumeration(Tag.ResultStatus, 0)]),
      ]),
    );
    expect(() => decodeResponseMessage(two, ID)).toThrow(/one batch item/);
  });

  it('reads the attributes of a Get Attributes answer, ignoring ones it does not need', () => {
    const attr = (name: string, value: TtlvItem) => struct(Tag.Attribute, [textString(Tag.AttributeName, name), value]);
    const payload = struct(Tag.ResponsePayload, [
      textString(Tag.UniqueIdentifier, '7'),
      attr('Cryptographic Algorithm', enumeration(Tag.AttributeValue, 3)),
      attr('Cryptographic Length', integer(Tag.AttributeValue, 256)),
      attr('Cryptographic Usage Mask', integer(Tag.AttributeValue, 0x0c)),
      attr('State', enumeration(Tag.AttributeValue, 2)),
      attr('Name', struct(Tag.AttributeValue, [textString(Tag.NameValue, 'foo'), enumeration(Tag.NameType, 1)])),
      attr('Object Group', textString(Tag.AttributeValue, 'ignored')),
    ]);
    expect(parseGetAttributes(payload)).toEqual({ names: ['foo'], algorithm: 3, length: 256, usageMask: 0x0c, state: 2 });
  });

  it('refuses an attribute value of the wrong type', () => {
    const payload = struct(Tag.ResponsePayload, [struct(Tag.Attribute, [textString(Tag.AttributeName, 'State'), textString(Tag.AttributeValue, 'Active')])]);
    expect(() => parseGetAttributes(payload)).toThrow(KmipProtocolError);
  });
});

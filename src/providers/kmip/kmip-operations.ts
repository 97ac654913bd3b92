/**
 * Request payloads and response parsers for the KMIP 1.4 operations this project uses
 * (KMIP spec 1.4 section 4). Field order follows the spec's tables: strict servers such as
 * PyKMIP read the fields in that order.
 */
import {
  AttributeName,
  BlockCipherMode,
  CryptographicAlgorithm,
  NameType,
  ObjectType,
  Operation,
  QueryFunction,
  RevocationReasonCode,
  Tag,
} from './kmip-constants.ts';
import { GCM_TAG_BYTES } from '../../xks/gcm-sizes.ts';
import type { KmipRequest } from './kmip-message.ts';
import {
  byteString,
  childOf,
  childrenOf,
  enumeration,
  integer,
  optionalChild,
  requiredChild,
  struct,
  textString,
  valueAs,
  type TtlvItem,
} from './ttlv-item.ts';

function attribute(name: string, value: TtlvItem): TtlvItem {
  return struct(Tag.Attribute, [textString(Tag.AttributeName, name), value]);
}

function nameValue(name: string): TtlvItem {
  return struct(Tag.AttributeValue, [textString(Tag.NameValue, name), enumeration(Tag.NameType, NameType.UninterpretedTextString)]);
}

function uidPayload(uid: string): TtlvItem[] {
  return [textString(Tag.UniqueIdentifier, uid)];
}

/** The Unique Identifier of a response payload. */
export function parseUniqueIdentifier(payload: TtlvItem): string {
  return requiredChild(payload, Tag.UniqueIdentifier, 'TextString');
}

/** Locate symmetric keys, optionally only those with a Name (spec 4.9). */
export function locateRequest(name?: string): KmipRequest {
  const filters = [attribute(AttributeName.ObjectType, enumeration(Tag.AttributeValue, ObjectType.SymmetricKey))];
  if (name !== undefined) filters.push(attribute(AttributeName.Name, nameValue(name)));
  return { operation: Operation.Locate, payload: filters };
}

/** The Unique Identifiers a Locate found. */
export function parseLocate(payload: TtlvItem): string[] {
  return childrenOf(payload, Tag.UniqueIdentifier).map((item) => valueAs(item, 'TextString'));
}

/** What the provider reads about a key with Get Attributes. */
export interface KmipKeyAttributes {
  names: string[];
  algorithm: number | undefined;
  length: number | undefined;
  usageMask: number | undefined;
  state: number | undefined;
}

/** Attributes requested for every key lookup. */
export const KEY_ATTRIBUTE_NAMES: readonly string[] = [
  AttributeName.CryptographicAlgorithm,
  AttributeName.CryptographicLength,
  AttributeName.CryptographicUsageMask,
  AttributeName.State,
];

/** Get Attributes of one object by name (spec 4.11). */
export function getAttributesRequest(uid: string, names: readonly string[]): KmipRequest {
  return { operation: Operation.GetAttributes, payload: [...uidPayload(uid), ...names.map((n) => textString(Tag.AttributeName, n))] };
}

/** Reads the attributes the provider cares about; others are ignored, missing ones are undefined. */
export function parseGetAttributes(payload: TtlvItem): KmipKeyAttributes {
  const out: KmipKeyAttributes = { names: [], algorithm: undefined, length: undefined, usageMask: undefined, state: undefined };
  for (const attr of childrenOf(payload, Tag.Attribute)) {
    const name = requiredChild(attr, Tag.AttributeName, 'TextString');
    const value = childOf(attr, Tag.AttributeValue);
    if (value === undefined) continue;
    switch (name) {
      case AttributeName.Name:
        out.names.push(requiredChild(value, Tag.NameValue, 'TextString'));
        break;
      case AttributeName.CryptographicAlgorithm:
        out.algorithm = valueAs(value, 'Enumeration');
        break;
      case AttributeName.CryptographicLength:
        out.length = valueAs(value, 'Integer');
        break;
      case AttributeName.CryptographicUsageMask:
        out.usageMask = valueAs(value, 'Integer');
        break;
      case AttributeName.State:
        out.state = valueAs(value, 'Enumeration');
        break;
      default:
        break;
    }
  }
  return out;
}

/** Cryptographic Parameters for AES-GCM with a 16-byte tag (spec 2.1.18; field order of the table). */
function gcmParameters(): TtlvItem {
  return struct(Tag.CryptographicParameters, [
    enumeration(Tag.BlockCipherMode, BlockCipherMode.GCM),
    // PyKMIP takes the algorithm from here, not from the key's own attribute.
    enumeration(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES),
    integer(Tag.TagLength, GCM_TAG_BYTES),
  ]);
}

function aadItems(aad: Uint8Array): TtlvItem[] {
  // An empty AAD and no AAD are the same to GCM; some servers reject empty byte strings.
  return aad.length === 0 ? [] : [byteString(Tag.AuthenticatedEncryptionAdditionalData, aad)];
}

/** Encrypt with our IV and AAD (spec 1.4 section 4.29). */
export function encryptRequest(uid: string, plaintext: Uint8Array, iv: Uint8Array, aad: Uint8Array): KmipRequest {
  return {
    operation: Operation.Encrypt,
    payload: [...uidPayload(uid), gcmParameters(), byteString(Tag.Data, plaintext), byteString(Tag.IvCounterNonce, iv), ...aadItems(aad)],
  };
}

/** The Encrypt result: ciphertext, the IV if the server echoed one, and the tag. */
export function parseEncrypt(payload: TtlvItem): { ciphertext: Uint8Array; iv: Uint8Array | undefined; tag: Uint8Array | undefined } {
  return {
    ciphertext: requiredChild(payload, Tag.Data, 'ByteString'),
    iv: optionalChild(payload, Tag.IvCounterNonce, 'ByteString'),
    tag: optionalChild(payload, Tag.AuthenticatedEncryptionTag, 'ByteString'),
  };
}

/** Decrypt with IV, AAD and tag (spec 1.4 section 4.30). */
export function decryptRequest(uid: string, ciphertext: Uint8Array, iv: Uint8Array, aad: Uint8Array, tag: Uint8Array): KmipRequest {
  return {
    operation: Operation.Decrypt,
    payload: [
      ...uidPayload(uid),
      gcmParameters(),
      byteString(Tag.Data, ciphertext),
      byteString(Tag.IvCounterNonce, iv),
      ...aadItems(aad),
      byteString(Tag.AuthenticatedEncryptionTag, tag),
    ],
  };
}

/** The Decrypt result: the plaintext. */
export function parseDecrypt(payload: TtlvItem): Uint8Array {
  return requiredChild(payload, Tag.Data, 'ByteString');
}

/** Create an AES key (256 bits unless told) with a Name and a usage mask (spec 4.1); it starts Pre-Active. */
export function createAesKeyRequest(name: string, usageMask: number, bits = 256): KmipRequest {
  return {
    operation: Operation.Create,
    payload: [
      enumeration(Tag.ObjectType, ObjectType.SymmetricKey),
      struct(Tag.TemplateAttribute, [
        attribute(AttributeName.CryptographicAlgorithm, enumeration(Tag.AttributeValue, CryptographicAlgorithm.AES)),
        attribute(AttributeName.CryptographicLength, integer(Tag.AttributeValue, bits)),
        attribute(AttributeName.CryptographicUsageMask, integer(Tag.AttributeValue, usageMask)),
        attribute(AttributeName.Name, nameValue(name)),
      ]),
    ],
  };
}

/** Activate an object: Pre-Active -> Active (spec 4.19). */
export function activateRequest(uid: string): KmipRequest {
  return { operation: Operation.Activate, payload: uidPayload(uid) };
}

/** Revoke an object: Active -> Deactivated, or -> Compromised with reason Key Compromise (spec 4.20). */
export function revokeRequest(uid: string, compromised: boolean): KmipRequest {
  const code = compromised ? RevocationReasonCode.KeyCompromise : RevocationReasonCode.CessationOfOperation;
  return {
    operation: Operation.Revoke,
    payload: [...uidPayload(uid), struct(Tag.RevocationReason, [enumeration(Tag.RevocationReasonCode, code)])],
  };
}

/** Destroy an object's key material (spec 4.21); Active objects must be revoked first. */
export function destroyRequest(uid: string): KmipRequest {
  return { operation: Operation.Destroy, payload: uidPayload(uid) };
}

/** What Query tells about a server. */
export interface KmipServerInfo {
  operations: number[];
  vendorIdentification: string | undefined;
}

/** Query the supported operations and the server information (spec 4.25). */
export function queryRequest(): KmipRequest {
  return {
    operation: Operation.Query,
    payload: [enumeration(Tag.QueryFunction, QueryFunction.QueryOperations), enumeration(Tag.QueryFunction, QueryFunction.QueryServerInformation)],
  };
}

/** Reads the Query answer. */
export function parseQuery(payload: TtlvItem): KmipServerInfo {
  return {
    operations: childrenOf(payload, Tag.Operation).map((item) => valueAs(item, 'Enumeration')),
    vendorIdentification: optionalChild(payload, Tag.VendorIdentification, 'TextString'),
  };
}

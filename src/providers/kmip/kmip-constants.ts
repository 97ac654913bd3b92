/**
 * The KMIP 1.x numbers this client uses: tags, item types and enumerations, from the
 * KMIP Specification v1.4 section 9.1.3 (tags) and 9.1.3.2 (enumerations). Only what the
 * provider, the CLI and the tests need.
 */

/** TTLV tags (spec 9.1.3.1). */
export const Tag = {
  Attribute: 0x420008,
  AttributeIndex: 0x420009,
  AttributeName: 0x42000a,
  AttributeValue: 0x42000b,
  BatchCount: 0x42000d,
  BatchItem: 0x42000f,
  BlockCipherMode: 0x420011,
  CryptographicAlgorithm: 0x420028,
  CryptographicLength: 0x42002a,
  CryptographicParameters: 0x42002b,
  CryptographicUsageMask: 0x42002c,
  IvCounterNonce: 0x42003d,
  MaximumItems: 0x42004f,
  Name: 0x420053,
  NameType: 0x420054,
  NameValue: 0x420055,
  ObjectType: 0x420057,
  Operation: 0x42005c,
  ProtocolVersion: 0x420069,
  ProtocolVersionMajor: 0x42006a,
  ProtocolVersionMinor: 0x42006b,
  QueryFunction: 0x420074,
  RequestHeader: 0x420077,
  RequestMessage: 0x420078,
  RequestPayload: 0x420079,
  ResponseHeader: 0x42007a,
  ResponseMessage: 0x42007b,
  ResponsePayload: 0x42007c,
  ResultMessage: 0x42007d,
  ResultReason: 0x42007e,
  ResultStatus: 0x42007f,
  RevocationReason: 0x420081,
  RevocationReasonCode: 0x420082,
  ServerInformation: 0x420088,
  State: 0x42008d,
  TemplateAttribute: 0x420091,
  TimeStamp: 0x420092,
  UniqueBatchItemId: 0x420093,
  UniqueIdentifier: 0x420094,
  VendorIdentification: 0x42009d,
  Data: 0x4200c2,
  TagLength: 0x4200ce,
  LocatedItems: 0x4200d5,
  AuthenticatedEncryptionAdditionalData: 0x4200fe,
  AuthenticatedEncryptionTag: 0x4200ff,
} as const;

/** TTLV item type codes (spec 9.1.1.3). */
export const ItemType = {
  Structure: 0x01,
  Integer: 0x02,
  LongInteger: 0x03,
  BigInteger: 0x04,
  Enumeration: 0x05,
  Boolean: 0x06,
  TextString: 0x07,
  ByteString: 0x08,
  DateTime: 0x09,
  Interval: 0x0a,
} as const;

/** Operation enumeration (spec 9.1.3.2.27). */
export const Operation = {
  Create: 0x01,
  Locate: 0x08,
  GetAttributes: 0x0b,
  Activate: 0x12,
  Revoke: 0x13,
  Destroy: 0x14,
  Query: 0x18,
  Encrypt: 0x1f,
  Decrypt: 0x20,
} as const;

/** Result Status enumeration (spec 9.1.3.2.28). */
export const ResultStatus = {
  Success: 0,
  OperationFailed: 1,
  OperationPending: 2,
  OperationUndone: 3,
} as const;

/** Result Reason enumeration (spec 9.1.3.2.29). */
export const ResultReason = {
  ItemNotFound: 0x01,
  ResponseTooLarge: 0x02,
  AuthenticationNotSuccessful: 0x03,
  InvalidMessage: 0x04,
  OperationNotSupported: 0x05,
  MissingData: 0x06,
  InvalidField: 0x07,
  FeatureNotSupported: 0x08,
  OperationCanceledByRequester: 0x09,
  CryptographicFailure: 0x0a,
  IllegalOperation: 0x0b,
  PermissionDenied: 0x0c,
  ObjectArchived: 0x0d,
  IndexOutOfBounds: 0x0e,
  ApplicationNamespaceNotSupported: 0x0f,
  KeyFormatTypeNotSupported: 0x10,
  KeyCompressionTypeNotSupported: 0x11,
  EncodingOptionError: 0x12,
  KeyValueNotPresent: 0x13,
  AttestationRequired: 0x14,
  AttestationFailed: 0x15,
  Sensitive: 0x16,
  NotExtractable: 0x17,
  ObjectAlreadyExists: 0x18,
  GeneralFailure: 0x100,
} as const;

/** State enumeration (spec 9.1.3.2.17 and the key life cycle in section 3.22). */
export const KeyState = {
  PreActive: 1,
  Active: 2,
  Deactivated: 3,
  Compromised: 4,
  Destroyed: 5,
  DestroyedCompromised: 6,
} as const;

/** Object Type enumeration (spec 9.1.3.2.12). */
export const ObjectType = { SymmetricKey: 0x02 } as const;

/** Cryptographic Algorithm enumeration (spec 9.1.3.2.13). */
export const CryptographicAlgorithm = { AES: 0x03 } as const;

/** Block Cipher Mode enumeration (spec 9.1.3.2.14). */
export const BlockCipherMode = { GCM: 0x09 } as const;

/** Name Type enumeration (spec 9.1.3.2.11). */
export const NameType = { UninterpretedTextString: 0x01 } as const;

/** Query Function enumeration (spec 9.1.3.2.24). */
export const QueryFunction = { QueryOperations: 0x01, QueryObjects: 0x02, QueryServerInformation: 0x03 } as const;

/** Revocation Reason Code enumeration (spec 9.1.3.2.19). */
export const RevocationReasonCode = { Unspecified: 0x01, KeyCompromise: 0x02, CessationOfOperation: 0x06 } as const;

/** Cryptographic Usage Mask bits (spec 9.1.3.3.1). */
export const UsageMask = { Encrypt: 0x04, Decrypt: 0x08 } as const;

/** Attribute names as KMIP 1.x spells them in Get Attributes and Template-Attribute (spec 3). */
export const AttributeName = {
  Name: 'Name',
  ObjectType: 'Object Type',
  CryptographicAlgorithm: 'Cryptographic Algorithm',
  CryptographicLength: 'Cryptographic Length',
  CryptographicUsageMask: 'Cryptographic Usage Mask',
  State: 'State',
} as const;

/** Reverse lookup of a constant table, for messages and logs ("PermissionDenied" for 0x0c). */
export function constantName(table: Readonly<Record<string, number>>, value: number): string {
  for (const [name, v] of Object.entries(table)) if (v === value) return name;
  return `0x${value.toString(16).padStart(2, '0')}`;
}

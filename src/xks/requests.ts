import { XksError } from './errors.ts';
import { GCM_IV_LENGTHS, GCM_TAG_BYTES } from './gcm-sizes.ts';
import { decodeBase64Field, optionalString, requireObject, requireString, type ByteLengthRule, type JsonObject } from './request-body.ts';

/**
 * Typed XKS requests, parsed and validated from JSON bodies before any crypto (spec
 * "API operations"). Size limits are the spec's minimums, which this proxy supports
 * exactly: anything larger is a ValidationException.
 */

/** Largest plaintext / ciphertext, in bytes (spec Encrypt/Decrypt: "up to 4300 bytes"). */
export const MAX_PLAINTEXT_BYTES = 4300;
/** Largest AAD, in bytes (spec: "AAD values up to 8192 bytes"). */
export const MAX_AAD_BYTES = 8192;
/** Largest ciphertextMetadata, in bytes (spec: "MUST NOT exceed 20 bytes"). */
export const MAX_CIPHERTEXT_METADATA_BYTES = 20;
/** Longest ARN the spec requires us to accept (IAM's limit). */
const MAX_ARN_LENGTH = 2048;

/** requestMetadata (spec Appendix B): logged, used by secondary authorization. Unknown fields are kept. */
export interface RequestMetadata {
  kmsRequestId: string;
  kmsOperation: string;
  awsPrincipalArn?: string;
  kmsKeyArn?: string;
  awsSourceVpc?: string;
  awsSourceVpce?: string;
  kmsViaService?: string;
}

/** GetHealthStatus request. */
export interface HealthRequest {
  requestMetadata: RequestMetadata;
}

/** GetKeyMetadata request. */
export interface KeyMetadataRequest {
  requestMetadata: RequestMetadata;
}

/** Encrypt request with decoded bytes. */
export interface EncryptRequest {
  requestMetadata: RequestMetadata;
  plaintext: Buffer;
  /** undefined when the field was absent (differs from present-but-empty for some AAD encodings). */
  aad: Buffer | undefined;
  /** True when the caller asked for a CDIV (ciphertextDataIntegrityValueAlgorithm present). */
  wantsCdiv: boolean;
}

/** Decrypt request with decoded bytes. */
export interface DecryptRequest {
  requestMetadata: RequestMetadata;
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
  aad: Buffer | undefined;
  ciphertextMetadata: Buffer | undefined;
}

/** Reads requestMetadata. kmsRequestId is opaque: never validated beyond being a string (spec). */
export function parseRequestMetadata(body: JsonObject, opts: { principalRequired: boolean }): RequestMetadata {
  const md = requireObject(body, 'requestMetadata');
  const meta: RequestMetadata = {
    kmsRequestId: requireString(md, 'kmsRequestId', 'requestMetadata.kmsRequestId'),
    // Unknown kmsOperation values MUST be accepted (spec): only the type is checked.
    kmsOperation: requireString(md, 'kmsOperation', 'requestMetadata.kmsOperation'),
  };
  const principal = opts.principalRequired
    ? requireString(md, 'awsPrincipalArn', 'requestMetadata.awsPrincipalArn')
    : optionalString(md, 'awsPrincipalArn', 'requestMetadata.awsPrincipalArn');
  if (principal !== undefined) meta.awsPrincipalArn = checkArnLength(principal, 'awsPrincipalArn');
  for (const [field, path] of OPTIONAL_METADATA_FIELDS) {
    const value = optionalString(md, field, path);
    if (value !== undefined) meta[field] = checkArnLength(value, field);
  }
  return meta;
}

/** The optional requestMetadata strings with their field paths, built once (not per request). */
const OPTIONAL_METADATA_FIELDS = (['kmsKeyArn', 'awsSourceVpc', 'awsSourceVpce', 'kmsViaService'] as const).map(
  (field) => [field, `requestMetadata.${field}`] as const,
);

function checkArnLength(value: string, field: string): string {
  if (value.length > MAX_ARN_LENGTH) {
    throw new XksError('ValidationException', `Field requestMetadata.${field} is longer than ${MAX_ARN_LENGTH} characters.`);
  }
  return value;
}

function requireAesGcm(body: JsonObject): void {
  const algorithm = requireString(body, 'encryptionAlgorithm');
  if (algorithm !== 'AES_GCM') {
    throw new XksError('ValidationException', 'Field encryptionAlgorithm must be "AES_GCM" (the only algorithm of XKS API v1).');
  }
}

/** Decoded-length rules of the Base64 fields (spec limits), made once. */
const PLAINTEXT_RULE: ByteLengthRule = { max: MAX_PLAINTEXT_BYTES };
const AAD_RULE: ByteLengthRule = { max: MAX_AAD_BYTES };
const IV_RULE: ByteLengthRule = { oneOf: GCM_IV_LENGTHS };
const TAG_RULE: ByteLengthRule = { oneOf: [GCM_TAG_BYTES] };
const CIPHERTEXT_METADATA_RULE: ByteLengthRule = { max: MAX_CIPHERTEXT_METADATA_BYTES };

function optionalAad(body: JsonObject): Buffer | undefined {
  const aad = optionalString(body, 'additionalAuthenticatedData');
  return aad === undefined ? undefined : decodeBase64Field(aad, 'additionalAuthenticatedData', AAD_RULE);
}

/** Parses a GetHealthStatus body. */
export function parseHealthRequest(body: JsonObject): HealthRequest {
  return { requestMetadata: parseRequestMetadata(body, { principalRequired: false }) };
}

/** Parses a GetKeyMetadata body. */
export function parseKeyMetadataRequest(body: JsonObject): KeyMetadataRequest {
  return { requestMetadata: parseRequestMetadata(body, { principalRequired: true }) };
}

/** Parses an Encrypt body. */
export function parseEncryptRequest(body: JsonObject): EncryptRequest {
  const requestMetadata = parseRequestMetadata(body, { principalRequired: true });
  const plaintext = decodeBase64Field(requireString(body, 'plaintext'), 'plaintext', PLAINTEXT_RULE);
  requireAesGcm(body);
  const aad = optionalAad(body);
  const cdivAlgorithm = optionalString(body, 'ciphertextDataIntegrityValueAlgorithm');
  if (cdivAlgorithm !== undefined && cdivAlgorithm !== 'SHA_256') {
    throw new XksError('ValidationException', 'Field ciphertextDataIntegrityValueAlgorithm must be "SHA_256" when present.');
  }
  return { requestMetadata, plaintext, aad, wantsCdiv: cdivAlgorithm !== undefined };
}

/** Parses a Decrypt body. */
export function parseDecryptRequest(body: JsonObject): DecryptRequest {
  const requestMetadata = parseRequestMetadata(body, { principalRequired: true });
  const ciphertext = decodeBase64Field(requireString(body, 'ciphertext'), 'ciphertext', PLAINTEXT_RULE);
  requireAesGcm(body);
  const iv = decodeBase64Field(requireString(body, 'initializationVector'), 'initializationVector', IV_RULE);
  const tag = decodeBase64Field(requireString(body, 'authenticationTag'), 'authenticationTag', TAG_RULE);
  const aad = optionalAad(body);
  const md = optionalString(body, 'ciphertextMetadata');
  const ciphertextMetadata = md === undefined ? undefined : decodeBase64Field(md, 'ciphertextMetadata', CIPHERTEXT_METADATA_RULE);
  return { requestMetadata, ciphertext, iv, tag, aad, ciphertextMetadata };
}

/** externalKeyId rule (spec "API operations"): 1-128 chars of A-Za-z0-9 . - _ */
export const EXTERNAL_KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Checks an externalKeyId from the URI. */
export function checkExternalKeyId(keyId: string): string {
  if (!EXTERNAL_KEY_ID_PATTERN.test(keyId)) {
    throw new XksError('ValidationException', 'The externalKeyId in the URI must be 1-128 characters of A-Z, a-z, 0-9, period, hyphen and underscore.');
  }
  return keyId;
}

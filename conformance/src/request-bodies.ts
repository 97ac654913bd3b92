/** Request bodies shaped like the ones AWS KMS sends (spec "API operations"). */
import { randomUUID } from 'node:crypto';

/** A principal ARN as KMS sends it in requestMetadata. */
export const PRINCIPAL_ARN = 'arn:aws:iam::123456789012:user/Alice';
/** A KMS key ARN as KMS sends it in requestMetadata. */
export const KMS_KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** requestMetadata for metadata/encrypt/decrypt calls; `extra` overrides or adds fields. */
export function requestMetadata(kmsOperation: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    awsPrincipalArn: PRINCIPAL_ARN,
    kmsKeyArn: KMS_KEY_ARN,
    kmsOperation,
    kmsRequestId: randomUUID(),
    kmsViaService: 'ebs',
    ...extra,
  };
}

/** requestMetadata for GetHealthStatus, which carries only the request id and operation. */
export function healthMetadata(kmsOperation = 'KmsHealthCheck', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { kmsRequestId: randomUUID(), kmsOperation, ...extra };
}

/** Inputs of an Encrypt call (decoded bytes). */
export interface EncryptInput {
  plaintext: Uint8Array;
  aad?: Uint8Array;
  /** Ask for a ciphertextDataIntegrityValue (SHA_256). */
  cdiv?: boolean;
}

/** Inputs of a Decrypt call (decoded bytes), as an Encrypt answer returns them. */
export interface DecryptInput {
  ciphertext: Uint8Array;
  iv: Uint8Array;
  tag: Uint8Array;
  aad?: Uint8Array;
  metadata?: Uint8Array;
}

/** Base64 of bytes, as every binary field in the API is sent. */
export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** An Encrypt request body. */
export function encryptBody(input: EncryptInput, meta = requestMetadata('Encrypt')): Record<string, unknown> {
  const body: Record<string, unknown> = {
    requestMetadata: meta,
    plaintext: b64(input.plaintext),
    encryptionAlgorithm: 'AES_GCM',
  };
  if (input.aad !== undefined) body.additionalAuthenticatedData = b64(input.aad);
  if (input.cdiv) body.ciphertextDataIntegrityValueAlgorithm = 'SHA_256';
  return body;
}

/** A Decrypt request body. */
export function decryptBody(input: DecryptInput, meta = requestMetadata('Decrypt')): Record<string, unknown> {
  const body: Record<string, unknown> = {
    requestMetadata: meta,
    ciphertext: b64(input.ciphertext),
    encryptionAlgorithm: 'AES_GCM',
    initializationVector: b64(input.iv),
    authenticationTag: b64(input.tag),
  };
  if (input.aad !== undefined) body.additionalAuthenticatedData = b64(input.aad);
  if (input.metadata !== undefined) body.ciphertextMetadata = b64(input.metadata);
  return body;
}

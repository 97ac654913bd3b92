/** Encrypt and Decrypt calls whose answers are checked against the spec's field rules. */
import { fail } from './check.ts';
import { expectSuccess } from './expect-answer.ts';
import type { DecryptInput, EncryptInput } from './request-bodies.ts';
import { requestMetadata } from './request-bodies.ts';
import type { XksClient } from './xks-client.ts';

/** A decoded Encrypt answer. */
export interface EncryptOutput {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
  /** Absent when the proxy returns no ciphertextMetadata. */
  metadata?: Buffer;
  /** Absent unless the request asked for a CDIV. */
  cdiv?: Buffer;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes a Base64 response field, failing the check when it is not Base64. */
export function decodeField(body: Record<string, unknown>, field: string, what: string): Buffer {
  const v = body[field];
  if (typeof v !== 'string') fail(`${what}: response field ${field} is ${v === undefined ? 'missing' : 'not a string'}`);
  if (!BASE64.test(v)) fail(`${what}: response field ${field} is not standard Base64`);
  return Buffer.from(v, 'base64');
}

/**
 * Checks an Encrypt response body against the spec's Encrypt section: ciphertext as long
 * as the plaintext, 12- or 16-byte IV, 16-byte tag, at most 20 bytes of metadata, and a
 * CDIV exactly when one was requested.
 */
export function readEncryptOutput(body: Record<string, unknown>, input: EncryptInput, what: string): EncryptOutput {
  const ciphertext = decodeField(body, 'ciphertext', what);
  const iv = decodeField(body, 'initializationVector', what);
  const tag = decodeField(body, 'authenticationTag', what);
  if (ciphertext.length !== input.plaintext.length) {
    fail(
      `${what}: ciphertext is ${ciphertext.length} bytes for ${input.plaintext.length} bytes of plaintext (GCM keeps the length; was the tag left appended?)`,
    );
  }
  if (iv.length !== 12 && iv.length !== 16) fail(`${what}: initializationVector is ${iv.length} bytes, the spec allows 12 or 16`);
  if (tag.length !== 16) fail(`${what}: authenticationTag is ${tag.length} bytes, the spec requires 16`);
  const out: EncryptOutput = { ciphertext, iv, tag };
  if (body.ciphertextMetadata !== undefined) {
    out.metadata = decodeField(body, 'ciphertextMetadata', what);
    if (out.metadata.length > 20) fail(`${what}: ciphertextMetadata is ${out.metadata.length} bytes, the spec allows at most 20`);
  }
  if (input.cdiv) {
    if (body.ciphertextDataIntegrityValue === undefined)
      fail(`${what}: ciphertextDataIntegrityValueAlgorithm was sent but no ciphertextDataIntegrityValue came back`);
    out.cdiv = decodeField(body, 'ciphertextDataIntegrityValue', what);
  }
  return out;
}

/** Encrypts and expects a well-formed success. */
export async function encryptOk(
  client: XksClient,
  keyId: string,
  input: EncryptInput,
  what = 'encrypt',
  meta = requestMetadata('Encrypt'),
): Promise<EncryptOutput> {
  const a = await client.encrypt(keyId, input, meta);
  return readEncryptOutput(expectSuccess(a, what), input, what);
}

/** Decrypts and expects a success whose plaintext equals `expected`. */
export async function decryptOk(
  client: XksClient,
  keyId: string,
  input: DecryptInput,
  expected: Uint8Array,
  what = 'decrypt',
  meta = requestMetadata('Decrypt'),
): Promise<void> {
  const a = await client.decrypt(keyId, input, meta);
  const plaintext = decodeField(expectSuccess(a, what), 'plaintext', what);
  if (!plaintext.equals(Buffer.from(expected))) {
    fail(`${what}: returned ${plaintext.length} bytes that differ from the ${expected.length} bytes encrypted`);
  }
}

/** The Decrypt input that undoes an Encrypt: its output plus the AAD used. */
export function decryptInputFor(out: EncryptOutput, aad?: Uint8Array): DecryptInput {
  const input: DecryptInput = { ciphertext: out.ciphertext, iv: out.iv, tag: out.tag };
  if (aad !== undefined) input.aad = aad;
  if (out.metadata !== undefined) input.metadata = out.metadata;
  return input;
}

import { XksError } from './errors.ts';

/**
 * Field-level readers for XKS request bodies. Each failure is a ValidationException whose
 * message names the field and says what was expected (spec "Error codes": the message is
 * logged to the customer's CloudWatch, so it should help them fix the call).
 */

/** A parsed JSON object (not an array, not null). */
export type JsonObject = Record<string, unknown>;

/** Characters of the standard Base64 alphabet (RFC 4648 section 4), by char code. */
const BASE64_ALPHABET = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_ALPHABET[ch.charCodeAt(0)] = 1;
const PADDING = 0x3d; // '='

/**
 * Standard Base64 with padding, as the spec requires: whole 4-character groups of the
 * alphabet, with one or two '=' only at the very end. A loop over a table rather than a
 * regex: five fields per request make the check a hot path (docs/performance.md).
 */
export function isPaddedBase64(value: string): boolean {
  const length = value.length;
  if (length % 4 !== 0) return false;
  let end = length;
  if (end > 0 && value.charCodeAt(end - 1) === PADDING) end--;
  if (end > 0 && value.charCodeAt(end - 1) === PADDING) end--;
  for (let i = 0; i < end; i++) {
    const code = value.charCodeAt(i);
    if (code >= 128 || BASE64_ALPHABET[code] === 0) return false;
  }
  return true;
}

/** Parses a request body as a JSON object, or throws ValidationException. */
export function parseJsonObject(text: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new XksError('ValidationException', 'Request body is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new XksError('ValidationException', 'Request body must be a JSON object.');
  }
  return value as JsonObject;
}

/** Reads a required string field. */
export function requireString(obj: JsonObject, field: string, path = field): string {
  const value = obj[field];
  if (value === undefined || value === null) {
    throw new XksError('ValidationException', `Missing required field ${path}.`);
  }
  if (typeof value !== 'string') {
    throw new XksError('ValidationException', `Field ${path} must be a string, got ${describeJsonType(value)}.`);
  }
  return value;
}

/** Reads an optional string field (absent or null -> undefined). */
export function optionalString(obj: JsonObject, field: string, path = field): string | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new XksError('ValidationException', `Field ${path} must be a string, got ${describeJsonType(value)}.`);
  }
  return value;
}

/** Reads a required JSON object field. */
export function requireObject(obj: JsonObject, field: string): JsonObject {
  const value = obj[field];
  if (value === undefined || value === null) {
    throw new XksError('ValidationException', `Missing required field ${field}.`);
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new XksError('ValidationException', `Field ${field} must be a JSON object, got ${describeJsonType(value)}.`);
  }
  return value as JsonObject;
}

/** Size rule for a Base64 field: decoded length bounds, inclusive. */
export interface ByteLengthRule {
  min?: number;
  max?: number;
  /** Exact allowed lengths (e.g. IV: 12 or 16). */
  oneOf?: readonly number[];
}

/**
 * Decodes a Base64 field strictly and checks its decoded length. The encoded length is
 * checked first so an oversized field is rejected before it is decoded.
 */
export function decodeBase64Field(value: string, field: string, rule: ByteLengthRule): Buffer {
  const maxEncoded = rule.max !== undefined ? Math.ceil(rule.max / 3) * 4 : undefined;
  if (maxEncoded !== undefined && value.length > maxEncoded) {
    throw new XksError('ValidationException', `Field ${field} is too long: at most ${rule.max} bytes are allowed after Base64 decoding.`);
  }
  if (!isPaddedBase64(value)) {
    throw new XksError('ValidationException', `Field ${field} is not valid Base64 (standard alphabet with = padding).`);
  }
  const bytes = Buffer.from(value, 'base64');
  if (rule.oneOf !== undefined && !rule.oneOf.includes(bytes.length)) {
    throw new XksError('ValidationException', `Field ${field} must decode to ${rule.oneOf.join(' or ')} bytes, got ${bytes.length}.`);
  }
  if (rule.max !== undefined && bytes.length > rule.max) {
    throw new XksError('ValidationException', `Field ${field} is too long: ${bytes.length} bytes, at most ${rule.max} are allowed.`);
  }
  if (rule.min !== undefined && bytes.length < rule.min) {
    throw new XksError('ValidationException', `Field ${field} is too short: ${bytes.length} bytes, at least ${rule.min} are required.`);
  }
  return bytes;
}

function describeJsonType(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

import { XksError } from './errors.ts';

/**
 * Field-level readers for XKS request bodies. Each failure is a ValidationException whose
 * message names the field and says what was expected (spec "Error codes": the message is
 * logged to the customer's CloudWatch, so it should help them fix the call).
 */

/** A parsed JSON object (not an array, not null). */
export type JsonObject = Record<string, unknown>;

const PADDING = 0x3d; // '='
const DASH = '-';
const UNDERSCORE = '_';

/**
 * Decodes standard Base64 with padding, as the spec requires (RFC 4648 section 4: whole
 * 4-character groups of the alphabet, one or two '=' only at the very end), or gives
 * undefined when the value is not that.
 *
 * Node's decoder does the work (five fields per request make this a hot path, and a loop
 * over the characters in JS cost more than the decoding, docs/performance.md), but it is
 * lenient: it skips characters outside the alphabet, stops at an '=' anywhere, takes the
 * URL-safe '-' and '_', and reads a character above U+00FF by its low byte ('\u0141' as
 * 'A'). So the value is held to three things instead: it is ASCII without '-' or '_', and
 * it decodes to exactly the bytes its length promises (3 per group, less one per trailing
 * '='). Any other character is skipped or stops the decoder, which leaves the output short.
 * test/unit/xks/request-body.test.ts checks this against the grammar as a regex.
 */
export function decodePaddedBase64(value: string): Buffer | undefined {
  const length = value.length;
  if (length % 4 !== 0) return undefined;
  if (Buffer.byteLength(value, 'utf8') !== length || value.indexOf(DASH) !== -1 || value.indexOf(UNDERSCORE) !== -1) return undefined;
  let padding = 0;
  if (length > 0 && value.charCodeAt(length - 1) === PADDING) padding = value.charCodeAt(length - 2) === PADDING ? 2 : 1;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === (length / 4) * 3 - padding ? bytes : undefined;
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
  const bytes = decodePaddedBase64(value);
  if (bytes === undefined) {
    throw new XksError('ValidationException', `Field ${field} is not valid Base64 (standard alphabet with = padding).`);
  }
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

/**
 * Value rules for every 200 answer, not only its shape. KMS acts on these values: a
 * keySpec other than AES_256 or a misspelt usage makes CreateKey fail, a health entry
 * with an unknown status makes the key store look broken, a ciphertext with the tag left
 * on it never decrypts. (A proxy once returned keySpec "RSA_0"; the AWS test client only
 * looked for the field name and did not notice.) XksClient tags each answer with the
 * request it answers, and `expectSuccess` runs these rules on every 200 of every check.
 */
import { computeCdiv } from './cdiv.ts';

/** The operations whose 200 bodies have value rules (spec "API operations"). */
export type AnsweredOperation = 'health' | 'metadata' | 'encrypt' | 'decrypt';

const HEALTH_STATUSES = ['ACTIVE', 'DEGRADED', 'UNAVAILABLE'];
const KEY_STATUSES = ['ENABLED', 'DISABLED'];
/** Usages are upper-case identifiers as the spec spells them (ENCRYPT, DECRYPT, WRAP, ...). */
const USAGE_SPELLING = /^[A-Z][A-Z0-9_]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Problems of a GetHealthStatus body; empty when it follows the spec. */
export function healthSchemaProblems(body: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const size = body.xksProxyFleetSize;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1) problems.push(`xksProxyFleetSize ${JSON.stringify(size)} is not an integer >= 1`);
  for (const f of ['xksProxyVendor', 'xksProxyModel', 'ekmVendor']) {
    if (typeof body[f] !== 'string' || body[f].length === 0) problems.push(`${f} is not a non-empty string`);
  }
  const fleet = body.ekmFleetDetails;
  if (!Array.isArray(fleet)) return [...problems, 'ekmFleetDetails is not an array'];
  if (fleet.length < 1 || fleet.length > 10) problems.push(`ekmFleetDetails has ${fleet.length} entries, must have 1 to 10`);
  fleet.forEach((e: unknown, i) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e)) {
      problems.push(`ekmFleetDetails[${i}] is not an object`);
      return;
    }
    const entry = e as Record<string, unknown>;
    if (typeof entry.id !== 'string' || entry.id.length === 0) problems.push(`ekmFleetDetails[${i}].id is not a non-empty string`);
    if (typeof entry.model !== 'string' || entry.model.length === 0) problems.push(`ekmFleetDetails[${i}].model is not a non-empty string`);
    if (!HEALTH_STATUSES.includes(entry.healthStatus as string))
      problems.push(`ekmFleetDetails[${i}].healthStatus ${JSON.stringify(entry.healthStatus)} is not ACTIVE, DEGRADED or UNAVAILABLE`);
  });
  return problems;
}

/**
 * Problems of a GetKeyMetadata body: keySpec exactly AES_256, keyStatus exactly ENABLED or
 * DISABLED, keyUsage at most 10 distinct upper-case strings in which ENCRYPT and DECRYPT
 * appear only as those exact words (so "Encrypt" or KMS's own "ENCRYPT_DECRYPT" fail).
 */
export function keyMetadataProblems(body: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (body.keySpec !== 'AES_256') problems.push(`keySpec is ${JSON.stringify(body.keySpec)}, must be "AES_256"`);
  if (!KEY_STATUSES.includes(body.keyStatus as string)) problems.push(`keyStatus is ${JSON.stringify(body.keyStatus)}, must be "ENABLED" or "DISABLED"`);
  const usage = body.keyUsage;
  if (!Array.isArray(usage) || !usage.every((u) => typeof u === 'string')) return [...problems, 'keyUsage is not an array of strings'];
  if (usage.length > 10) problems.push(`keyUsage has ${usage.length} values, at most 10 allowed`);
  if (new Set(usage).size !== usage.length) problems.push(`keyUsage ${JSON.stringify(usage)} repeats a value`);
  for (const u of usage) {
    if (!USAGE_SPELLING.test(u)) problems.push(`keyUsage value ${JSON.stringify(u)} is not spelt as the spec spells usages (upper case, e.g. "ENCRYPT")`);
    else if (/ENCRYPT|DECRYPT/.test(u) && u !== 'ENCRYPT' && u !== 'DECRYPT')
      problems.push(`keyUsage value ${JSON.stringify(u)} is not "ENCRYPT" or "DECRYPT" (KMS only understands those two)`);
  }
  return problems;
}

function decoded(body: Record<string, unknown>, field: string, problems: string[]): Buffer | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !BASE64.test(v)) {
    problems.push(`${field} is not a standard Base64 string`);
    return undefined;
  }
  return Buffer.from(v, 'base64');
}

/**
 * Problems of an Encrypt body, given the request it answers: ciphertext exactly as long as
 * the plaintext (tag not appended), IV of 12 or 16 bytes, tag of 16, ciphertextMetadata at
 * most 20 bytes, and when a CDIV algorithm was asked for, a CDIV equal to
 * SHA-256(aad || metadata || iv || ciphertext || tag) recomputed from the answer.
 */
export function encryptValueProblems(request: Record<string, unknown>, body: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const ciphertext = decoded(body, 'ciphertext', problems);
  const iv = decoded(body, 'initializationVector', problems);
  const tag = decoded(body, 'authenticationTag', problems);
  const metadata = decoded(body, 'ciphertextMetadata', problems);
  for (const [name, v] of [
    ['ciphertext', ciphertext],
    ['initializationVector', iv],
    ['authenticationTag', tag],
  ] as const) {
    if (v === undefined && body[name] === undefined) problems.push(`${name} is missing`);
  }
  const plaintext = typeof request.plaintext === 'string' ? Buffer.from(request.plaintext, 'base64') : undefined;
  if (ciphertext && plaintext && ciphertext.length !== plaintext.length) {
    problems.push(`ciphertext is ${ciphertext.length} bytes for ${plaintext.length} bytes of plaintext (GCM keeps the length; was the tag left appended?)`);
  }
  if (iv && iv.length !== 12 && iv.length !== 16) problems.push(`initializationVector is ${iv.length} bytes, the spec allows 12 or 16`);
  if (tag && tag.length !== 16) problems.push(`authenticationTag is ${tag.length} bytes, the spec requires 16`);
  if (metadata && metadata.length > 20) problems.push(`ciphertextMetadata is ${metadata.length} bytes, the spec allows at most 20`);
  if (request.ciphertextDataIntegrityValueAlgorithm !== undefined) {
    const cdiv = decoded(body, 'ciphertextDataIntegrityValue', problems);
    if (body.ciphertextDataIntegrityValue === undefined)
      problems.push('ciphertextDataIntegrityValueAlgorithm was sent but no ciphertextDataIntegrityValue came back');
    else if (cdiv && ciphertext && iv && tag) {
      const aad = typeof request.additionalAuthenticatedData === 'string' ? Buffer.from(request.additionalAuthenticatedData, 'base64') : undefined;
      const expected = computeCdiv({ aad, metadata, iv, ciphertext, tag });
      if (!expected.equals(cdiv)) {
        const hint = aad && aad.length > 0 && computeCdiv({ metadata, iv, ciphertext, tag }).equals(cdiv) ? ' (it leaves out the AAD)' : '';
        problems.push(
          `ciphertextDataIntegrityValue ${cdiv.toString('base64')} differs from SHA-256(aad || metadata || iv || ciphertext || tag) = ${expected.toString('base64')}${hint}`,
        );
      }
    }
  }
  return problems;
}

/** Problems of a Decrypt body: a Base64 plaintext. */
export function decryptValueProblems(body: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (body.plaintext === undefined) problems.push('plaintext is missing');
  else decoded(body, 'plaintext', problems);
  return problems;
}

/** The value problems of a 200 body of `op`, given the request body (parsed JSON, if it parsed). */
export function successValueProblems(op: AnsweredOperation, request: unknown, body: Record<string, unknown>): string[] {
  const req = request !== null && typeof request === 'object' && !Array.isArray(request) ? (request as Record<string, unknown>) : {};
  switch (op) {
    case 'health':
      return healthSchemaProblems(body);
    case 'metadata':
      return keyMetadataProblems(body);
    case 'encrypt':
      return encryptValueProblems(req, body);
    case 'decrypt':
      return decryptValueProblems(body);
  }
}

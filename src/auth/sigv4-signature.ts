/**
 * SigV4 stages 2-4 (AWS "Create a string to sign", "Calculate the signature"): the string
 * to sign, the signing key and the signature, as pure functions with the time passed in.
 */
import { createHmac } from 'node:crypto';
import { sha256Hex } from './sigv4-canonical.ts';

/** The only algorithm the XKS spec uses (and the only one we accept). */
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

/** Last element of every SigV4 credential scope. */
export const SIGV4_TERMINATOR = 'aws4_request';

/** Credential scope `<yyyymmdd>/<region>/<service>/aws4_request`. */
export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/${SIGV4_TERMINATOR}`;
}

/** String to sign: algorithm, x-amz-date, scope and the hex hash of the canonical request. */
export function buildStringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}

/**
 * Signing key: HMAC chain over date, region, service and "aws4_request", keyed first by
 * "AWS4" + secret. The result is as sensitive as the secret for that day and scope.
 */
export function deriveSigningKey(secret: Uint8Array, date: string, region: string, service: string): Buffer {
  const prefixed = Buffer.concat([Buffer.from('AWS4', 'latin1'), secret]);
  try {
    const kDate = createHmac('sha256', prefixed).update(date).digest();
    const kRegion = createHmac('sha256', kDate).update(region).digest();
    const kService = createHmac('sha256', kRegion).update(service).digest();
    return createHmac('sha256', kService).update(SIGV4_TERMINATOR).digest();
  } finally {
    prefixed.fill(0);
  }
}

/** The raw 32-byte signature of a string to sign (the verifier compares these bytes). */
export function signatureBytes(signingKey: Uint8Array, stringToSign: string): Buffer {
  return createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest();
}

/** The signature as it appears in the Authorization header: lower-case hex. */
export function signatureHex(signingKey: Uint8Array, stringToSign: string): string {
  return signatureBytes(signingKey, stringToSign).toString('hex');
}

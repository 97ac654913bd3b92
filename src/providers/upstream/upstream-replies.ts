import { computeCdiv } from '../../xks/cdiv.ts';
import { XKS_ERROR_STATUS, XksError, type XksErrorName } from '../../xks/errors.ts';
import { GCM_TAG_BYTES, isSpecIvLength } from '../../xks/gcm-sizes.ts';
import type { DecryptResponse, EncryptResponse, KeyMetadataResponse } from '../../xks/key-store.ts';
import type { DecryptRequest, EncryptRequest } from '../../xks/requests.ts';
import type { EkmHealth, EkmHealthStatus, KeyUsage } from '../../xks/key-provider-port.ts';
import type { UpstreamReply } from './upstream-client.ts';
import { malformedAnswer, UpstreamFault } from './upstream-fault.ts';

/**
 * Reads an upstream's answers. A 200 body is checked against the spec's response shape
 * before anything of it reaches KMS; an error body is passed through when it blames the
 * request, and becomes an UpstreamFault (try the next endpoint) when it blames the upstream.
 */

/** Error names that blame the request: the same request fails the same way on any node. */
const REQUEST_ERRORS: ReadonlySet<XksErrorName> = new Set<XksErrorName>([
  'ValidationException',
  'InvalidStateException',
  'InvalidCiphertextException',
  'InvalidKeyUsageException',
  'AccessDeniedException',
  'KeyNotFoundException',
  'ThrottlingException',
  'UnsupportedOperationException',
]);

/** Interprets a non-200 answer: returns the XksError to pass through, or throws an UpstreamFault. */
export function upstreamError(reply: UpstreamReply, what: string): XksError {
  const body = asObject(reply.json);
  const name = body?.errorName;
  // Object.hasOwn, not `in`: an upstream answering errorName "constructor" must not pass as a spec name.
  if (typeof name !== 'string' || !Object.hasOwn(XKS_ERROR_STATUS, name)) {
    throw malformedAnswer(`${what} error`, `HTTP ${reply.status} without a spec errorName`);
  }
  const errorName = name as XksErrorName;
  const message = typeof body?.errorMessage === 'string' && body.errorMessage !== '' ? body.errorMessage : `The upstream XKS proxy answered ${errorName}.`;
  const detail = `upstream answered HTTP ${reply.status} ${errorName}`;
  if (REQUEST_ERRORS.has(errorName)) return new XksError(errorName, message, { logDetail: detail });
  switch (errorName) {
    case 'InternalException':
    case 'DependencyTimeoutException':
      // The upstream's own failure: another node may do better; if none does, KMS sees the same name.
      throw new UpstreamFault('upstream-error', errorName, message, detail);
    case 'AuthenticationFailedException':
      // The upstream rejected OUR credential. Passed on as is, KMS would tell the customer
      // that the credential KMS holds is wrong, which it is not: this is our config.
      throw new UpstreamFault(
        'misconfigured',
        'InternalException',
        "The upstream XKS proxy rejected this proxy's credential; the operator must fix the upstream credential.",
        detail,
      );
    case 'InvalidUriPathException':
      // Same reasoning: KMS's URI path was fine (we routed it); the upstream uriPrefix is not.
      throw new UpstreamFault(
        'misconfigured',
        'InternalException',
        'The upstream XKS proxy does not serve the configured upstream URI prefix; the operator must fix uriPrefix.',
        detail,
      );
    default:
      throw malformedAnswer(`${what} error`, `unexpected errorName ${errorName}`);
  }
}

/** Reads a GetKeyMetadata answer. */
export function metadataReply(reply: UpstreamReply): KeyMetadataResponse {
  const body = successBody(reply, 'GetKeyMetadata response');
  if (body.keySpec !== 'AES_256') throw malformedAnswer('GetKeyMetadata response', 'keySpec is not AES_256');
  if (body.keyStatus !== 'ENABLED' && body.keyStatus !== 'DISABLED') throw malformedAnswer('GetKeyMetadata response', 'keyStatus is not ENABLED or DISABLED');
  const usages = body.keyUsage;
  if (!Array.isArray(usages) || usages.length > 10 || !usages.every((u) => typeof u === 'string')) {
    throw malformedAnswer('GetKeyMetadata response', 'keyUsage is not a list of at most 10 strings');
  }
  // Other usages (WRAP, SIGN ...) are allowed by the spec but mean nothing to KMS for XKS keys.
  const keyUsage = usages.filter((u): u is KeyUsage => u === 'ENCRYPT' || u === 'DECRYPT');
  return { keySpec: 'AES_256', keyUsage, keyStatus: body.keyStatus };
}

/** Reads an Encrypt answer and checks it fits the request (lengths, CDIV recomputed). */
export function encryptReply(reply: UpstreamReply, req: EncryptRequest): EncryptResponse {
  const what = 'Encrypt response';
  const body = successBody(reply, what);
  const ciphertext = base64Field(body, 'ciphertext', what);
  const iv = base64Field(body, 'initializationVector', what);
  const tag = base64Field(body, 'authenticationTag', what);
  const metadata = body.ciphertextMetadata === undefined ? undefined : base64Field(body, 'ciphertextMetadata', what);
  if (ciphertext.length !== req.plaintext.length) throw malformedAnswer(what, 'ciphertext length differs from plaintext length');
  if (!isSpecIvLength(iv.length)) throw malformedAnswer(what, `initializationVector is ${iv.length} bytes`);
  if (tag.length !== GCM_TAG_BYTES) throw malformedAnswer(what, `authenticationTag is ${tag.length} bytes`);
  if (metadata !== undefined && metadata.length > 20) throw malformedAnswer(what, 'ciphertextMetadata is longer than 20 bytes');
  const response: EncryptResponse = {
    ciphertext: ciphertext.toString('base64'),
    initializationVector: iv.toString('base64'),
    authenticationTag: tag.toString('base64'),
  };
  if (metadata !== undefined) response.ciphertextMetadata = metadata.toString('base64');
  if (req.wantsCdiv) {
    // The upstream did the verification decrypt (spec Appendix C); recomputing the value
    // proves the fields reached us as the upstream hashed them.
    const cdiv = body.ciphertextDataIntegrityValue === undefined ? undefined : base64Field(body, 'ciphertextDataIntegrityValue', what);
    if (cdiv === undefined) throw malformedAnswer(what, 'ciphertextDataIntegrityValue missing although requested');
    const expected = computeCdiv({ aad: req.aad, ciphertextMetadata: metadata, iv, ciphertext, tag });
    if (cdiv.toString('base64') !== expected) throw malformedAnswer(what, 'ciphertextDataIntegrityValue does not match the returned fields');
    response.ciphertextDataIntegrityValue = expected;
  }
  return response;
}

/** Reads a Decrypt answer. */
export function decryptReply(reply: UpstreamReply, req: DecryptRequest): DecryptResponse {
  const what = 'Decrypt response';
  const plaintext = base64Field(successBody(reply, what), 'plaintext', what);
  // AES-GCM plaintext is exactly as long as its ciphertext.
  if (plaintext.length !== req.ciphertext.length) throw malformedAnswer(what, 'plaintext length differs from ciphertext length');
  return { plaintext: plaintext.toString('base64') };
}

/** What an upstream's GetHealthStatus says about its key managers. */
export interface UpstreamHealth {
  ekmVendor: string;
  fleet: EkmHealth[];
}

const HEALTH_STATUSES: ReadonlySet<string> = new Set<EkmHealthStatus>(['ACTIVE', 'DEGRADED', 'UNAVAILABLE']);

/** Reads a GetHealthStatus answer. */
export function healthReply(reply: UpstreamReply): UpstreamHealth {
  const what = 'GetHealthStatus response';
  const body = successBody(reply, what);
  const details = body.ekmFleetDetails;
  if (!Array.isArray(details) || details.length === 0) throw malformedAnswer(what, 'ekmFleetDetails is not a non-empty list');
  const fleet = details.map((entry): EkmHealth => {
    const e = asObject(entry);
    if (
      e === undefined ||
      typeof e.id !== 'string' ||
      typeof e.model !== 'string' ||
      typeof e.healthStatus !== 'string' ||
      !HEALTH_STATUSES.has(e.healthStatus)
    ) {
      throw malformedAnswer(what, 'an ekmFleetDetails entry lacks id, model or a valid healthStatus');
    }
    return { id: e.id, model: e.model, healthStatus: e.healthStatus as EkmHealthStatus };
  });
  return { ekmVendor: typeof body.ekmVendor === 'string' ? body.ekmVendor : '', fleet };
}

/** The body of a 200 answer; any other status is an upstream error to interpret. */
function successBody(reply: UpstreamReply, what: string): Record<string, unknown> {
  if (reply.status !== 200) throw upstreamError(reply, what);
  const body = asObject(reply.json);
  if (body === undefined) throw malformedAnswer(what, 'HTTP 200 with a body that is not a JSON object');
  return body;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function base64Field(body: Record<string, unknown>, field: string, what: string): Buffer {
  const value = body[field];
  if (typeof value !== 'string' || !BASE64.test(value)) throw malformedAnswer(what, `${field} is not Base64`);
  return Buffer.from(value, 'base64');
}

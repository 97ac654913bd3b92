/** The four XKS operations of the reference server, on parsed bodies. */
import { randomBytes } from 'node:crypto';
import type { Breakage } from './breakages.ts';
import { gcmDecrypt, gcmEncrypt, referenceCdiv } from './reference-gcm.ts';

/** An error the reference server answers with (errorName from the spec table). */
export class RefError extends Error {
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }
}

/** One key of the reference server. */
export interface RefKey {
  material: Buffer;
  encrypt: boolean;
  decrypt: boolean;
}

/** The demo's four keys, each with fresh material (one shared material when broken). */
export function makeReferenceKeys(broken: ReadonlySet<Breakage>): Map<string, RefKey> {
  const shared = randomBytes(32);
  const material = () => (broken.has('key-confusion') ? shared : randomBytes(32));
  return new Map([
    ['foo', { material: material(), encrypt: true, decrypt: true }],
    ['encrypt_only_key', { material: material(), encrypt: true, decrypt: false }],
    ['decrypt_only_key', { material: material(), encrypt: false, decrypt: true }],
    ['impotent_key', { material: material(), encrypt: false, decrypt: false }],
  ]);
}

const KNOWN_META = new Set(['awsPrincipalArn', 'awsSourceVpc', 'awsSourceVpce', 'kmsKeyArn', 'kmsOperation', 'kmsRequestId', 'kmsViaService']);
const KNOWN_OPS = new Set([
  'CreateKey',
  'DescribeKey',
  'Encrypt',
  'Decrypt',
  'ReEncrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'KmsHealthCheck',
  'CreateCustomKeyStore',
  'ConnectCustomKeyStore',
  'UpdateCustomKeyStore',
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Checks requestMetadata as far as the spec allows (it is opaque apart from being present). */
export function checkRequestMetadata(body: Record<string, unknown>, isHealth: boolean, broken: ReadonlySet<Breakage>): void {
  const meta = body.requestMetadata as Record<string, unknown> | undefined;
  if (broken.has('lenient-request-metadata') && (meta === undefined || (typeof meta === 'object' && meta !== null && Object.keys(meta).length === 0))) return;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new RefError('ValidationException', 'requestMetadata is required');
  if (typeof meta.kmsRequestId !== 'string' || typeof meta.kmsOperation !== 'string')
    throw new RefError('ValidationException', 'kmsRequestId and kmsOperation are required');
  if (!isHealth && typeof meta.awsPrincipalArn !== 'string') throw new RefError('ValidationException', 'awsPrincipalArn is required');
  if (broken.has('reject-unknown-metadata-fields') && Object.keys(meta).some((k) => !KNOWN_META.has(k)))
    throw new RefError('ValidationException', 'unknown requestMetadata field');
  if (broken.has('reject-unknown-kms-operation') && !KNOWN_OPS.has(meta.kmsOperation)) throw new RefError('ValidationException', 'unknown kmsOperation');
  if (broken.has('uuid-request-id') && !UUID.test(meta.kmsRequestId)) throw new RefError('ValidationException', 'kmsRequestId must be a UUID');
}

function b64Field(body: Record<string, unknown>, name: string, required: boolean): Buffer | undefined {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !BASE64.test(v)) throw new RefError('ValidationException', `${name} must be a Base64 string`);
  return Buffer.from(v, 'base64');
}

function checkAlgorithm(body: Record<string, unknown>): void {
  if (body.encryptionAlgorithm !== 'AES_GCM') throw new RefError('ValidationException', 'encryptionAlgorithm must be AES_GCM');
}

function checkAad(aad: Buffer | undefined, broken: ReadonlySet<Breakage>): void {
  if (aad && aad.length > 8192) {
    if (broken.has('crash-on-big-aad')) throw new TypeError('aad buffer overflow');
    throw new RefError('ValidationException', 'additionalAuthenticatedData is longer than 8192 bytes');
  }
}

/** GetKeyMetadata. */
export function keyMetadata(key: RefKey, broken: ReadonlySet<Breakage>): object {
  const [enc, dec] = broken.has('key-usage-misspelled') ? ['Encrypt', 'Decrypt'] : ['ENCRYPT', 'DECRYPT'];
  const usage = [...(key.encrypt ? [enc] : []), ...(key.decrypt ? [dec] : [])];
  return {
    keySpec: broken.has('key-spec-rsa') ? 'RSA_0' : 'AES_256',
    keyUsage: usage,
    keyStatus: broken.has('key-status-title-case') ? 'Enabled' : 'ENABLED',
  };
}

/** Encrypt. */
export function encrypt(key: RefKey, body: Record<string, unknown>, broken: ReadonlySet<Breakage>): object {
  const plaintext = b64Field(body, 'plaintext', true)!;
  checkAlgorithm(body);
  const aad = b64Field(body, 'additionalAuthenticatedData', false);
  checkAad(aad, broken);
  const cdivAlg = body.ciphertextDataIntegrityValueAlgorithm;
  if (cdivAlg !== undefined && cdivAlg !== 'SHA_256') throw new RefError('ValidationException', 'ciphertextDataIntegrityValueAlgorithm must be SHA_256');
  const limit = broken.has('plaintext-limit-4096') ? 4096 : 4300;
  if (plaintext.length > limit) throw new RefError('UnsupportedOperationException', `plaintext above ${limit} bytes is not supported`);
  if (!key.encrypt && !broken.has('ignore-key-usage')) throw new RefError('InvalidKeyUsageException', 'key does not allow ENCRYPT');
  // A CDIV vouches that the output decrypts, which only a key allowed to DECRYPT can check
  // (spec Appendix C; the AWS test client expects this refusal for an encrypt-only key).
  if (cdivAlg !== undefined && !key.decrypt && !broken.has('cdiv-without-decrypt-usage') && !broken.has('ignore-key-usage')) {
    throw new RefError('InvalidKeyUsageException', 'a CDIV needs a verification decrypt, and the key does not allow DECRYPT');
  }
  const r = gcmEncrypt(key.material, plaintext, aad, broken);
  const out: Record<string, string> = {
    ciphertext: r.ciphertext.toString('base64'),
    ciphertextMetadata: r.metadata.toString('base64'),
    initializationVector: r.iv.toString('base64'),
    authenticationTag: r.tag.toString('base64'),
  };
  if (cdivAlg !== undefined) out.ciphertextDataIntegrityValue = referenceCdiv(aad, r, broken).toString('base64');
  return out;
}

/** Decrypt. */
export function decrypt(key: RefKey, body: Record<string, unknown>, broken: ReadonlySet<Breakage>): object {
  checkAlgorithm(body);
  const ciphertext = b64Field(body, 'ciphertext', true)!;
  const iv = b64Field(body, 'initializationVector', true)!;
  const tag = b64Field(body, 'authenticationTag', true)!;
  const aad = b64Field(body, 'additionalAuthenticatedData', false);
  const metadata = b64Field(body, 'ciphertextMetadata', false);
  checkAad(aad, broken);
  if (iv.length !== 12 && iv.length !== 16) throw new RefError('ValidationException', 'initializationVector must be 12 or 16 bytes');
  if (tag.length !== 16) throw new RefError('ValidationException', 'authenticationTag must be 16 bytes');
  if (metadata && metadata.length > 20) throw new RefError('ValidationException', 'ciphertextMetadata must be at most 20 bytes');
  if (ciphertext.length > 4300) throw new RefError('UnsupportedOperationException', 'ciphertext above 4300 bytes is not supported');
  if (!key.decrypt && !broken.has('ignore-key-usage')) throw new RefError('InvalidKeyUsageException', 'key does not allow DECRYPT');
  try {
    return { plaintext: gcmDecrypt(key.material, { ciphertext, iv, tag, aad, metadata }, broken).toString('base64') };
  } catch (e) {
    const message = broken.has('stack-trace-in-body') ? String((e as Error).stack) : 'ciphertext, IV, tag, AAD or ciphertextMetadata is not authentic';
    throw new RefError('InvalidCiphertextException', message);
  }
}

/** GetHealthStatus. */
export function health(broken: ReadonlySet<Breakage>): object {
  return {
    xksProxyFleetSize: 1,
    xksProxyVendor: 'conformance tests',
    xksProxyModel: 'reference XKS server 1.0',
    ekmVendor: 'node:crypto',
    ...(broken.has('health-empty-fleet') ? { xksProxyFleetSize: 0 } : {}),
    ekmFleetDetails: broken.has('health-empty-fleet')
      ? []
      : [
          {
            id: 'ekm-1',
            ...(broken.has('health-entry-no-model') ? {} : { model: 'in-memory AES-256-GCM' }),
            healthStatus: broken.has('health-bad-status') ? 'OK' : 'ACTIVE',
          },
        ],
  };
}

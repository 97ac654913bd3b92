/**
 * Test client for the XKS API: bodies shaped like KMS's, signed with aws4 (an independent
 * SigV4 implementation, not our own signer).
 */
import { request as httpRequest } from 'node:http';
import { createHash } from 'node:crypto';
import aws4 from 'aws4';

/** The demo's public test-client credentials. */
export const DEMO_CREDENTIAL = {
  accessKeyId: 'BETWEEN2TENAND3TENCHARACTERS',
  secretAccessKey: 'PleaseReplaceThisWithSomeSecretOfLength43To64',
};
export const DEMO_PREFIX = 'example/uri/path/prefix';

/** How to sign one request. */
export interface SignOptions {
  host?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  region?: string;
  service?: string;
  /** Signing time; default now. */
  date?: Date;
  method?: string;
}

/** Headers (including Authorization) for a signed XKS call. */
export function signXks(path: string, body: string, opts: SignOptions = {}): Record<string, string> {
  const date = opts.date ?? new Date();
  const request = {
    host: opts.host ?? 'localhost',
    method: opts.method ?? 'POST',
    path,
    service: opts.service ?? 'kms-xks-proxy',
    region: opts.region ?? 'us-east-1',
    body,
    headers: {
      'Content-Type': 'application/json',
      'X-Amz-Date': date.toISOString().replace(/[:-]|\.\d{3}/g, ''),
    } as Record<string, string>,
  };
  aws4.sign(request, {
    accessKeyId: opts.accessKeyId ?? DEMO_CREDENTIAL.accessKeyId,
    secretAccessKey: opts.secretAccessKey ?? DEMO_CREDENTIAL.secretAccessKey,
  });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) headers[k.toLowerCase()] = String(v);
  return headers;
}

/** requestMetadata as KMS sends it. */
export function requestMetadata(kmsOperation: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    awsPrincipalArn: 'arn:aws:iam::123456789012:user/Alice',
    kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    kmsOperation,
    kmsRequestId: '4112f4d6-db54-4af4-ae30-c55a22a8dfae',
    ...extra,
  };
}

/** XKS URI path for a prefix and operation. */
export function xksPath(prefix: string, op: 'health' | 'metadata' | 'encrypt' | 'decrypt', keyId = 'foo'): string {
  const root = prefix === '' ? '/kms/xks/v1' : `/${prefix}/kms/xks/v1`;
  return op === 'health' ? `${root}/health` : `${root}/keys/${keyId}/${op}`;
}

/** Base64 of a string or bytes. */
export function b64(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64');
}

/** The parsed JSON of an Encrypt response (base64 fields, as the proxy returned them). */
export type EncryptResponseJson = Record<string, any>;

/** An Encrypt request body for `plaintext`; `extra` adds or overrides top-level fields. */
export function encryptRequestBody(plaintext: string | Uint8Array, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { requestMetadata: requestMetadata('Encrypt'), plaintext: b64(plaintext), encryptionAlgorithm: 'AES_GCM', ...extra };
}

/** A Decrypt request body for what an Encrypt response returned; `extra` adds or overrides top-level fields. */
export function decryptRequestBody(enc: EncryptResponseJson, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    requestMetadata: requestMetadata('Decrypt'),
    ciphertext: enc.ciphertext,
    ciphertextMetadata: enc.ciphertextMetadata,
    initializationVector: enc.initializationVector,
    authenticationTag: enc.authenticationTag,
    encryptionAlgorithm: 'AES_GCM',
    ...extra,
  };
}

/**
 * The CDIV a client expects for an Encrypt response, computed here independently of src/:
 * SHA-256 over the AAD, ciphertextMetadata, IV, ciphertext and tag, in that order (spec, Encrypt).
 */
export function expectedCdiv(aad: string | Uint8Array, enc: EncryptResponseJson): string {
  return createHash('sha256')
    .update(aad)
    .update(Buffer.from(enc.ciphertextMetadata, 'base64'))
    .update(Buffer.from(enc.initializationVector, 'base64'))
    .update(Buffer.from(enc.ciphertext, 'base64'))
    .update(Buffer.from(enc.authenticationTag, 'base64'))
    .digest('base64');
}

/**
 * One signed GetHealthStatus on a new TCP connection (no keep-alive), resolving with the
 * status: a `serve --workers N` cluster hands connections to its workers in turn.
 */
export function healthOnNewConnection(baseUrl: string, prefix = DEMO_PREFIX): Promise<number> {
  const path = xksPath(prefix, 'health');
  const text = JSON.stringify({ requestMetadata: requestMetadata('KmsHealthCheck') });
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path, headers: signXks(path, text), agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(text);
  });
}

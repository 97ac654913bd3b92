/**
 * The XKS requests the load generators send: an Encrypt with a CDIV (as KMS asks for one)
 * and a Decrypt of a real ciphertext, signed with our SigV4 signer. Signing happens once
 * per batch, not per request, so the client's cost stays small; a signature is valid for
 * the spec's five-minute window, and the proxy does not reject a repeated request.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { signRequest } from '../src/auth/sigv4-sign.ts';

/** Where and as whom to send XKS calls. */
export interface XksTarget {
  url: string;
  prefix: string;
  region: string;
  accessKeyId: string;
  secret: string;
  keyId: string;
}

/** One ready-to-send request. */
export interface PreparedRequest {
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Sizes of the payload, the same for the proxy targets and the in-process ceilings. */
export interface PayloadSizes {
  plaintextBytes: number;
  aadBytes: number;
}

/** A plaintext about the size of what KMS sends for a data key, and a typical AAD. */
export const DEFAULT_PAYLOAD: PayloadSizes = { plaintextBytes: 256, aadBytes: 64 };

/** How long a signed batch is reused; well inside the five-minute SigV4 window. */
export const RESIGN_INTERVAL_MS = 60_000;

function xksRoot(prefix: string): string {
  return prefix === '' ? '/kms/xks/v1' : `/${prefix}/kms/xks/v1`;
}

function sign(target: XksTarget, path: string, body: string, now: Date): PreparedRequest {
  const url = new URL(path, target.url);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const signed = signRequest({
    method: 'POST',
    url,
    headers,
    body,
    region: target.region,
    service: 'kms-xks-proxy',
    accessKeyId: target.accessKeyId,
    secret: target.secret,
    now,
  });
  return { method: 'POST', path, headers: { ...headers, host: url.host, ...signed }, body };
}

/** Sends one prepared request and returns the status and body text. */
export type SendOnce = (url: URL, req: PreparedRequest) => Promise<{ status: number; text: string }>;

/** SendOnce over HTTP with undici. */
export const sendOverHttp: SendOnce = async (url, req) => {
  const res = await request(url, { method: req.method, headers: req.headers, body: req.body });
  return { status: res.statusCode, text: await res.body.text() };
};

/** Builds signed encrypt and decrypt requests; `refresh` re-signs them with the current time. */
export class XksWorkload {
  readonly #target: XksTarget;
  readonly #encryptBody: string;
  #decryptBody: string | undefined;
  #signed: PreparedRequest[] = [];
  #signedAt = 0;

  constructor(target: XksTarget, sizes: PayloadSizes = DEFAULT_PAYLOAD) {
    this.#target = target;
    this.#encryptBody = JSON.stringify({
      requestMetadata: metadata('Encrypt'),
      plaintext: randomBytes(sizes.plaintextBytes).toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
      additionalAuthenticatedData: randomBytes(sizes.aadBytes).toString('base64'),
      ciphertextDataIntegrityValueAlgorithm: 'SHA_256',
    });
  }

  /** Encrypts once through the server so the decrypt request carries a real ciphertext. */
  async prepare(send: SendOnce = sendOverHttp): Promise<void> {
    const enc = sign(this.#target, `${xksRoot(this.#target.prefix)}/keys/${this.#target.keyId}/encrypt`, this.#encryptBody, new Date());
    const { status, text } = await send(new URL(enc.path, this.#target.url), enc);
    if (status !== 200) throw new Error(`warm-up encrypt failed with ${status}: ${text}`);
    const out = JSON.parse(text) as Record<string, string>;
    const aad = (JSON.parse(this.#encryptBody) as Record<string, string>).additionalAuthenticatedData;
    this.#decryptBody = JSON.stringify({
      requestMetadata: metadata('Decrypt'),
      ciphertext: out.ciphertext,
      ciphertextMetadata: out.ciphertextMetadata,
      initializationVector: out.initializationVector,
      authenticationTag: out.authenticationTag,
      encryptionAlgorithm: 'AES_GCM',
      additionalAuthenticatedData: aad,
    });
    this.refresh(true);
  }

  /** The encrypt and decrypt requests, re-signed when the batch is older than a minute. */
  requests(): PreparedRequest[] {
    this.refresh(false);
    return this.#signed;
  }

  /** Re-signs the batch when it is stale (or when forced). */
  refresh(force: boolean): void {
    if (!force && Date.now() - this.#signedAt < RESIGN_INTERVAL_MS) return;
    if (this.#decryptBody === undefined) throw new Error('call prepare() first');
    const now = new Date();
    const root = `${xksRoot(this.#target.prefix)}/keys/${this.#target.keyId}`;
    this.#signed = [sign(this.#target, `${root}/encrypt`, this.#encryptBody, now), sign(this.#target, `${root}/decrypt`, this.#decryptBody, now)];
    this.#signedAt = Date.now();
  }
}

/** The trivial JSON POST the bare baseline server answers. */
export function baselineRequests(url: string): PreparedRequest[] {
  const body = JSON.stringify({ requestMetadata: metadata('Encrypt'), plaintext: randomBytes(DEFAULT_PAYLOAD.plaintextBytes).toString('base64') });
  return [{ method: 'POST', path: '/echo', headers: { 'content-type': 'application/json', host: new URL(url).host }, body }];
}

function metadata(kmsOperation: string): Record<string, string> {
  return {
    awsPrincipalArn: 'arn:aws:iam::123456789012:user/bench',
    kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    kmsOperation,
    kmsRequestId: '4112f4d6-db54-4af4-ae30-c55a22a8dfae',
  };
}

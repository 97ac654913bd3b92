import type { Logger } from 'pino';
import { NO_PROVIDER_STATS, type CallContext, type EkmHealth, type KeyInfo, type KeyProvider, type KeyUsage, type ProviderStats } from './key-provider-port.ts';
import { computeCdiv } from './cdiv.ts';
import { decodeCiphertextMetadata, encodeCiphertextMetadata } from './ciphertext-metadata.ts';
import { isXksError, XksError } from './errors.ts';
import { buildGcmAad, type AadConstruction } from './gcm-aad.ts';
import { GCM_TAG_BYTES, isSpecIvLength } from './gcm-sizes.ts';
import { HealthCache } from './health-cache.ts';
import { healthResponse } from './health-response.ts';
import type { DecryptResponse, EncryptResponse, HealthResponse, KeyMetadataResponse, KeyStore } from './key-store.ts';
import type { DecryptRequest, EncryptRequest, HealthRequest, KeyMetadataRequest } from './requests.ts';

/** Settings of a LocalKeyStore beyond its provider. */
export interface LocalKeyStoreOptions {
  prefix: string;
  /** AAD construction for ciphertexts without our metadata (see ciphertext-metadata.ts). */
  foreignCiphertextAad: AadConstruction;
  healthCacheMs: number;
  /** xksProxyFleetSize: fixed, or asked on every GetHealthStatus (a counted fleet). */
  fleetSize: number | (() => number);
  proxyModel: string;
  ekmVendor: string;
  /** Receives a line whenever a fresh deep health check finds a key manager not ACTIVE. */
  logger?: Logger;
}

/**
 * A key store whose keys live in a KeyProvider. The spec's rules are applied here, once,
 * for every provider: usage and status checks, AAD construction, ciphertextMetadata,
 * CDIV with a verification decrypt, and cached deep health.
 */
export class LocalKeyStore implements KeyStore {
  readonly prefix: string;
  readonly #health$: HealthCache;
  readonly #provider: KeyProvider;
  readonly #options: LocalKeyStoreOptions;
  /**
   * The ciphertextMetadata of new ciphertexts, by key version, as bytes and as Base64: the
   * same few values for every Encrypt, so built once each rather than per request. Versions
   * come from the provider, never from a request, so this stays as small as the keys' history.
   */
  readonly #metadataByVersion = new Map<number, { bytes: Buffer; base64: string }>();

  constructor(provider: KeyProvider, options: LocalKeyStoreOptions) {
    this.#provider = provider;
    this.#options = options;
    this.prefix = options.prefix;
    this.#health$ = new HealthCache((ctx) => this.#checkHealth(ctx), { freshMs: options.healthCacheMs, fleet: () => provider.fleetIdentity?.() ?? [] });
    provider.onHealthChange?.(() => this.#health$.invalidate());
  }

  async health(_req: HealthRequest, ctx: CallContext): Promise<HealthResponse> {
    const fleet = await this.#health$.get(ctx);
    const { fleetSize, proxyModel, ekmVendor } = this.#options;
    return healthResponse(fleet, { fleetSize: typeof fleetSize === 'number' ? fleetSize : fleetSize(), proxyModel, ekmVendor });
  }

  readiness(ctx: CallContext) {
    return this.#health$.get(ctx);
  }

  async getKeyMetadata(keyId: string, _req: KeyMetadataRequest, ctx: CallContext): Promise<KeyMetadataResponse> {
    let info: KeyInfo;
    try {
      info = await this.#provider.describe(keyId, ctx);
    } catch (e) {
      throw this.#seen(e);
    }
    this.#health$.recordLiveSuccess();
    return { keySpec: 'AES_256', keyUsage: [...info.usages], keyStatus: info.enabled ? 'ENABLED' : 'DISABLED' };
  }

  // Encrypt and Decrypt are one async function each (the key check inline, no helper
  // awaited in between): every async layer is a promise and a suspended frame per request.
  // Each provider call is tried at once first (`describeNow` and the like: a key in this
  // process's memory), and awaited only when the provider cannot answer at once.
  async encrypt(keyId: string, req: EncryptRequest, ctx: CallContext): Promise<EncryptResponse> {
    const provider = this.#provider;
    try {
      const info = checkUsable(keyId, 'ENCRYPT', provider.describeNow?.(keyId, ctx) ?? (await provider.describe(keyId, ctx)));
      if (req.wantsCdiv && !info.usages.includes('DECRYPT')) {
        // A CDIV promises KMS that the ciphertext will decrypt (spec Appendix C), which needs
        // a verification decrypt the key does not allow; the AWS test client expects this error.
        throw new XksError(
          'InvalidKeyUsageException',
          `Key ${keyId} cannot return a ciphertextDataIntegrityValue: that needs a verification decrypt and the key does not allow DECRYPT.`,
        );
      }
      const key = { keyId, version: info.currentVersion };
      const { bytes: metadata, base64: metadataBase64 } = this.#metadataFor(info.currentVersion);
      const gcmAad = buildGcmAad(req.aad, metadata, 'spec');
      const out = provider.encryptNow?.(key, req.plaintext, gcmAad, ctx) ?? (await provider.encrypt(key, req.plaintext, gcmAad, ctx));
      if (out.tag.length !== GCM_TAG_BYTES || !isSpecIvLength(out.iv.length) || out.ciphertext.length !== req.plaintext.length) {
        throw new XksError('InternalException', 'The key manager returned a malformed AES-GCM result.');
      }
      const response: EncryptResponse = {
        ciphertext: toBase64(out.ciphertext),
        ciphertextMetadata: metadataBase64,
        initializationVector: toBase64(out.iv),
        authenticationTag: toBase64(out.tag),
      };
      if (req.wantsCdiv) {
        // Spec Appendix C: compute the CDIV from the encrypt output first, then prove that
        // output decrypts to the same plaintext before returning it.
        response.ciphertextDataIntegrityValue = computeCdiv({
          aad: req.aad,
          ciphertextMetadata: metadata,
          iv: out.iv,
          ciphertext: out.ciphertext,
          tag: out.tag,
        });
        let decrypted: Uint8Array;
        try {
          decrypted = provider.decryptNow?.(key, out, gcmAad, ctx) ?? (await provider.decrypt(key, out, gcmAad, ctx));
        } catch (e) {
          throw verificationFailure(e);
        }
        // Compared in place (Buffer.compare takes any Uint8Array): no copy of the plaintext.
        if (Buffer.compare(decrypted, req.plaintext) !== 0) {
          throw new XksError('InternalException', 'The key manager produced a ciphertext that does not decrypt to the plaintext.');
        }
      }
      this.#health$.recordLiveSuccess();
      return response;
    } catch (e) {
      throw this.#seen(e);
    }
  }

  async decrypt(keyId: string, req: DecryptRequest, ctx: CallContext): Promise<DecryptResponse> {
    const provider = this.#provider;
    try {
      const info = checkUsable(keyId, 'DECRYPT', provider.describeNow?.(keyId, ctx) ?? (await provider.describe(keyId, ctx)));
      const origin = decodeCiphertextMetadata(req.ciphertextMetadata);
      const version = origin?.keyVersion ?? info.currentVersion;
      const construction = origin?.construction ?? this.#options.foreignCiphertextAad;
      const gcmAad = buildGcmAad(req.aad, req.ciphertextMetadata, construction);
      // A version the key does not have is the provider's InvalidCiphertextException
      // (keyVersionNotFound in the port): every provider says it the same way.
      const ref = { keyId, version };
      const plaintext = provider.decryptNow?.(ref, req, gcmAad, ctx) ?? (await provider.decrypt(ref, req, gcmAad, ctx));
      this.#health$.recordLiveSuccess();
      return { plaintext: toBase64(plaintext) };
    } catch (e) {
      throw this.#seen(e);
    }
  }

  close(): Promise<void> {
    return this.#provider.close();
  }

  #metadataFor(version: number): { bytes: Buffer; base64: string } {
    let metadata = this.#metadataByVersion.get(version);
    if (metadata === undefined) {
      const bytes = encodeCiphertextMetadata(version);
      metadata = { bytes, base64: bytes.toString('base64') };
      this.#metadataByVersion.set(version, metadata);
    }
    return metadata;
  }

  /**
   * Health learns from live traffic at once (the deep check is cached for
   * health.cacheSeconds): a key manager failure marks it not ACTIVE, a success clears
   * that. Client errors (unknown key, bad ciphertext, disabled key) say nothing about it.
   */
  #seen(e: unknown): unknown {
    // Only errors the provider marks as its key manager failing: a request that arrived with
    // no time left says the proxy is overloaded, not that the key manager is down.
    if (isXksError(e) && e.dependencyFailure) {
      this.#health$.recordLiveFailure(`${e.errorName}: ${e.logDetail ?? e.message}`);
    }
    return e;
  }

  stats(): ProviderStats {
    return this.#provider.stats?.() ?? NO_PROVIDER_STATS;
  }

  /** Runs the provider's deep check and logs why any key manager is not ACTIVE. */
  async #checkHealth(ctx: CallContext): Promise<EkmHealth[]> {
    const fleet = await this.#provider.health(ctx);
    for (const ekm of fleet) {
      if (ekm.healthStatus !== 'ACTIVE') {
        this.#options.logger?.warn({ ekmId: ekm.id, healthStatus: ekm.healthStatus, detail: ekm.detail }, 'key manager health check');
      }
    }
    return fleet;
  }
}

/**
 * Why the verification decrypt of an Encrypt with CDIV failed, as the Encrypt's error. Its
 * own output failing to decrypt is the key manager's fault, not the caller's:
 * InvalidCiphertextException is a Decrypt error (spec error table) and must not reach an
 * Encrypt caller. Inline in `encrypt`, not an async helper: one promise less per request.
 */
function verificationFailure(e: unknown): unknown {
  if (!isXksError(e) || e.errorName !== 'InvalidCiphertextException') return e;
  return new XksError('InternalException', 'The key manager produced a ciphertext that does not decrypt.', { logDetail: e.message, cause: e });
}

/** Checks the key is enabled and allows `usage` (spec error names). */
function checkUsable(keyId: string, usage: KeyUsage, info: KeyInfo): KeyInfo {
  if (!info.enabled) {
    throw new XksError('InvalidStateException', `Key ${keyId} is disabled in the external key manager; enable it there and retry.`);
  }
  if (!info.usages.includes(usage)) {
    throw new XksError(
      'InvalidKeyUsageException',
      `Key ${keyId} does not allow ${usage} (its usages are [${info.usages.join(', ')}]); allow it in the key manager or use another key.`,
    );
  }
  return info;
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

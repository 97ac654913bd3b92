import type { Logger } from 'pino';
import { XksError } from '../../xks/errors.ts';
import { HealthCache } from '../../xks/health-cache.ts';
import { healthResponse } from '../../xks/health-response.ts';
import type { DecryptResponse, EncryptResponse, HealthResponse, KeyMetadataResponse, KeyStore } from '../../xks/key-store.ts';
import type { DecryptRequest, EncryptRequest, HealthRequest, KeyMetadataRequest, RequestMetadata } from '../../xks/requests.ts';
import type { CallContext, EkmHealth } from '../../xks/key-provider-port.ts';
import type { UpstreamReply } from './upstream-client.ts';
import type { UpstreamFleet } from './upstream-fleet.ts';
import { checkFleetHealth } from './upstream-health.ts';
import { decryptReply, encryptReply, metadataReply } from './upstream-replies.ts';

/** Settings of an UpstreamKeyStore beyond its endpoints. */
export interface UpstreamKeyStoreOptions {
  /** Our URI prefix (the tenant), for logs. */
  prefix: string;
  /** The upstream's URI prefix ("" for none). */
  uriPrefix: string;
  /** Our externalKeyId -> the upstream's key id (a Map: key ids come from requests). */
  keyIdMap: ReadonlyMap<string, string>;
  unmappedKeyIds: 'forward' | 'reject';
  healthCacheMs: number;
  /** Budget of one round of upstream health checks, independent of the request that started it. */
  healthCheckTimeoutMs: number;
  fleetSize: number;
  proxyModel: string;
  /** ekmVendor to report; default: the first answering upstream's. */
  ekmVendor?: string;
  logger: Logger;
}

/** ekmVendor when no upstream answered and none is configured. */
const DEFAULT_EKM_VENDOR = 'Upstream XKS proxy';

/**
 * A key store that forwards the four XKS operations to another XKS proxy. The upstream
 * applies the spec's key rules (usage, state, AAD, ciphertextMetadata, CDIV); this store
 * maps key ids, re-signs, fails over between endpoints, checks the shape of every answer
 * and passes the upstream's request errors through under their spec names.
 */
export class UpstreamKeyStore implements KeyStore {
  readonly prefix: string;
  readonly #health$: HealthCache;
  readonly #apiRoot: string;
  #lastEkmVendor: string | undefined;
  /** requestMetadata of the health request that starts the next check (forwarded for correlation). */
  #healthMetadata: RequestMetadata | undefined;
  #closed = false;
  readonly #fleet: UpstreamFleet;
  readonly #options: UpstreamKeyStoreOptions;

  constructor(fleet: UpstreamFleet, options: UpstreamKeyStoreOptions) {
    this.#fleet = fleet;
    this.#options = options;
    this.prefix = options.prefix;
    this.#apiRoot = options.uriPrefix === '' ? '/kms/xks/v1' : `/${options.uriPrefix}/kms/xks/v1`;
    // The check budget stays under KMS's 250 ms so that the first GetHealthStatus after a
    // start already gets one entry per upstream, even when one of them hangs.
    this.#health$ = new HealthCache((ctx) => this.#checkHealth(ctx), { freshMs: options.healthCacheMs, checkBudgetMs: options.healthCheckTimeoutMs });
  }

  async health(req: HealthRequest, ctx: CallContext): Promise<HealthResponse> {
    this.#ensureOpen();
    // HealthCache starts any check synchronously inside get(), so it sees this request's metadata.
    this.#healthMetadata = req.requestMetadata;
    const pending = this.#health$.get(ctx);
    this.#healthMetadata = undefined;
    const fleet = await pending;
    return healthResponse(fleet, {
      fleetSize: this.#options.fleetSize,
      proxyModel: this.#options.proxyModel,
      ekmVendor: this.#options.ekmVendor ?? this.#lastEkmVendor ?? DEFAULT_EKM_VENDOR,
    });
  }

  readiness(ctx: CallContext): Promise<EkmHealth[]> {
    return this.#health$.get(ctx);
  }

  async getKeyMetadata(keyId: string, req: KeyMetadataRequest, ctx: CallContext): Promise<KeyMetadataResponse> {
    const path = this.#keyPath(keyId, 'metadata');
    return this.#forward('metadata', ctx, path, { requestMetadata: req.requestMetadata }, metadataReply);
  }

  async encrypt(keyId: string, req: EncryptRequest, ctx: CallContext): Promise<EncryptResponse> {
    const path = this.#keyPath(keyId, 'encrypt');
    const body: Record<string, unknown> = {
      requestMetadata: req.requestMetadata,
      plaintext: req.plaintext.toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
    };
    // Absent and empty AAD differ for some AAD constructions: forward exactly what came.
    if (req.aad !== undefined) body.additionalAuthenticatedData = req.aad.toString('base64');
    if (req.wantsCdiv) body.ciphertextDataIntegrityValueAlgorithm = 'SHA_256';
    return this.#forward('encrypt', ctx, path, body, (reply) => encryptReply(reply, req));
  }

  async decrypt(keyId: string, req: DecryptRequest, ctx: CallContext): Promise<DecryptResponse> {
    const path = this.#keyPath(keyId, 'decrypt');
    const body: Record<string, unknown> = {
      requestMetadata: req.requestMetadata,
      ciphertext: req.ciphertext.toString('base64'),
      encryptionAlgorithm: 'AES_GCM',
      initializationVector: req.iv.toString('base64'),
      authenticationTag: req.tag.toString('base64'),
    };
    if (req.aad !== undefined) body.additionalAuthenticatedData = req.aad.toString('base64');
    if (req.ciphertextMetadata !== undefined) body.ciphertextMetadata = req.ciphertextMetadata.toString('base64');
    return this.#forward('decrypt', ctx, path, body, (reply) => decryptReply(reply, req));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fleet.close();
  }

  /** Sends one operation through the fleet and reads the answer with `read`. */
  #forward<T>(operation: string, ctx: CallContext, path: string, body: unknown, read: (reply: UpstreamReply) => T): Promise<T> {
    this.#ensureOpen();
    return this.#fleet.call(operation, ctx, async (endpoint, actx) => read(await endpoint.client.post(path, body, actx)));
  }

  /** The upstream URI path of a key operation, after the key id map. */
  #keyPath(keyId: string, operation: 'metadata' | 'encrypt' | 'decrypt'): string {
    const mapped = this.#options.keyIdMap.get(keyId);
    if (mapped === undefined && this.#options.unmappedKeyIds === 'reject') {
      throw new XksError('KeyNotFoundException', `Key ${keyId} is not mapped to an upstream key on this proxy.`);
    }
    // Key ids are [A-Za-z0-9._-] on both sides (spec and config schema): nothing to encode.
    return `${this.#apiRoot}/keys/${mapped ?? keyId}/${operation}`;
  }

  async #checkHealth(ctx: CallContext): Promise<EkmHealth[]> {
    const requestMetadata = this.#healthMetadata ?? { kmsRequestId: `xks-proxy-readiness-${Date.now()}`, kmsOperation: 'KmsHealthCheck' };
    const result = await checkFleetHealth(this.#fleet, `${this.#apiRoot}/health`, requestMetadata, ctx);
    if (result.ekmVendor !== undefined) this.#lastEkmVendor = result.ekmVendor;
    for (const ekm of result.fleet) {
      if (ekm.healthStatus !== 'ACTIVE') {
        this.#options.logger.warn({ ekmId: ekm.id, healthStatus: ekm.healthStatus, detail: ekm.detail }, 'upstream health check');
      }
    }
    return result.fleet;
  }

  #ensureOpen(): void {
    if (this.#closed) throw new XksError('InternalException', 'The upstream key store is shut down.');
  }
}

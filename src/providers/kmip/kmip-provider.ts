/**
 * The KMIP KeyProvider: AES-256-GCM on one KMIP 1.4 server or a cluster of them. Keys are
 * found by their KMIP Name (keyNamePrefix + externalKeyId); the server does the crypto with
 * our IV and AAD, so key material never leaves it.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { isXksError, XksError } from '../../xks/errors.ts';
import { GCM_IV_BYTES, GCM_TAG_BYTES } from '../../xks/gcm-sizes.ts';
import {
  keyVersionNotFound,
  type CallContext,
  type EkmHealth,
  type EkmIdentity,
  type GcmInput,
  type GcmOutput,
  type KeyInfo,
  type KeyProvider,
  type KeyRef,
  type KeyUsage,
} from '../../xks/key-provider-port.ts';
import type { ProviderDeps } from '../provider-deps.ts';
import { isServerFailure, KmipCluster, KmipUnavailableError, type KmipServer } from './kmip-cluster.ts';
import type { KmipProviderConfig } from './kmip-config.ts';
import { Operation, ResultReason } from './kmip-constants.ts';
import { KMIP2_REASON, xksErrorForResult, xksErrorForUnavailable } from './kmip-error-map.ts';
import { keyInfoFromAttributes } from './kmip-key-info.ts';
import { KmipKeyCache } from './kmip-key-cache.ts';
import { KMIP_1_4, KmipResultError } from './kmip-message.ts';
import {
  decryptRequest,
  encryptRequest,
  getAttributesRequest,
  KEY_ATTRIBUTE_NAMES,
  locateRequest,
  parseDecrypt,
  parseEncrypt,
  parseGetAttributes,
  parseLocate,
  parseQuery,
  queryRequest,
  type KmipKeyAttributes,
} from './kmip-operations.ts';
import { loadKmipTlsMaterial } from './kmip-tls-material.ts';

/** Reasons after which the provider re-reads the key to give the precise spec error. */
const REFINE_REASONS: ReadonlySet<number> = new Set<number>([
  ResultReason.ItemNotFound,
  ResultReason.PermissionDenied,
  ResultReason.IllegalOperation,
  KMIP2_REASON.ObjectNotFound,
  KMIP2_REASON.WrongKeyLifecycleState,
  KMIP2_REASON.IncompatibleCryptographicUsageMask,
]);

const NOT_FOUND_REASONS: ReadonlySet<number> = new Set<number>([ResultReason.ItemNotFound, KMIP2_REASON.ObjectNotFound]);

/** Server endpoints of a config, with their default ids. */
export function kmipEndpoints(config: KmipProviderConfig): { id: string; host: string; port: number; serverName?: string | undefined }[] {
  return config.servers.map((s) => ({ id: s.id ?? `${s.host}:${s.port}`, host: s.host, port: s.port, serverName: s.serverName }));
}

/** Builds the KMIP cluster client of a config (used by the provider and the `kmip` CLI). */
export async function openKmipCluster(config: KmipProviderConfig, deps: ProviderDeps): Promise<KmipCluster> {
  const material = await loadKmipTlsMaterial(config.tls, deps.configDir, deps.env);
  return new KmipCluster(
    kmipEndpoints(config),
    material,
    {
      pool: {
        maxConnections: config.pool.maxConnectionsPerServer,
        idleTimeoutMs: config.pool.idleTimeoutMs,
        maxResponseBytes: config.maxResponseBytes,
      },
      protocolVersion: KMIP_1_4,
      attemptTimeoutMs: config.attemptTimeoutMs,
      downBackoffMs: config.downBackoffMs,
    },
    deps.logger,
  );
}

/**
 * Builds the KMIP provider from config. No I/O here: `init` loads the TLS material (the
 * guard retries it) and connections open on first use.
 */
export function createKmipProvider(config: KmipProviderConfig, deps: ProviderDeps): KmipKeyProvider {
  return new KmipKeyProvider(config, deps);
}

/** KeyProvider over KMIP. */
export class KmipKeyProvider implements KeyProvider {
  readonly kind = 'kmip';
  readonly #config: KmipProviderConfig;
  readonly #deps: ProviderDeps;
  #cluster: KmipCluster | undefined;
  readonly #cache: KmipKeyCache;
  readonly #logger: Logger;
  /** Vendor identification per server id from the last Query that answered (health model). */
  readonly #models = new Map<string, string>();

  constructor(config: KmipProviderConfig, deps: ProviderDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#cache = new KmipKeyCache(config.attributeCacheMs);
    this.#logger = deps.logger; // build-tenants binds prefix and provider
  }

  /** The configured servers by id (health), whether or not the TLS material loaded or a server answered. */
  fleetIdentity(): EkmIdentity[] {
    return kmipEndpoints(this.#config).map((e) => ({ id: e.id, model: this.#models.get(e.id) ?? 'KMIP server' }));
  }

  /** Loads the TLS material; connections open on first use, so a server that is down does not block start-up. */
  async init(): Promise<void> {
    if (this.#cluster === undefined) this.#cluster = await openKmipCluster(this.#config, { ...this.#deps, logger: this.#logger });
  }

  async describe(keyId: string, ctx: CallContext): Promise<KeyInfo> {
    const name = this.#nameOf(keyId);
    return this.#run(ctx, name, async (server, limit) => keyInfoFromAttributes(keyId, (await this.#attributesOn(server, name, limit)).attributes));
  }

  async encrypt(key: KeyRef, plaintext: Uint8Array, aad: Uint8Array, ctx: CallContext): Promise<GcmOutput> {
    this.#checkVersion(key, 'encrypt');
    const name = this.#nameOf(key.keyId);
    // A fresh IV from the OS RNG for every encryption; the server must use it as given.
    const iv = new Uint8Array(randomBytes(GCM_IV_BYTES));
    return this.#run(ctx, name, (server, limit) =>
      this.#withKey(server, name, key.keyId, 'ENCRYPT', limit, async (uid) => {
        const out = parseEncrypt(await server.call(encryptRequest(uid, plaintext, iv, aad), limit));
        if (out.iv !== undefined && !Buffer.from(out.iv).equals(iv)) {
          throw new XksError('InternalException', 'The KMIP server did not use the IV the proxy sent.');
        }
        if (out.tag === undefined || out.tag.length !== GCM_TAG_BYTES) {
          throw new XksError('InternalException', `The KMIP server returned no ${GCM_TAG_BYTES}-byte GCM tag; it must support KMIP 1.4 AEAD fields.`);
        }
        if (out.ciphertext.length !== plaintext.length) {
          throw new XksError('InternalException', 'The KMIP server returned a ciphertext of the wrong length.');
        }
        return { iv, ciphertext: out.ciphertext, tag: out.tag };
      }),
    );
  }

  async decrypt(key: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Promise<Uint8Array> {
    this.#checkVersion(key, 'decrypt');
    if (input.tag.length !== GCM_TAG_BYTES) {
      throw new XksError('InvalidCiphertextException', `The authentication tag must be ${GCM_TAG_BYTES} bytes.`);
    }
    const name = this.#nameOf(key.keyId);
    return this.#run(ctx, name, (server, limit) =>
      this.#withKey(server, name, key.keyId, 'DECRYPT', limit, async (uid) => {
        const plaintext = parseDecrypt(await server.call(decryptRequest(uid, input.ciphertext, input.iv, aad, input.tag), limit));
        if (plaintext.length !== input.ciphertext.length) {
          throw new XksError('InternalException', 'The KMIP server returned a plaintext of the wrong length.');
        }
        return plaintext;
      }),
    );
  }

  async health(ctx: CallContext): Promise<EkmHealth[]> {
    return Promise.all(this.#requireCluster().servers.map((server) => this.#healthOf(server, ctx)));
  }

  async close(): Promise<void> {
    this.#cluster?.close();
    this.#cluster = undefined;
    this.#cache.clear();
  }

  #nameOf(keyId: string): string {
    return `${this.#config.keyNamePrefix}${keyId}`;
  }

  #checkVersion(key: KeyRef, operation: 'encrypt' | 'decrypt'): void {
    // KMIP keys have no versions here: currentVersion is always 0 (see describe()).
    if (key.version !== 0) throw keyVersionNotFound(key, operation);
  }

  #requireCluster(): KmipCluster {
    if (this.#cluster === undefined) throw new XksError('InternalException', 'The KMIP provider is not initialised.');
    return this.#cluster;
  }

  /** Runs work with failover and turns KMIP failures into the spec's errors. */
  async #run<T>(ctx: CallContext, name: string, work: (server: KmipServer, limit: CallContext) => Promise<T>): Promise<T> {
    try {
      return await this.#requireCluster().run(ctx, work);
    } catch (e) {
      if (isXksError(e)) throw e;
      if (e instanceof KmipResultError) throw xksErrorForResult(e, name);
      if (e instanceof KmipUnavailableError) throw xksErrorForUnavailable(e);
      throw e;
    }
  }

  /** The unique id of `name` on `server`: cached, else one Locate. */
  async #resolve(server: KmipServer, name: string, limit: CallContext): Promise<string> {
    const cached = this.#cache.uid(server.id, name);
    if (cached !== undefined) return cached;
    const uids = parseLocate(await server.call(locateRequest(name), limit));
    if (uids.length === 0) throw new XksError('KeyNotFoundException', `No key named "${name}" in the KMIP server.`);
    if (uids.length > 1) {
      // The spec requires an external key id to name one key unambiguously.
      throw new XksError('InvalidStateException', `${uids.length} KMIP keys are named "${name}"; a key name must be unique.`);
    }
    const uid = uids[0] as string;
    this.#cache.rememberUid(server.id, name, uid);
    return uid;
  }

  /** The key's attributes: cached briefly, else Get Attributes (re-locating once if the cached id went away). */
  async #attributesOn(server: KmipServer, name: string, limit: CallContext): Promise<{ uid: string; attributes: KmipKeyAttributes }> {
    for (let attempt = 0; ; attempt++) {
      const uid = await this.#resolve(server, name, limit);
      const cached = this.#cache.attributesOf(server.id, uid);
      if (cached !== undefined) return { uid, attributes: cached };
      try {
        const attributes = parseGetAttributes(await server.call(getAttributesRequest(uid, KEY_ATTRIBUTE_NAMES), limit));
        this.#cache.rememberAttributes(server.id, uid, attributes);
        return { uid, attributes };
      } catch (e) {
        const gone = e instanceof KmipResultError && e.reason !== undefined && NOT_FOUND_REASONS.has(e.reason);
        this.#cache.forget(server.id, name);
        if (!gone || attempt > 0) throw e;
      }
    }
  }

  /**
   * Runs a crypto operation with the key's id. When the server refuses it, the key is read
   * again so the client gets the precise error: KeyNotFound (gone), InvalidState (not
   * Active) or InvalidKeyUsage (mask lacks the bit), and the cached id is dropped. If the
   * name now points at a different object (deleted and re-created), the operation runs
   * once more with the new id.
   */
  async #withKey<T>(server: KmipServer, name: string, keyId: string, usage: KeyUsage, limit: CallContext, operation: (uid: string) => Promise<T>): Promise<T> {
    const uid = await this.#resolve(server, name, limit);
    try {
      return await operation(uid);
    } catch (e) {
      if (!(e instanceof KmipResultError) || e.reason === undefined || !REFINE_REASONS.has(e.reason)) throw e;
      this.#cache.forget(server.id, name);
      const fresh = await this.#attributesOn(server, name, limit);
      const info = keyInfoFromAttributes(keyId, fresh.attributes);
      if (!info.enabled) {
        throw new XksError('InvalidStateException', `Key ${keyId} is not Active in the KMIP server.`, { cause: e });
      }
      if (!info.usages.includes(usage)) {
        throw new XksError('InvalidKeyUsageException', `Key ${keyId} does not allow ${usage} in the KMIP server.`, { cause: e });
      }
      if (fresh.uid !== uid) return operation(fresh.uid);
      throw e;
    }
  }

  /**
   * Deep health of one server: Query (is it there, what is it), then an encrypt and
   * decrypt with the health-check key (can it do crypto now). UNAVAILABLE when the
   * server cannot be reached, DEGRADED when it answers but the crypto check fails.
   */
  async #healthOf(server: KmipServer, ctx: CallContext): Promise<EkmHealth> {
    let model = this.#models.get(server.id) ?? 'KMIP server';
    try {
      const info = parseQuery(await server.call(queryRequest(), ctx));
      model = (info.vendorIdentification ?? model).slice(0, 64);
      this.#models.set(server.id, model);
      if (!info.operations.includes(Operation.Encrypt) || !info.operations.includes(Operation.Decrypt)) {
        return { id: server.id, model, healthStatus: 'DEGRADED', detail: 'the server does not list Encrypt and Decrypt in Query' };
      }
    } catch (e) {
      return { id: server.id, model, healthStatus: 'UNAVAILABLE', detail: `Query failed: ${(e as Error).message}` };
    }
    try {
      await this.#canary(server, ctx);
      return { id: server.id, model, healthStatus: 'ACTIVE' };
    } catch (e) {
      const status = isServerFailure(e) ? 'UNAVAILABLE' : 'DEGRADED';
      const message = e instanceof KmipResultError ? xksErrorForResult(e, this.#config.healthCheckKeyName).message : (e as Error).message;
      return { id: server.id, model, healthStatus: status, detail: `health-check key "${this.#config.healthCheckKeyName}": ${message}` };
    }
  }

  /** Encrypts and decrypts random bytes with the health-check key on one server. */
  async #canary(server: KmipServer, limit: CallContext): Promise<void> {
    const keyId = this.#config.healthCheckKeyName;
    const name = this.#nameOf(keyId);
    const probe = new Uint8Array(randomBytes(32));
    const aad = new TextEncoder().encode('xks-proxy health check');
    const iv = new Uint8Array(randomBytes(GCM_IV_BYTES));
    const sealed = await this.#withKey(server, name, keyId, 'ENCRYPT', limit, async (uid) =>
      parseEncrypt(await server.call(encryptRequest(uid, probe, iv, aad), limit)),
    );
    if (sealed.tag === undefined) throw new Error('no GCM tag returned');
    const tag = sealed.tag;
    const opened = await this.#withKey(server, name, keyId, 'DECRYPT', limit, async (uid) =>
      parseDecrypt(await server.call(decryptRequest(uid, sealed.ciphertext, iv, aad, tag), limit)),
    );
    if (!Buffer.from(opened).equals(probe)) throw new Error('decrypt did not return the encrypted bytes');
  }
}

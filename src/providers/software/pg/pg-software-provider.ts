import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { XksError } from '../../../xks/errors.ts';
import type { CallContext, EkmHealth, GcmInput, GcmOutput, KeyInfo, KeyProvider, KeyRef } from '../../key-provider.ts';
import type { ProviderDeps } from '../../provider-deps.ts';
import { randomIv } from '../../random-iv.ts';
import { gcmDecrypt, gcmEncrypt } from '../software-aes-gcm.ts';
import type { SoftwareProviderConfig } from '../software-config.ts';
import { zeroContents, type KeystoreContents, type SoftwareKey } from '../software-keystore-contents.ts';
import { resolveKeystoreSecret } from '../software-secret.ts';
import { PgChangeListener, type ListenerTiming } from './pg-change-listener.ts';
import { pgConnection } from './pg-connection.ts';
import { PgHeartbeat, type LoadedKeyStats } from './pg-heartbeat.ts';
import { PgKeystore } from './pg-keystore.ts';
import { changeChannel } from './pg-migrations.ts';
import type { PgStoreConfig } from './pg-store-config.ts';

/** Model string reported in GetHealthStatus ekmFleetDetails for the database store. */
export const PG_KEYSTORE_MODEL = 'xks-proxy software keystore on PostgreSQL';

/** How long replaced key bytes stay in memory before they are zeroed (a call may hold them across an await). */
const RETIRED_MS = 5_000;

/** Tuning knobs, mainly for tests. */
export interface PgProviderOptions {
  listener?: Partial<ListenerTiming>;
}

/**
 * The software keystore served from memory, with the keys kept in PostgreSQL and shared
 * by a fleet of proxies. Nothing on the request path waits for the database: every key is
 * loaded at start, changes arrive by LISTEN/NOTIFY and are applied in the background
 * (within a second), everything is re-read after a reconnect (notifications are lost
 * while away) and every `reloadIntervalSeconds` as a backstop. While the database is
 * unreachable the held keys keep serving and health says DEGRADED.
 */
export class PgSoftwareProvider implements KeyProvider {
  readonly kind = 'software';
  readonly callsStayInProcess = true;
  readonly #config: SoftwareProviderConfig;
  readonly #pgConfig: PgStoreConfig;
  readonly #deps: ProviderDeps;
  readonly #log: Logger;
  readonly #options: PgProviderOptions;
  #store: PgKeystore | undefined;
  #listener: PgChangeListener | undefined;
  #heartbeat: PgHeartbeat | undefined;
  #backstop: NodeJS.Timeout | undefined;
  #contents: KeystoreContents | undefined;
  #stats: LoadedKeyStats | undefined;
  /** Reloads run one after another, so a key reload never races a full one. */
  #queue: Promise<void> = Promise.resolve();
  readonly #pendingKeys = new Map<string, Promise<void>>();
  #lastReloadError: string | undefined;
  #closed = false;
  readonly #retired = new Set<() => void>();

  constructor(config: SoftwareProviderConfig, deps: ProviderDeps, options: PgProviderOptions = {}) {
    this.#config = config;
    this.#pgConfig = config.store!.postgres;
    this.#deps = deps;
    this.#options = options;
    this.#log = deps.logger.child({ keystore: `postgres:${this.#pgConfig.schema}` });
  }

  /** Live proxies sharing this store (by heartbeat), undefined before the first heartbeat. */
  liveFleetSize(): number | undefined {
    return this.#heartbeat?.liveCount;
  }

  /** True while the change listener is connected. */
  get databaseConnected(): boolean {
    return this.#listener?.connected ?? false;
  }

  async init(): Promise<void> {
    if (this.#closed) throw closedError();
    if (this.#contents) return;
    if (!this.#store) {
      const conn = pgConnection(this.#pgConfig, this.#deps.configDir, this.#deps.env);
      const secret = resolveKeystoreSecret(this.#config, this.#deps.configDir, this.#deps.env);
      this.#store = new PgKeystore(conn, this.#pgConfig.schema, secret, this.#pgConfig.poolSize);
    }
    const store = this.#store;
    // Listen first, then load: a change committed in between is then either in the load or
    // in a notification, never lost.
    if (!this.#listener) {
      this.#listener = new PgChangeListener(
        pgConnection(this.#pgConfig, this.#deps.configDir, this.#deps.env),
        changeChannel(this.#pgConfig.schema),
        {
          onChange: (keyId) => void this.#reloadKey(keyId),
          onConnect: (first) => {
            if (!first || this.#contents) void this.#reloadAll('reconnected');
          },
          onDisconnect: () => undefined,
        },
        this.#log,
        this.#options.listener,
      );
      await this.#listener.start();
    }
    const contents = await store.loadAll().catch((e: unknown) => {
      this.#log.error({ err: (e as Error).message }, 'cannot load the keys from the database');
      throw e;
    });
    if (this.#closed) {
      zeroContents(contents);
      throw closedError();
    }
    this.#swapAll(contents);
    this.#log.info({ keys: contents.keys.size, store: store.where }, 'keys loaded from the database');
    this.#backstop = setInterval(() => void this.#reloadAll('periodic'), this.#pgConfig.reloadIntervalSeconds * 1000);
    this.#backstop.unref();
    if (this.#deps.checkOnly) return;
    this.#heartbeat = new PgHeartbeat(store.pool, this.#pgConfig.schema, {
      everyMs: this.#pgConfig.heartbeatSeconds * 1000,
      liveSeconds: this.#pgConfig.liveSeconds,
      stats: () => this.#stats,
      log: this.#log,
    });
    this.#heartbeat.start();
  }

  async describe(keyId: string, ctx: CallContext): Promise<KeyInfo> {
    const key = await this.#key(keyId, ctx);
    return { keyId, usages: [...key.usages], enabled: key.enabled, currentVersion: key.versions.length };
  }

  async encrypt(ref: KeyRef, plaintext: Uint8Array, aad: Uint8Array, ctx: CallContext): Promise<GcmOutput> {
    const key = await this.#key(ref.keyId, ctx);
    const version = key.versions[ref.version - 1];
    if (!version) throw new XksError('KeyNotFoundException', `key ${ref.keyId} has no version ${ref.version}`);
    // Spec: a fresh random 12-byte IV for every encryption.
    const iv = randomIv();
    const { ciphertext, tag } = gcmEncrypt(version.material.expose(), iv, plaintext, aad);
    return { iv, ciphertext, tag };
  }

  async decrypt(ref: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Promise<Uint8Array> {
    let key = await this.#key(ref.keyId, ctx);
    let version = key.versions[ref.version - 1];
    if (!version && this.databaseConnected) {
      // A version made a moment ago by a rotation whose notification is still on its way.
      await this.#withDeadline(this.#reloadKey(ref.keyId), ctx);
      key = await this.#key(ref.keyId, ctx);
      version = key.versions[ref.version - 1];
    }
    if (!version) {
      throw new XksError('InvalidCiphertextException', `ciphertext refers to version ${ref.version} of key ${ref.keyId}, which does not exist`);
    }
    if (input.iv.length !== 12 && input.iv.length !== 16) throw new XksError('InvalidCiphertextException', 'IV must be 12 or 16 bytes');
    const plaintext = gcmDecrypt(version.material.expose(), input.iv, input.ciphertext, input.tag, aad);
    if (plaintext === null) throw new XksError('InvalidCiphertextException', 'ciphertext authentication failed: wrong ciphertext, tag, IV, AAD or metadata');
    return plaintext;
  }

  async health(_ctx: CallContext): Promise<EkmHealth[]> {
    const entry = { id: `postgres:${this.#pgConfig.schema}`, model: PG_KEYSTORE_MODEL };
    const contents = this.#contents;
    if (!contents) {
      return [{ ...entry, healthStatus: 'UNAVAILABLE', detail: this.#lastReloadError ?? 'the keys were never loaded from the database' }];
    }
    // A real round trip with the health-only canary key, never a customer key.
    const probe = randomBytes(32);
    const aad = Buffer.from('xks-proxy software keystore health canary');
    const iv = randomIv();
    const out = gcmEncrypt(contents.canary.expose(), iv, probe, aad);
    const back = gcmDecrypt(contents.canary.expose(), iv, out.ciphertext, out.tag, aad);
    if (back === null || back.length !== probe.length || !timingSafeEqual(back, probe)) {
      return [{ ...entry, healthStatus: 'UNAVAILABLE', detail: 'health canary encrypt/decrypt round trip failed' }];
    }
    if (!this.databaseConnected) {
      const since = this.#listener?.downSince;
      return [
        {
          ...entry,
          healthStatus: 'DEGRADED',
          detail: `database unreachable${since !== undefined ? ` since ${new Date(since).toISOString()}` : ''}; serving the ${contents.keys.size} keys held in memory, changes are not seen until it returns`,
        },
      ];
    }
    if (this.#lastReloadError !== undefined) {
      return [{ ...entry, healthStatus: 'DEGRADED', detail: `the last re-read of the keys failed (${this.#lastReloadError}); serving the keys held in memory` }];
    }
    return [{ ...entry, healthStatus: 'ACTIVE' }];
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#backstop);
    await this.#heartbeat?.close();
    await this.#listener?.close();
    await this.#queue.catch(() => undefined);
    if (this.#contents) zeroContents(this.#contents);
    this.#contents = undefined;
    for (const wipe of this.#retired) wipe();
    this.#retired.clear();
    await this.#store?.close();
  }

  async #key(keyId: string, ctx: CallContext): Promise<SoftwareKey> {
    if (this.#closed) throw closedError();
    if (!this.#contents) await this.init().catch((e: unknown) => Promise.reject(unavailable(e)));
    let key = this.#contents!.keys.get(keyId);
    // A key never seen: ask the database once, if it is there (a key created a moment ago
    // may not have been notified yet). With the database down the answer is per spec at once.
    if (!key && this.databaseConnected) {
      await this.#withDeadline(this.#reloadKey(keyId), ctx);
      key = this.#contents!.keys.get(keyId);
    }
    if (!key) throw new XksError('KeyNotFoundException', `Key ${keyId} does not exist in this key store; create it with \`xks-proxy keys create ${keyId}\` or check the externalKeyId in KMS.`);
    return key;
  }

  /** Waits for `work` until the call's deadline; the work itself carries on in the background. */
  async #withDeadline(work: Promise<void>, ctx: CallContext): Promise<void> {
    const left = ctx.deadline - Date.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([work.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
    clearTimeout(timer);
  }

  #serial(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Re-reads one key (coalesced per key id). */
  #reloadKey(keyId: string): Promise<void> {
    const pending = this.#pendingKeys.get(keyId);
    if (pending) return pending;
    const run = this.#serial(async () => {
      this.#pendingKeys.delete(keyId);
      if (this.#closed || !this.#contents || !this.#store) return;
      let key: SoftwareKey | undefined;
      try {
        key = await this.#store.loadKey(keyId);
      } catch (e) {
        this.#lastReloadError = (e as Error).message;
        this.#log.warn({ keyId, err: (e as Error).message }, 'cannot re-read a changed key; serving the version held in memory');
        return;
      }
      if (this.#closed || !this.#contents) {
        if (key) for (const v of key.versions) v.material.zero();
        return;
      }
      const keys = new Map(this.#contents.keys);
      const old = keys.get(keyId);
      if (key) keys.set(keyId, key);
      else keys.delete(keyId);
      if (old === undefined && key === undefined) return;
      this.#contents = { createdAt: this.#contents.createdAt, canary: this.#contents.canary, keys };
      this.#stats = statsOf(this.#contents);
      if (old) this.#retire(() => old.versions.forEach((v) => v.material.zero()));
      this.#log.info({ keyId, currentVersion: key?.versions.length ?? 0, enabled: key?.enabled }, key ? 'key changed in the database; applied' : 'key removed from the database');
    });
    this.#pendingKeys.set(keyId, run);
    return run;
  }

  /** Re-reads every key and replaces the whole set. */
  #reloadAll(why: string): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed || !this.#store) return;
      let contents: KeystoreContents;
      try {
        contents = await this.#store.loadAll();
      } catch (e) {
        this.#lastReloadError = (e as Error).message;
        // While the database is down the listener has said so once; stay quiet here.
        if (this.databaseConnected) this.#log.warn({ err: (e as Error).message, why }, 'cannot re-read the keys; serving the keys held in memory');
        return;
      }
      if (this.#closed) {
        zeroContents(contents);
        return;
      }
      const before = this.#stats?.digest;
      this.#swapAll(contents);
      if (why !== 'periodic' || before !== this.#stats?.digest) this.#log.info({ keys: contents.keys.size, why }, 'keys re-read from the database');
    });
  }

  #swapAll(contents: KeystoreContents): void {
    const old = this.#contents;
    this.#contents = contents;
    this.#stats = statsOf(contents);
    this.#lastReloadError = undefined;
    if (old) this.#retire(() => zeroContents(old));
  }

  /** Zeroes replaced key bytes a little later: a call that looked up its key may still hold them. */
  #retire(wipe: () => void): void {
    this.#retired.add(wipe);
    setTimeout(() => {
      if (this.#retired.delete(wipe)) wipe();
    }, RETIRED_MS).unref();
  }
}

/** Key count, version count and a digest of the key state, for the heartbeat row. */
export function statsOf(contents: KeystoreContents): LoadedKeyStats {
  const hash = createHash('sha256');
  let versions = 0;
  for (const id of [...contents.keys.keys()].sort()) {
    const k = contents.keys.get(id)!;
    versions += k.versions.length;
    hash.update(`${id}\0${k.enabled ? 1 : 0}\0${k.usages.join(',')}\0${k.versions.length}\n`);
  }
  return { keys: contents.keys.size, versions, digest: hash.digest('hex').slice(0, 16) };
}

function closedError(): XksError {
  return new XksError('InternalException', 'The software keystore is closed: the proxy is shutting down.');
}

/** An internal error whose detail (naming the store, never secrets) stays in the log. */
function unavailable(e: unknown): XksError {
  if (e instanceof XksError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new XksError('InternalException', 'The software keystore database cannot be used; the proxy log says why (unreachable, wrong passphrase, schema not initialised).', {
    logDetail: detail,
    cause: e,
  });
}

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { basename, resolve } from 'node:path';
import type { Logger } from 'pino';
import { XksError } from '../../xks/errors.ts';
import { GCM_IV_BYTES, GCM_LONG_IV_BYTES, isSpecIvLength } from '../../xks/gcm-sizes.ts';
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
} from '../../xks/key-provider-port.ts';
import type { ProviderDeps } from '../provider-deps.ts';
import { randomIv } from '../random-iv.ts';
import { gcmDecrypt, gcmEncrypt } from './software-aes-gcm.ts';
import type { SoftwareProviderConfig } from './software-config.ts';
import { KeySetRefresher } from './key-set-refresher.ts';
import { openKeystoreSource } from './open-keystore-source.ts';
import type { KeystoreSource } from './keystore-source.ts';
import { ServedKeySet } from './served-key-set.ts';
import type { SoftwareKey } from './software-keystore-contents.ts';
import { KeystoreFileError } from './software-keystore-errors.ts';
import type { PgSourceOptions } from './pg/pg-keystore-source.ts';
import { rejectionOf } from '../rejection.ts';

/** Model string reported in GetHealthStatus ekmFleetDetails. */
export const SOFTWARE_KEYSTORE_MODEL = 'xks-proxy software keystore';

/** Tuning knobs, mainly for tests. */
export interface SoftwareProviderOptions {
  /** How often (ms) the file is checked in the background to notice CLI changes; default 1000. */
  reloadCheckMs?: number;
  /** A keystore read running longer than this (ms) turns health DEGRADED; default 2000. */
  slowReadMs?: number;
  /** Timing of the PostgreSQL store's change listener (tests). */
  pg?: PgSourceOptions;
}

/**
 * Builds the software keystore provider for one key store (a file, or PostgreSQL). No I/O
 * here: `init` reads the secret and loads the keys (the guard retries it).
 */
export function createSoftwareProvider(config: SoftwareProviderConfig, deps: ProviderDeps, options: SoftwareProviderOptions = {}): SoftwareKeyProvider {
  return new SoftwareKeyProvider(config, deps, { reloadCheckMs: options.reloadCheckMs ?? 1000, slowReadMs: options.slowReadMs ?? 2000, pg: options.pg ?? {} });
}

/**
 * AES-256-GCM with keys served from memory (ServedKeySet), refreshed from the keystore
 * file by a KeySetRefresher: the CLI changes the file while the proxy runs and the
 * refresher checks it every reloadCheckMs. A request never waits for the file
 * (only a key miss or an empty key set waits, and never past the request's deadline).
 * When the newest file cannot be read, or a read hangs, the last good keys keep serving
 * and health says DEGRADED with the reason; with no good keys at all, calls fail and
 * health says UNAVAILABLE.
 */
export class SoftwareKeyProvider implements KeyProvider {
  readonly kind = 'software';
  readonly callsStayInProcess = true;
  readonly #config: SoftwareProviderConfig;
  readonly #deps: ProviderDeps;
  readonly #path: string;
  readonly #options: Required<SoftwareProviderOptions>;
  readonly #log: Logger;
  readonly #keySet = new ServedKeySet();
  #source: KeystoreSource | undefined;
  #refresher: KeySetRefresher | undefined;
  #closed = false;

  constructor(config: SoftwareProviderConfig, deps: ProviderDeps, options: Required<SoftwareProviderOptions>) {
    this.#config = config;
    this.#deps = deps;
    // The file, or the PostgreSQL schema a fleet shares (docs/fleet.md).
    this.#path = config.path !== undefined ? resolve(deps.configDir, config.path) : `postgres:${config.store!.postgres.schema}`;
    this.#options = options;
    this.#log = deps.logger.child({ keystore: this.#path }); // prefix and provider are bound by build-tenants
  }

  /** Resolves the secret (once per provider: a reload with a changed secret builds a new provider) and loads the keys. */
  async init(): Promise<void> {
    const refresher = this.#ensureRefresher();
    if (this.#keySet.current() === undefined) await refresher.refreshWithin(Number.POSITIVE_INFINITY);
    const state = this.#keySet.state();
    if (state.state === 'empty') throw new KeystoreFileError('unreadable', this.#path, state.problem);
  }

  // describe, encrypt and decrypt are not async functions: a key found in memory (every
  // call but the first after a CLI change) is answered with a settled promise, without the
  // async frames and awaits of #key (allocation per request, docs/performance.md).
  describe(keyId: string, ctx: CallContext): Promise<KeyInfo> {
    const info = this.describeNow(keyId);
    if (info !== undefined) return Promise.resolve(info);
    return this.#key(keyId, ctx).then((k) => keyInfo(keyId, k));
  }

  /** describe for a key in memory; undefined when the call has to wait for the keystore. */
  describeNow(keyId: string): KeyInfo | undefined {
    const key = this.#keyInMemory(keyId);
    return key === undefined ? undefined : keyInfo(keyId, key);
  }

  encrypt(ref: KeyRef, plaintext: Uint8Array, aad: Uint8Array, ctx: CallContext): Promise<GcmOutput> {
    try {
      const out = this.encryptNow(ref, plaintext, aad);
      if (out !== undefined) return Promise.resolve(out);
    } catch (e) {
      return rejectionOf(e);
    }
    return this.#key(ref.keyId, ctx).then((k) => this.#encryptWith(k, ref, plaintext, aad));
  }

  /** encrypt with a key in memory; undefined when the call has to wait for the keystore. */
  encryptNow(ref: KeyRef, plaintext: Uint8Array, aad: Uint8Array): GcmOutput | undefined {
    const key = this.#keyInMemory(ref.keyId);
    return key === undefined ? undefined : this.#encryptWith(key, ref, plaintext, aad);
  }

  #encryptWith(key: SoftwareKey, ref: KeyRef, plaintext: Uint8Array, aad: Uint8Array): GcmOutput {
    const version = key.versions[ref.version - 1];
    if (!version) throw keyVersionNotFound(ref, 'encrypt');
    // Spec: a fresh random 12-byte IV for every encryption. The material is used in this
    // same tick, so a concurrent reload cannot zero it underneath us.
    const iv = randomIv();
    const { ciphertext, tag } = gcmEncrypt(version.material.expose(), iv, plaintext, aad);
    return { iv, ciphertext, tag };
  }

  decrypt(ref: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Promise<Uint8Array> {
    try {
      const plaintext = this.decryptNow(ref, input, aad);
      if (plaintext !== undefined) return Promise.resolve(plaintext);
    } catch (e) {
      return rejectionOf(e);
    }
    return this.#decryptAfterLookup(ref, input, aad, ctx);
  }

  /**
   * decrypt with a key version in memory; undefined when the key or the version is not (a
   * version just rotated in elsewhere may be a keystore check away, see #decryptAfterLookup).
   */
  decryptNow(ref: KeyRef, input: GcmInput, aad: Uint8Array): Uint8Array | undefined {
    const version = this.#keyInMemory(ref.keyId)?.versions[ref.version - 1];
    return version === undefined ? undefined : decryptWith(version.material.expose(), input, aad);
  }

  /** Decrypt whose key or version is not (yet) in memory: may wait for a keystore check. */
  async #decryptAfterLookup(ref: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Promise<Uint8Array> {
    let key = await this.#key(ref.keyId, ctx);
    let version = key.versions[ref.version - 1];
    if (!version && ref.version > key.versions.length && ref.version <= key.versions.length + 16) {
      // A version just past ours may be a rotation another admin (or, in a fleet, another
      // proxy's store) made a moment ago: check the store once, within the deadline.
      await this.#refresher?.refreshWithin(waitBudget(ctx));
      key = await this.#key(ref.keyId, ctx);
      version = key.versions[ref.version - 1];
    }
    // The version comes from ciphertextMetadata; one we never issued means a foreign or
    // altered ciphertext, not a missing key.
    if (!version) throw keyVersionNotFound(ref, 'decrypt');
    return decryptWith(version.material.expose(), input, aad);
  }

  /** The keystore by name (health id: the source's, else the file name), whether or not it could be opened. */
  fleetIdentity(): EkmIdentity[] {
    return [{ id: this.#source?.id ?? (this.#config.path !== undefined ? basename(this.#path) : this.#path), model: SOFTWARE_KEYSTORE_MODEL }];
  }

  async health(ctx: CallContext): Promise<EkmHealth[]> {
    const entry = this.fleetIdentity()[0] as EkmIdentity;
    try {
      // Look at the file now, but wait no longer than a read may take before it counts as slow.
      await this.#ensureRefresher().refreshWithin(Math.min(ctx.deadline - Date.now(), this.#options.slowReadMs));
      const state = this.#keySet.state();
      const contents = this.#keySet.current();
      if (state.state === 'empty' || contents === undefined) {
        return [{ ...entry, healthStatus: 'UNAVAILABLE', detail: state.state === 'empty' ? state.problem : 'the keystore is closed' }];
      }
      // A real round trip with the health-only canary key, never a customer key.
      const probe = randomBytes(32);
      const aad = Buffer.from('xks-proxy software keystore health canary');
      const iv = randomIv();
      const out = gcmEncrypt(contents.canary.expose(), iv, probe, aad);
      const back = gcmDecrypt(contents.canary.expose(), iv, out.ciphertext, out.tag, aad);
      if (back === null || back.length !== probe.length || !timingSafeEqual(back, probe)) {
        throw new Error(`health canary encrypt/decrypt round trip failed for keystore ${this.#path}`);
      }
      if (state.state === 'stale') {
        const detail = `serving the keys loaded at ${new Date(state.loadedAt).toISOString()}; ${state.problem}`;
        return [{ ...entry, healthStatus: 'DEGRADED', detail }];
      }
      return [{ ...entry, healthStatus: 'ACTIVE' }];
    } catch (e) {
      return [{ ...entry, healthStatus: 'UNAVAILABLE', detail: e instanceof XksError ? (e.logDetail ?? e.message) : (e as Error).message }];
    }
  }

  /** Live proxies sharing the store (PostgreSQL heartbeats), undefined for a file. */
  liveFleetSize(): number | undefined {
    return this.#source?.liveFleetSize?.();
  }

  onHealthChange(listener: () => void): void {
    this.#keySet.onStateChange(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#refresher?.stop();
    this.#keySet.close();
    this.#source?.close();
  }

  #ensureRefresher(): KeySetRefresher {
    if (this.#closed) throw new XksError('InternalException', 'The software keystore is closed: the proxy is shutting down.');
    if (this.#refresher === undefined) {
      // Throws (naming the reference, never the secret) when the secret cannot be read.
      this.#source = openKeystoreSource(this.#config, this.#deps, this.#log, this.#options.pg);
      const refresher = new KeySetRefresher(this.#source, this.#keySet, {
        intervalMs: this.#options.reloadCheckMs,
        slowAfterMs: this.#options.slowReadMs,
        logger: this.#log,
      });
      this.#refresher = refresher;
      // A store that hears of changes itself (PostgreSQL NOTIFY) has them applied at once.
      this.#source.watch?.(() => void refresher.poke(true));
      refresher.start();
    }
    return this.#refresher;
  }

  /**
   * The key, from memory (the refresher checks the file in the background). A miss may be a key the CLI created a moment ago: then the call waits for a check,
   * within its deadline. A miss while the file cannot be read is an outage, not "no such
   * key": KMS must not be told a key does not exist because a file is unreadable.
   */
  /** The key when it is in memory and the keystore is open; undefined sends the call to #key. */
  #keyInMemory(keyId: string): SoftwareKey | undefined {
    if (this.#closed || this.#refresher === undefined) return undefined;
    return this.#keySet.current()?.keys.get(keyId);
  }

  async #key(keyId: string, ctx: CallContext): Promise<SoftwareKey> {
    let refresher: KeySetRefresher;
    try {
      refresher = this.#ensureRefresher();
    } catch (e) {
      throw unavailable(e);
    }
    let contents = this.#keySet.current();
    let key = contents?.keys.get(keyId);
    if (key === undefined) {
      await refresher.refreshWithin(waitBudget(ctx));
      contents = this.#keySet.current();
      key = contents?.keys.get(keyId);
    }
    if (key !== undefined) return key;
    const state = this.#keySet.state();
    if (this.#closed) throw new XksError('InternalException', 'The software keystore is closed: the proxy is shutting down.');
    if (state.state !== 'fresh') throw unavailable(new Error(state.problem));
    throw new XksError(
      'KeyNotFoundException',
      `Key ${keyId} does not exist in this key store; create it with \`xks-proxy keys create ${keyId}\` or check the externalKeyId in KMS.`,
    );
  }
}

function keyInfo(keyId: string, key: SoftwareKey): KeyInfo {
  // The key's own (readonly) usages list: no copy per request.
  return { keyId, usages: key.usages, enabled: key.enabled, currentVersion: key.versions.length };
}

function decryptWith(material: Buffer, input: GcmInput, aad: Uint8Array): Uint8Array {
  if (!isSpecIvLength(input.iv.length)) {
    throw new XksError('InvalidCiphertextException', `IV must be ${GCM_IV_BYTES} or ${GCM_LONG_IV_BYTES} bytes`);
  }
  const plaintext = gcmDecrypt(material, input.iv, input.ciphertext, input.tag, aad);
  if (plaintext === null) {
    throw new XksError('InvalidCiphertextException', 'ciphertext authentication failed: wrong ciphertext, tag, IV, AAD or metadata');
  }
  return plaintext;
}

/** How long a call may wait for a keystore check: its deadline, less a little to answer in time. */
function waitBudget(ctx: CallContext): number {
  const left = ctx.deadline - Date.now();
  return left - Math.min(50, left / 4);
}

/** An internal error whose detail (naming the file, never secrets) stays in the log. */
function unavailable(e: unknown): XksError {
  const detail = e instanceof Error ? e.message : String(e);
  return new XksError(
    'InternalException',
    'The software keystore has no usable keys for this call; the proxy log says why (wrong passphrase, corrupt, missing or unreadable file).',
    {
      logDetail: detail,
      cause: e,
      dependencyFailure: true,
    },
  );
}

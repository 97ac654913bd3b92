import { randomBytes, timingSafeEqual } from 'node:crypto';
import { basename, resolve } from 'node:path';
import type { Logger } from 'pino';
import { XksError } from '../../xks/errors.ts';
import type { CallContext, EkmHealth, EkmIdentity, GcmInput, GcmOutput, KeyInfo, KeyProvider, KeyRef } from '../key-provider.ts';
import type { ProviderDeps } from '../provider-deps.ts';
import { randomIv } from '../random-iv.ts';
import { gcmDecrypt, gcmEncrypt } from './software-aes-gcm.ts';
import type { SoftwareProviderConfig } from './software-config.ts';
import { zeroContents, type KeystoreContents, type SoftwareKey } from './software-keystore-contents.ts';
import { sameStamp, SoftwareKeystoreFile, type FileStamp } from './software-keystore-file.ts';
import { resolveKeystoreSecret } from './software-secret.ts';

/** Model string reported in GetHealthStatus ekmFleetDetails. */
export const SOFTWARE_KEYSTORE_MODEL = 'xks-proxy software keystore';

/** How long a replaced snapshot's key bytes stay in memory before they are zeroed. */
const RETIRED_SNAPSHOT_MS = 5_000;

/** Tuning knobs, mainly for tests. */
export interface SoftwareProviderOptions {
  /** How often (ms) a call may stat the file to notice CLI changes; default 1000. */
  reloadCheckMs?: number;
}

/** Builds the software keystore provider for one key store. */
export function createSoftwareProvider(config: SoftwareProviderConfig, deps: ProviderDeps, options: SoftwareProviderOptions = {}): KeyProvider {
  return new SoftwareKeyProvider(config, deps, options.reloadCheckMs ?? 1000);
}

/**
 * AES-256-GCM with keys from an encrypted keystore file. The file is the source of truth:
 * the CLI changes it while the proxy runs, and the provider re-reads it when its stamp
 * changes (checked at most once per reloadCheckMs, and at once on a key-not-found miss).
 * When the newest file cannot be opened the provider fails closed (and health says
 * UNAVAILABLE) rather than serving keys the operator may have disabled since.
 */
class SoftwareKeyProvider implements KeyProvider {
  readonly kind = 'software';
  readonly callsStayInProcess = true;
  readonly #config: SoftwareProviderConfig;
  readonly #deps: ProviderDeps;
  readonly #path: string;
  readonly #reloadCheckMs: number;
  readonly #log: Logger;
  #file: SoftwareKeystoreFile | undefined;
  #snapshot: { contents: KeystoreContents; stamp: FileStamp } | undefined;
  #failure: { error: Error; stamp: FileStamp | undefined } | undefined;
  #lastCheck = 0;
  #refreshing: Promise<void> | undefined;
  #closed = false;
  readonly #retired = new Set<KeystoreContents>();

  constructor(config: SoftwareProviderConfig, deps: ProviderDeps, reloadCheckMs: number) {
    this.#config = config;
    this.#deps = deps;
    this.#path = resolve(deps.configDir, config.path);
    this.#reloadCheckMs = reloadCheckMs;
    this.#log = deps.logger.child({ keystore: this.#path }); // prefix and provider are bound by build-tenants
  }

  async init(): Promise<void> {
    if (this.#closed) throw new XksError('InternalException', 'The software keystore is closed: the proxy is shutting down.');
    if (!this.#file) {
      const secret = resolveKeystoreSecret(this.#config, this.#deps.configDir, this.#deps.env);
      this.#file = new SoftwareKeystoreFile(this.#path, secret);
    }
    await this.#refresh(true);
    if (this.#failure) throw this.#failure.error;
  }

  async describe(keyId: string, _ctx: CallContext): Promise<KeyInfo> {
    const key = await this.#key(keyId);
    return { keyId, usages: [...key.usages], enabled: key.enabled, currentVersion: key.versions.length };
  }

  async encrypt(ref: KeyRef, plaintext: Uint8Array, aad: Uint8Array, _ctx: CallContext): Promise<GcmOutput> {
    const key = await this.#key(ref.keyId);
    const version = key.versions[ref.version - 1];
    if (!version) throw new XksError('KeyNotFoundException', `key ${ref.keyId} has no version ${ref.version}`);
    // Spec: a fresh random 12-byte IV for every encryption. The material is used in this
    // same tick, so a concurrent reload cannot zero it underneath us.
    const iv = randomIv();
    const { ciphertext, tag } = gcmEncrypt(version.material.expose(), iv, plaintext, aad);
    return { iv, ciphertext, tag };
  }

  async decrypt(ref: KeyRef, input: GcmInput, aad: Uint8Array, _ctx: CallContext): Promise<Uint8Array> {
    const key = await this.#key(ref.keyId);
    const version = key.versions[ref.version - 1];
    if (!version) {
      // The version comes from ciphertextMetadata; one we never issued means a foreign or
      // altered ciphertext, not a missing key.
      throw new XksError('InvalidCiphertextException', `ciphertext refers to version ${ref.version} of key ${ref.keyId}, which does not exist`);
    }
    if (input.iv.length !== 12 && input.iv.length !== 16) {
      throw new XksError('InvalidCiphertextException', 'IV must be 12 or 16 bytes');
    }
    const plaintext = gcmDecrypt(version.material.expose(), input.iv, input.ciphertext, input.tag, aad);
    if (plaintext === null) {
      throw new XksError('InvalidCiphertextException', 'ciphertext authentication failed: wrong ciphertext, tag, IV, AAD or metadata');
    }
    return plaintext;
  }

  /** The keystore file by name (health id), whether or not it could be opened. */
  fleetIdentity(): EkmIdentity[] {
    return [{ id: basename(this.#path), model: SOFTWARE_KEYSTORE_MODEL }];
  }

  async health(_ctx: CallContext): Promise<EkmHealth[]> {
    const entry = this.fleetIdentity()[0] as EkmIdentity;
    try {
      const contents = await this.#contents(true);
      // A real round trip with the health-only canary key, never a customer key.
      const probe = randomBytes(32);
      const aad = Buffer.from('xks-proxy software keystore health canary');
      const iv = randomIv();
      const out = gcmEncrypt(contents.canary.expose(), iv, probe, aad);
      const back = gcmDecrypt(contents.canary.expose(), iv, out.ciphertext, out.tag, aad);
      if (back === null || back.length !== probe.length || !timingSafeEqual(back, probe)) {
        throw new Error(`health canary encrypt/decrypt round trip failed for keystore file ${this.#path}`);
      }
      return [{ ...entry, healthStatus: 'ACTIVE' }];
    } catch (e) {
      return [{ ...entry, healthStatus: 'UNAVAILABLE', detail: e instanceof XksError ? (e.logDetail ?? e.message) : (e as Error).message }];
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#snapshot) zeroContents(this.#snapshot.contents);
    this.#snapshot = undefined;
    for (const old of this.#retired) zeroContents(old);
    this.#retired.clear();
    this.#file?.close();
  }

  async #key(keyId: string): Promise<SoftwareKey> {
    let key = (await this.#contents(false)).keys.get(keyId);
    // A miss may be a key the CLI created a moment ago: look at the file again at once.
    if (!key) key = (await this.#contents(true)).keys.get(keyId);
    if (!key) throw new XksError('KeyNotFoundException', `Key ${keyId} does not exist in this key store; create it with \`xks-proxy keys create ${keyId}\` or check the externalKeyId in KMS.`);
    return key;
  }

  async #contents(forceCheck: boolean): Promise<KeystoreContents> {
    if (this.#closed) throw new XksError('InternalException', 'The software keystore is closed: the proxy is shutting down.');
    if (!this.#file) {
      try {
        await this.init();
      } catch (e) {
        throw unavailable(e);
      }
    } else {
      await this.#refresh(forceCheck);
    }
    if (this.#failure) throw unavailable(this.#failure.error);
    if (!this.#snapshot) throw unavailable(new Error(`keystore file ${this.#path} is not loaded`));
    return this.#snapshot.contents;
  }

  /** Re-reads the file when its stamp changed; one refresh at a time. */
  async #refresh(force: boolean): Promise<void> {
    if (!force && Date.now() - this.#lastCheck < this.#reloadCheckMs) return;
    this.#refreshing ??= this.#doRefresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #doRefresh(): Promise<void> {
    const file = this.#file!;
    this.#lastCheck = Date.now();
    let stamp: FileStamp | undefined;
    try {
      stamp = await file.stat();
    } catch (e) {
      this.#fail(e as Error, undefined);
      return;
    }
    if (this.#snapshot && !this.#failure && sameStamp(stamp, this.#snapshot.stamp)) return;
    // Do not retry (and re-run scrypt) on the same broken file over and over.
    if (this.#failure && stamp !== undefined && sameStamp(stamp, this.#failure.stamp)) return;
    try {
      const next = await file.read();
      const previous = this.#snapshot;
      this.#snapshot = next;
      this.#failure = undefined;
      if (previous) this.#retire(previous.contents);
      if ((next.stamp.mode & 0o077) !== 0) {
        this.#log.warn({ mode: next.stamp.mode.toString(8) }, 'keystore file is accessible by group or others; chmod 600 it');
      }
      this.#log.info({ keys: next.contents.keys.size }, previous ? 'keystore file changed; reloaded' : 'keystore file loaded');
    } catch (e) {
      this.#fail(e as Error, stamp);
    }
  }

  /**
   * Zeroes a replaced snapshot a little later, not at once: a call that already looked up
   * its key may still be between awaits and must not find the material wiped.
   */
  #retire(contents: KeystoreContents): void {
    this.#retired.add(contents);
    setTimeout(() => {
      if (this.#retired.delete(contents)) zeroContents(contents);
    }, RETIRED_SNAPSHOT_MS).unref();
  }

  #fail(error: Error, stamp: FileStamp | undefined): void {
    if (this.#snapshot) this.#retire(this.#snapshot.contents);
    this.#snapshot = undefined;
    this.#failure = { error, stamp };
    this.#log.error({ err: error.message }, 'keystore file cannot be used; failing closed until it is fixed');
  }
}

/** An internal error whose detail (naming the file, never secrets) stays in the log. */
function unavailable(e: unknown): XksError {
  const detail = e instanceof Error ? e.message : String(e);
  return new XksError('InternalException', 'The software keystore file cannot be used; the proxy log says why (wrong passphrase, corrupt or missing file).', { logDetail: detail, cause: e });
}

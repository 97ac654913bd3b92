import { XksError } from '../../xks/errors.ts';
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
  type PoolStats,
  type ProviderStats,
} from '../../xks/key-provider-port.ts';
import type { ProviderDeps } from '../provider-deps.ts';
import type { Pkcs11Loader } from './pkcs11-api.ts';
import type { Pkcs11ProviderConfig } from './pkcs11-config.ts';
import { Pkcs11Fleet } from './pkcs11-fleet.ts';
import { pkcs11GcmDecrypt, pkcs11GcmEncrypt } from './pkcs11-gcm.ts';
import { Pkcs11KeyLabels } from './pkcs11-key-labels.ts';
import type { Pkcs11KeyEntry } from './pkcs11-key-lookup.ts';
import { Pkcs11Token } from './pkcs11-token.ts';
import { pkcs11TokenOptions } from './pkcs11-token-options.ts';
import { loadPkcs11js } from './pkcs11js-api.ts';
import { rejectionOf } from '../rejection.ts';

/** Keys in an HSM have no versions here: every ciphertext is made by version 0. */
const KEY_VERSION = 0;

/**
 * Refuses an operation the key's CKA_ENCRYPT / CKA_DECRYPT forbid before the token is asked.
 * Tokens report this differently at C_*Init: SoftHSM2 CKR_KEY_FUNCTION_NOT_PERMITTED, NSS
 * softoken CKR_KEY_TYPE_INCONSISTENT (measured), which also means "wrong key type"; the
 * attributes read with the key say it the same way on every token.
 */
function requireUsage(entry: Pkcs11KeyEntry, usage: 'ENCRYPT' | 'DECRYPT'): void {
  if (entry.usages.includes(usage)) return;
  const op = usage === 'ENCRYPT' ? 'encryption' : 'decryption';
  throw new XksError('InvalidKeyUsageException', `The HSM key does not allow ${op} (CKA_${usage} is false).`);
}

function keyInfo(keyId: string, entry: Pkcs11KeyEntry): KeyInfo {
  // PKCS#11 has no "disabled" state that maps onto the spec's without surprises; a key
  // that must stop working loses CKA_ENCRYPT / CKA_DECRYPT (or is destroyed) instead.
  return { keyId, usages: entry.usages, enabled: true, currentVersion: KEY_VERSION };
}

/**
 * Builds the PKCS#11 provider from config: one Pkcs11Token per configured token, the fleet
 * that spreads calls over them, and the key-label map. No I/O here: `init` loads the
 * libraries and logs in (the guard retries it). `loader` is the seam unit tests use to
 * pass a fake library.
 */
export function createPkcs11Provider(config: Pkcs11ProviderConfig, deps: ProviderDeps, loader: Pkcs11Loader = loadPkcs11js): Pkcs11KeyProvider {
  const tokens = pkcs11TokenOptions(config, deps, loader).map((options) => new Pkcs11Token(options));
  const fleet = new Pkcs11Fleet(tokens, config.healthKeyLabel, deps.logger, config.attemptTimeoutMs);
  return new Pkcs11KeyProvider(fleet, new Pkcs11KeyLabels(config));
}

/**
 * AES-256-GCM in one or more PKCS#11 tokens (HSMs): keys are found by CKA_LABEL and never
 * leave the token; the fleet picks a serving token and a pooled session for each call.
 */
export class Pkcs11KeyProvider implements KeyProvider {
  readonly kind = 'pkcs11';
  /** The fleet watches every token attempt and session wait against the call's deadline. */
  readonly enforcesDeadline = true;
  readonly #fleet: Pkcs11Fleet;
  readonly #labels: Pkcs11KeyLabels;

  constructor(fleet: Pkcs11Fleet, labels: Pkcs11KeyLabels) {
    this.#fleet = fleet;
    this.#labels = labels;
  }

  async init(): Promise<void> {
    this.#fleet.init();
  }

  async describe(keyId: string, ctx: CallContext): Promise<KeyInfo> {
    const cached = this.describeNow(keyId);
    if (cached !== undefined) return cached;
    const label = this.#labels.labelFor(keyId);
    return this.#fleet.run(ctx, { op: 'describe', label, run: async (session, token) => keyInfo(keyId, token.key(session, label)) });
  }

  /**
   * describe from the key cache of a serving token (the key store describes before every
   * encrypt and decrypt); undefined when no serving token has the key cached, and the
   * asynchronous describe asks a token. Encrypt and decrypt always need the token.
   */
  describeNow(keyId: string): KeyInfo | undefined {
    const label = this.#labels.labelFor(keyId);
    for (const token of this.#fleet.tokens) {
      const cached = token.isUp ? token.cachedKey(label) : undefined;
      if (cached !== undefined) return keyInfo(keyId, cached);
    }
    return undefined;
  }

  // encrypt and decrypt are not async functions, nor is the work they give the fleet: the
  // fleet's promise is the call's, with no frame of its own per layer around the token's
  // answer (docs/performance.md). What fails before the fleet is a rejection, as from an
  // async function; what the work throws at once, the token's execute catches.
  encrypt(key: KeyRef, plaintext: Uint8Array, aad: Uint8Array, ctx: CallContext): Promise<GcmOutput> {
    const label = this.#labelOf(key, 'encrypt');
    if (typeof label !== 'string') return label;
    return this.#fleet.run(ctx, {
      op: 'encrypt',
      label,
      run: (session, token) => {
        const entry = token.key(session, label);
        requireUsage(entry, 'ENCRYPT');
        const out = pkcs11GcmEncrypt(token.api(), session, entry.handle, token.newIv(session), plaintext, aad);
        return token.generatesIv ? out.then((o) => token.checkGeneratedIv(o)) : out;
      },
    });
  }

  decrypt(key: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Promise<Uint8Array> {
    const label = this.#labelOf(key, 'decrypt');
    if (typeof label !== 'string') return label;
    return this.#fleet.run(ctx, {
      op: 'decrypt',
      label,
      run: (session, token) => {
        const entry = token.key(session, label);
        requireUsage(entry, 'DECRYPT');
        return pkcs11GcmDecrypt(token.api(), session, entry.handle, input, aad);
      },
    });
  }

  /** The key's CKA_LABEL, or the rejection the call answers with (an unknown version or key id). */
  #labelOf(key: KeyRef, operation: 'encrypt' | 'decrypt'): string | Promise<never> {
    if (key.version !== KEY_VERSION) return Promise.reject(keyVersionNotFound(key, operation));
    try {
      return this.#labels.labelFor(key.keyId);
    } catch (e) {
      return rejectionOf(e);
    }
  }

  health(ctx: CallContext): Promise<EkmHealth[]> {
    return this.#fleet.health(ctx);
  }

  /** Token names come from the config (name, label or serial): known even if no token was ever reached. */
  fleetIdentity(): EkmIdentity[] {
    return this.#fleet.tokens.map((t) => ({ id: t.name, model: t.model }));
  }

  async close(): Promise<void> {
    await this.#fleet.close();
  }

  /** Session pool counters per token name (a token that never connected has none yet); always there, tests read them. */
  stats(): ProviderStats {
    return {
      pools: new Map(
        this.#fleet.tokens.flatMap((t): Array<[string, PoolStats]> => {
          const pool = t.poolStats();
          return pool === undefined ? [] : [[t.name, pool]];
        }),
      ),
    };
  }
}

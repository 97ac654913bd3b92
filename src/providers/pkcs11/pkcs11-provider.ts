import { isAbsolute, resolve } from 'node:path';
import { configMap } from '../../config-values/config-map.ts';
import { XksError } from '../../xks/errors.ts';
import {
  keyVersionNotFound,
  type CallContext,
  type EkmHealth,
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
import { pkcs11LibraryParameters, pkcs11TokenName, type Pkcs11ProviderConfig } from './pkcs11-config.ts';
import { Pkcs11Fleet } from './pkcs11-fleet.ts';
import { CKF_RW_SESSION, CKF_SERIAL_SESSION } from './pkcs11-constants.ts';
import { pkcs11GcmDecrypt, pkcs11GcmEncrypt } from './pkcs11-gcm.ts';
import type { Pkcs11KeyEntry } from './pkcs11-key-lookup.ts';
import { Pkcs11Token } from './pkcs11-token.ts';
import { loadPkcs11js } from './pkcs11js-api.ts';

/** The PKCS#11 provider: a KeyProvider whose stats are always there (tests read them). */
export interface Pkcs11KeyProvider extends KeyProvider {
  /** Session pool counters per token name (a token that never connected has none yet). */
  stats(): ProviderStats;
}

/** Keys in an HSM have no versions here: every ciphertext is made by version 0. */
const KEY_VERSION = 0;

function resolvePath(configDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(configDir, path);
}

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

/** Builds the PKCS#11 provider; `loader` is the seam unit tests use to pass a fake library. */
export function createPkcs11Provider(config: Pkcs11ProviderConfig, deps: ProviderDeps, loader: Pkcs11Loader = loadPkcs11js): Pkcs11KeyProvider {
  const logger = deps.logger; // build-tenants binds prefix and provider
  const tokens = config.tokens.map(
    (t, i) =>
      new Pkcs11Token({
        name: pkcs11TokenName(t),
        modulePath: resolvePath(deps.configDir, t.module ?? config.module),
        selector: { label: t.label, serial: t.serial },
        pin:
          config.login === 'none'
            ? undefined
            : {
                tokenName: pkcs11TokenName(t),
                pinRef: (t.pin ?? config.pin) as string,
                field: t.pin !== undefined ? `tokens.${i}.pin` : 'pin',
                configDir: deps.configDir,
                env: deps.env,
              },
        libraryParameters: pkcs11LibraryParameters(config, t),
        sessionFlags: CKF_SERIAL_SESSION | (config.readWriteSessions ? CKF_RW_SESSION : 0),
        poolSize: config.sessionsPerToken,
        keyCacheMs: config.keyCacheSeconds * 1000,
        retryMs: config.tokenRetrySeconds * 1000,
        ivSource: config.ivSource,
        canaryLabel: config.healthKeyLabel,
        loader,
        logger,
      }),
  );
  const fleet = new Pkcs11Fleet(tokens, config.healthKeyLabel, logger, config.attemptTimeoutMs);
  // A Map, not the parsed object: key ids come from requests, and `constructor` or
  // `toString` would find an inherited function there and hand it to pkcs11js (issue 15).
  const keyLabels = configMap(config.keyLabels);

  /** The CKA_LABEL an externalKeyId maps to (config keyLabels, else the id itself). */
  function labelFor(keyId: string): string {
    const mapped = keyLabels.get(keyId);
    if (mapped !== undefined) return mapped;
    if (config.unmappedKeys === 'mapped-only') throw new XksError('KeyNotFoundException', `Key ${keyId} is not mapped to an HSM key.`);
    // The canary is for health checks only (spec: use a dedicated key so logs show no phantom customer operations).
    if (keyId === config.healthKeyLabel) throw new XksError('KeyNotFoundException', `Key ${keyId} is reserved for health checks.`);
    return keyId;
  }

  return {
    kind: 'pkcs11',

    async init() {
      fleet.init();
    },

    async describe(keyId, ctx): Promise<KeyInfo> {
      const label = labelFor(keyId);
      // GetKeyMetadata runs before every encrypt and decrypt: answer from the cache when possible.
      for (const token of fleet.tokens) {
        const cached = token.isUp ? token.cachedKey(label) : undefined;
        if (cached !== undefined) return keyInfo(keyId, cached);
      }
      return fleet.run(ctx, { op: 'describe', label, run: async (session, token) => keyInfo(keyId, token.key(session, label)) });
    },

    async encrypt(key: KeyRef, plaintext: Uint8Array, aad: Uint8Array, ctx: CallContext): Promise<GcmOutput> {
      if (key.version !== KEY_VERSION) throw keyVersionNotFound(key, 'encrypt');
      const label = labelFor(key.keyId);
      return fleet.run(ctx, {
        op: 'encrypt',
        label,
        run: async (session, token) => {
          const entry = token.key(session, label);
          requireUsage(entry, 'ENCRYPT');
          const out = await pkcs11GcmEncrypt(token.api(), session, entry.handle, token.newIv(session), plaintext, aad);
          token.checkGeneratedIv(out.iv);
          return out;
        },
      });
    },

    async decrypt(key: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Promise<Uint8Array> {
      if (key.version !== KEY_VERSION) throw keyVersionNotFound(key, 'decrypt');
      const label = labelFor(key.keyId);
      return fleet.run(ctx, {
        op: 'decrypt',
        label,
        run: async (session, token) => {
          const entry = token.key(session, label);
          requireUsage(entry, 'DECRYPT');
          return pkcs11GcmDecrypt(token.api(), session, entry.handle, input, aad);
        },
      });
    },

    health(ctx): Promise<EkmHealth[]> {
      return fleet.health(ctx);
    },

    fleetIdentity() {
      // Token names come from the config (name, label or serial): known even if no token was ever reached.
      return tokens.map((t) => ({ id: t.name, model: t.model }));
    },

    async close() {
      await fleet.close();
    },

    stats() {
      return {
        pools: new Map(
          tokens.flatMap((t): Array<[string, PoolStats]> => {
            const pool = t.poolStats();
            return pool === undefined ? [] : [[t.name, pool]];
          }),
        ),
      };
    },
  };
}

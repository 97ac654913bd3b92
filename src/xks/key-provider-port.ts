/**
 * The KeyProvider seam: raw AES-256-GCM with keys that never leave the provider. Its
 * consumer owns it (LocalKeyStore, beside it here), so src/providers/ depends on src/xks/
 * and never the reverse (docs/architecture.md "Layers"). The spec's own rules (AAD
 * construction, ciphertextMetadata, CDIV, limits) live in the key-store layer
 * (src/xks/local-key-store.ts), not here.
 */
import { XksError } from './errors.ts';

/** A usage the XKS API reports for a key (spec GetKeyMetadata keyUsage). */
export type KeyUsage = 'ENCRYPT' | 'DECRYPT';

/** Health of one key manager instance (an HSM, a KMIP server, a keystore file). */
export type EkmHealthStatus = 'ACTIVE' | 'DEGRADED' | 'UNAVAILABLE';

/** One entry of GetHealthStatus `ekmFleetDetails`. */
export interface EkmHealth {
  id: string;
  model: string;
  healthStatus: EkmHealthStatus;
  /** Why the status is not ACTIVE; logged and shown in readiness, never sent to KMS. */
  detail?: string;
}

/**
 * Who one key manager instance is (ekmFleetDetails id and model), known from the config
 * alone: health reports these even when the provider could not start or the deep check
 * did not finish, so an operator sees the file, token or server that is down.
 */
export interface EkmIdentity {
  id: string;
  model: string;
}

/** What a provider knows about one key. */
export interface KeyInfo {
  keyId: string;
  /** Usages the key allows; an empty list means the key can do neither. */
  usages: readonly KeyUsage[];
  enabled: boolean;
  /** Version used for new encryptions; providers without versions report 0. */
  currentVersion: number;
}

/** One version of one key. */
export interface KeyRef {
  keyId: string;
  version: number;
}

/** AES-GCM output, tag split from the ciphertext (spec Encrypt response). */
export interface GcmOutput {
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/** AES-GCM input for decryption. */
export interface GcmInput {
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/** Counters of one pool of sessions or connections, as metrics and tests read them. */
export interface PoolStats {
  size: number;
  idle: number;
  busy: number;
  waiting: number;
  opened: number;
  discarded: number;
}

/**
 * What a provider reports about itself for metrics: its pools by instance name (token or
 * server), only those that exist yet. Part of the seam so nobody above it needs to know
 * which provider keeps pools.
 */
export interface ProviderStats {
  pools: ReadonlyMap<string, PoolStats>;
}

/** The stats of a provider that keeps no pools. */
export const NO_PROVIDER_STATS: ProviderStats = { pools: new Map() };

/**
 * Per-call context: the absolute deadline (epoch ms) within KMS's 250 ms budget, and a
 * signal aborted when the deadline passes. Providers that do I/O must honour both. Made
 * only by src/xks/call-context.ts (its signal is created when first read, so a provider
 * that needs only the deadline never reads it).
 */
export interface CallContext {
  deadline: number;
  signal: AbortSignal;
}

/**
 * The one answer to a KeyRef naming a version the key does not have; every provider raises
 * this rather than an error of its own. The key itself exists (describe found it), so:
 * - decrypt: the version came from the request's ciphertextMetadata, which was altered or
 *   not made with this key: the spec's Decrypt error for a ciphertext that cannot be
 *   decrypted, InvalidCiphertextException (never KeyNotFoundException, which would tell
 *   KMS the key is gone).
 * - encrypt: the key store only asks for the version describe just reported, so a missing
 *   one means the key manager changed under the proxy (a store restored from an older
 *   copy): not the caller's fault, InternalException.
 */
export function keyVersionNotFound(key: KeyRef, operation: 'encrypt' | 'decrypt'): XksError {
  if (operation === 'decrypt') {
    return new XksError(
      'InvalidCiphertextException',
      `The ciphertextMetadata names version ${key.version} of key ${key.keyId}, which does not exist: the ciphertext was altered or not made with this key.`,
    );
  }
  return new XksError('InternalException', `The key manager has no version ${key.version} of key ${key.keyId}, which it reported a moment ago.`);
}

/**
 * A key manager. Errors: throw XksError with the spec's name (KeyNotFoundException,
 * InvalidCiphertextException, InvalidKeyUsageException, InvalidStateException,
 * DependencyTimeoutException, InternalException); anything else becomes InternalException.
 * A KeyRef whose version the key does not have gets `keyVersionNotFound` (the same error
 * from every provider, checked by the contract suite).
 */
export interface KeyProvider {
  /** Short provider kind for logs and health, e.g. "software", "pkcs11". */
  readonly kind: string;
  /**
   * True when no call waits on another process, a device or the network (the software
   * keystore: CPU and, at most once a second, a local file). The guard then skips the
   * per-call deadline timer, which costs measurable throughput at thousands of calls/s.
   */
  readonly callsStayInProcess?: boolean;
  /**
   * True when the provider itself ends every call at its CallContext deadline (the PKCS#11
   * fleet watches each token attempt, and a session wait, against it). The guard then skips
   * its own deadline timer as for `callsStayInProcess`: a second timer per call for the
   * same deadline, three per Encrypt with a CDIV.
   */
  readonly enforcesDeadline?: boolean;
  /** Connects, opens sessions, loads files. Called once before the first call (and again after a failed init). */
  init(): Promise<void>;
  /** Looks up a key; throws KeyNotFoundException when there is none. */
  describe(keyId: string, ctx: CallContext): Promise<KeyInfo>;
  /** AES-256-GCM encrypt with a fresh 12-byte IV and the given (already built) AAD; a version the key does not have: `keyVersionNotFound`. */
  encrypt(key: KeyRef, plaintext: Uint8Array, aad: Uint8Array, ctx: CallContext): Promise<GcmOutput>;
  /**
   * AES-256-GCM decrypt; a tag/AAD/IV mismatch throws InvalidCiphertextException, and so
   * does a version the key does not have (`keyVersionNotFound`).
   */
  decrypt(key: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Promise<Uint8Array>;
  /**
   * Optional, for a provider whose keys can be in this process's memory: describe, encrypt
   * and decrypt answered at once when they can be (the key in memory), else undefined, and
   * the caller makes the asynchronous call instead. Each throws what its asynchronous call
   * would reject with. The key store tries these first: an answer here costs no promise,
   * await or microtask turn, of which the asynchronous calls make three each per request
   * (docs/performance.md, "Promises per request").
   */
  describeNow?(keyId: string, ctx: CallContext): KeyInfo | undefined;
  encryptNow?(key: KeyRef, plaintext: Uint8Array, aad: Uint8Array, ctx: CallContext): GcmOutput | undefined;
  decryptNow?(key: KeyRef, input: GcmInput, aad: Uint8Array, ctx: CallContext): Uint8Array | undefined;
  /**
   * The instances health reports, from the config (file name, token name, server id), with
   * no I/O and whether or not init succeeded. Optional: without it, the provider kind is used.
   */
  fleetIdentity?(): EkmIdentity[];
  /** Deep health: a canary encrypt+decrypt with a health-only key, one entry per instance. */
  health(ctx: CallContext): Promise<EkmHealth[]>;
  /**
   * Optional: `listener` is called whenever the provider itself learns that its health
   * changed (the software keystore starts or stops serving stale keys), so a cached
   * health result is re-checked at once instead of after health.cacheSeconds.
   */
  onHealthChange?(listener: () => void): void;
  /** Current counters (no I/O, never throws); optional: without it, the provider has no pools. */
  stats?(): ProviderStats;
  /** Releases sessions, connections and key material. */
  close(): Promise<void>;
  /**
   * Live proxies sharing this provider's key store, when the store knows (the software
   * keystore on PostgreSQL counts heartbeats); undefined otherwise. Feeds xksProxyFleetSize.
   */
  liveFleetSize?(): number | undefined;
}

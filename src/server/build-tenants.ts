import type { Logger } from 'pino';
import { CredentialSet, type CredentialInput } from '../auth/credential-set.ts';
import { secretRefsDigest } from '../config-values/secret-digest.ts';
import { resolveSecretRef } from '../config-values/secret-ref.ts';
import type { KeyStoreConfig, ProxyConfig } from '../config/schema.ts';
import { GuardedProvider } from '../providers/guarded-provider.ts';
import type { KeyProvider } from '../xks/key-provider-port.ts';
import { createProvider } from '../providers/registry.ts';
import { createUpstreamKeyStore } from '../providers/upstream/upstream-factory.ts';
import type { KeyStore } from '../xks/key-store.ts';
import { LocalKeyStore } from '../xks/local-key-store.ts';
import { PROXY_MODEL } from './version.ts';
import type { Tenant } from '../xks/tenants.ts';

/** Human-readable vendor of each provider's key manager, for GetHealthStatus ekmVendor. */
const EKM_VENDOR: ReadonlyMap<string, string> = new Map([
  ['software', 'xks-proxy software keystore'],
  ['pkcs11', 'PKCS#11 HSM'],
  ['kmip', 'KMIP key manager'],
  ['upstream', 'Upstream XKS proxy'],
]);

/** Resolves one key store's credentials: secret references are read now. */
export function resolveCredentials(ks: KeyStoreConfig, env: NodeJS.ProcessEnv, configDir: string): CredentialInput[] {
  return ks.credentials.map((cred, i) => ({
    accessKeyId: cred.accessKeyId,
    secret: resolveSecretRef(cred.secretAccessKey, `keyStores[prefix=${ks.prefix}].credentials.${i}.secretAccessKey`, env, configDir),
  }));
}

/**
 * A digest of the current values of the secrets a key store's provider references
 * (passphrase, KEK, PIN, upstream secret). Throws, naming the field, when one cannot be read.
 */
export function providerSecretsDigest(ks: KeyStoreConfig, env: NodeJS.ProcessEnv, configDir: string): string {
  return secretRefsDigest(ks.provider, env, configDir, `keyStores[prefix=${ks.prefix}].provider`);
}

/** The digest each key store was built with (absent when a secret could not be read then). */
const builtWithSecrets = new WeakMap<KeyStore, string>();

/** The provider secrets digest `keyStore` was built with, if they could all be read. */
export function providerSecretsOf(keyStore: KeyStore): string | undefined {
  return builtWithSecrets.get(keyStore);
}

/** Resolves one key store's credentials (secret references read now). */
export function buildCredentialSet(ks: KeyStoreConfig, env: NodeJS.ProcessEnv, configDir: string): CredentialSet {
  return new CredentialSet(resolveCredentials(ks, env, configDir));
}

/** What building key stores needs besides the config. */
export interface BuildTenantsOptions {
  logger: Logger;
  configDir: string;
  env: NodeJS.ProcessEnv;
  /** Built by a check (config check, doctor), not to serve; see ProviderDeps.checkOnly. */
  checkOnly?: boolean;
}

/** Builds the key store (provider included) of one key store config. */
export function buildKeyStore(ks: KeyStoreConfig, config: ProxyConfig, opts: BuildTenantsOptions): KeyStore {
  const keyStore = buildKeyStoreOnly(ks, config, opts);
  // An unreadable secret at build time: the provider reports it (UNAVAILABLE) and any
  // reload rebuilds it, since no digest can match.
  try {
    builtWithSecrets.set(keyStore, providerSecretsDigest(ks, opts.env, opts.configDir));
  } catch {
    // left without a digest on purpose
  }
  return keyStore;
}

function buildKeyStoreOnly(ks: KeyStoreConfig, config: ProxyConfig, opts: BuildTenantsOptions): KeyStore {
  const logger = opts.logger.child({ prefix: ks.prefix, provider: ks.provider.type });
  const deps = { logger, configDir: opts.configDir, env: opts.env, checkOnly: opts.checkOnly };
  const fixedFleetSize = config.health.fleetSize ?? config.health.fleetSizeFloor;
  const health = { healthCacheMs: config.health.cacheSeconds * 1000, fleetSize: fixedFleetSize, proxyModel: PROXY_MODEL };
  // An upstream XKS proxy applies the spec's AAD, metadata and CDIV rules itself, so it
  // replaces the whole key store; every other provider sits behind LocalKeyStore.
  if (ks.provider.type === 'upstream') return createUpstreamKeyStore(ks.provider, { prefix: ks.prefix, ...deps, ...health });
  return localKeyStore(ks, config, createProvider(ks.provider, deps), opts);
}

/** The LocalKeyStore of one key store config around a provider already made (guarded here). */
export function localKeyStore(ks: KeyStoreConfig, config: ProxyConfig, provider: KeyProvider, opts: BuildTenantsOptions): LocalKeyStore {
  const logger = opts.logger.child({ prefix: ks.prefix, provider: ks.provider.type });
  return new LocalKeyStore(new GuardedProvider(provider, logger), {
    prefix: ks.prefix,
    foreignCiphertextAad: ks.foreignCiphertextAad,
    healthCacheMs: config.health.cacheSeconds * 1000,
    proxyModel: PROXY_MODEL,
    // An override wins; otherwise the live count from the store's heartbeats, never below the floor.
    fleetSize:
      config.health.fleetSize !== undefined || provider.liveFleetSize === undefined
        ? (config.health.fleetSize ?? config.health.fleetSizeFloor)
        : () => Math.max(config.health.fleetSizeFloor, provider.liveFleetSize?.() ?? 1),
    ekmVendor: EKM_VENDOR.get(ks.provider.type) ?? ks.provider.type,
    logger,
  });
}

/** Builds every tenant (key store + credentials) a config describes. */
export function buildTenants(config: ProxyConfig, opts: BuildTenantsOptions): Tenant[] {
  return config.keyStores.map((ks) => ({
    prefix: ks.prefix,
    region: ks.region,
    credentials: buildCredentialSet(ks, opts.env, opts.configDir),
    keyStore: buildKeyStore(ks, config, opts),
  }));
}

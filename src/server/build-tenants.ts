import type { Logger } from 'pino';
import { CredentialSet } from '../auth/credential-set.ts';
import { resolveSecretRef } from '../config/secret-ref.ts';
import type { KeyStoreConfig, ProxyConfig } from '../config/schema.ts';
import { GuardedProvider } from '../providers/guarded-provider.ts';
import { createProvider } from '../providers/registry.ts';
import { LocalKeyStore } from '../xks/local-key-store.ts';
import { PROXY_MODEL } from './version.ts';
import type { Tenant } from './tenants.ts';

/** Human-readable vendor of each provider's key manager, for GetHealthStatus ekmVendor. */
const EKM_VENDOR: Record<string, string> = {
  software: 'xks-proxy software keystore',
  pkcs11: 'PKCS#11 HSM',
  kmip: 'KMIP key manager',
  upstream: 'Upstream XKS proxy',
};

/** Resolves one key store's credentials (secret references read now). */
export function buildCredentialSet(ks: KeyStoreConfig, env: NodeJS.ProcessEnv, configDir: string): CredentialSet {
  return new CredentialSet(
    ks.credentials.map((cred, i) => ({
      accessKeyId: cred.accessKeyId,
      secret: resolveSecretRef(cred.secretAccessKey, `keyStores[prefix=${ks.prefix}].credentials.${i}.secretAccessKey`, env, configDir),
    })),
  );
}

/** Builds every tenant (key store + credentials) a config describes. */
export function buildTenants(config: ProxyConfig, opts: { logger: Logger; configDir: string; env: NodeJS.ProcessEnv }): Tenant[] {
  return config.keyStores.map((ks) => {
    const logger = opts.logger.child({ prefix: ks.prefix, provider: ks.provider.type });
    const provider = new GuardedProvider(createProvider(ks.provider, { logger, configDir: opts.configDir, env: opts.env }), logger);
    const keyStore = new LocalKeyStore(provider, {
      prefix: ks.prefix,
      foreignCiphertextAad: ks.foreignCiphertextAad,
      healthCacheMs: config.health.cacheSeconds * 1000,
      fleetSize: config.health.fleetSize,
      proxyModel: PROXY_MODEL,
      ekmVendor: EKM_VENDOR[ks.provider.type] ?? ks.provider.type,
      logger,
    });
    return { prefix: ks.prefix, region: ks.region, credentials: buildCredentialSet(ks, opts.env, opts.configDir), keyStore };
  });
}

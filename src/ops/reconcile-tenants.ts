import type { Logger } from 'pino';
import { CredentialSet, type CredentialInput } from '../auth/credential-set.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import type { KeyStoreConfig, ProxyConfig } from '../config/schema.ts';
import type { Tenant, TenantDirectory } from '../xks/tenants.ts';
import type { KeyStore } from '../xks/key-store.ts';
import { rebuildReasons, type CredentialChange } from './reload-changes.ts';

/** What a reload changed, by prefix. */
export interface TenantChanges {
  added: string[];
  removed: string[];
  /** Key stores whose provider, the secrets it references, or health settings changed: built anew. */
  rebuilt: string[];
  /** Key stores kept as they were (credentials, region, limits and policy still re-read). */
  kept: string[];
  /** Why each rebuilt key store was rebuilt, by prefix. */
  rebuiltBecause: Record<string, string[]>;
  /** Credential changes of key stores that existed before, by access key id. */
  credentials: CredentialChange[];
}

/** How reconciliation builds and prepares things; start-proxy supplies these. */
export interface ReconcileDeps {
  resolveCredentials: (ks: KeyStoreConfig, env: NodeJS.ProcessEnv, configDir: string) => CredentialInput[];
  buildKeyStore: (ks: KeyStoreConfig, config: ProxyConfig) => KeyStore;
  /** Adds admission (per-prefix limit) and authorization (policy) to a tenant. */
  decorate: (tenant: Tenant, ks: KeyStoreConfig) => Tenant;
  /**
   * Digest of the current values of the secrets a key store's provider references;
   * throws (the reload is then rejected) when one cannot be read.
   */
  providerSecretsDigest: (ks: KeyStoreConfig, env: NodeJS.ProcessEnv, configDir: string) => string;
  /** The digest a running key store was built with (undefined: a secret was unreadable then). */
  providerSecretsOf: (keyStore: KeyStore) => string | undefined;
  /** Initialises new key stores before they serve (like start-up). */
  warmUp: (tenants: Tenant[]) => Promise<void>;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/**
 * A key store can keep its provider (open sessions, loaded keys, health cache) when
 * nothing that shaped it changed. Keys added to the key manager itself need no rebuild:
 * providers look keys up per call (the software keystore re-reads its file).
 */
function sameKeyStore(a: KeyStoreConfig, b: KeyStoreConfig, ac: ProxyConfig, bc: ProxyConfig): boolean {
  return (
    JSON.stringify(a.provider) === JSON.stringify(b.provider) &&
    a.foreignCiphertextAad === b.foreignCiphertextAad &&
    JSON.stringify(ac.health) === JSON.stringify(bc.health)
  );
}

/**
 * Moves the directory from the current config to the next one without dropping a
 * request. Everything that can fail (reading secrets, duplicate credentials, building a
 * provider) happens before anything changes, so a bad config leaves the old tenants
 * serving untouched. Then credential sets are replaced and the directory swapped in one
 * synchronous step. Returns the key stores that no longer serve: close them once the
 * requests in flight now have ended.
 */
export async function reconcileTenants(
  directory: TenantDirectory,
  current: ProxyConfig,
  next: LoadedConfig,
  deps: ReconcileDeps,
): Promise<{ changes: TenantChanges; retired: KeyStore[] }> {
  // Null prototype: keys are prefixes from the config.
  const changes: TenantChanges = {
    added: [],
    removed: [],
    rebuilt: [],
    kept: [],
    rebuiltBecause: Object.create(null) as Record<string, string[]>,
    credentials: [],
  };
  const plans: Array<{ ks: KeyStoreConfig; entries: CredentialInput[]; fresh: CredentialSet; reuse: Tenant | undefined }> = [];
  for (const ks of next.config.keyStores) {
    const entries = deps.resolveCredentials(ks, deps.env, next.configDir);
    // Validates (duplicates, empty secrets) now, before any swap.
    const fresh = new CredentialSet(entries);
    // Every secret the provider references is read again: the same config text may now
    // name a different passphrase, KEK or PIN (a wrong secret file fixed, a rotation).
    const secrets = deps.providerSecretsDigest(ks, deps.env, next.configDir);
    const old = directory.get(ks.prefix);
    const oldConfig = current.keyStores.find((k) => k.prefix === ks.prefix);
    const reuse =
      old !== undefined && oldConfig !== undefined && sameKeyStore(oldConfig, ks, current, next.config) && deps.providerSecretsOf(old.keyStore) === secrets
        ? old
        : undefined;
    if (old !== undefined) {
      const diff = old.credentials.diff(entries);
      if (diff.added.length + diff.removed.length + diff.secretReplaced.length > 0) changes.credentials.push({ prefix: ks.prefix, ...diff });
      if (reuse === undefined && oldConfig !== undefined) {
        const reasons = rebuildReasons(oldConfig, ks, current, next.config);
        if (deps.providerSecretsOf(old.keyStore) !== secrets) reasons.push('provider secret (passphrase, KEK or PIN)');
        changes.rebuiltBecause[ks.prefix] = reasons;
      }
    }
    plans.push({ ks, entries, fresh, reuse });
  }

  const created: Tenant[] = [];
  try {
    for (const p of plans) {
      if (p.reuse !== undefined) continue;
      created.push({ prefix: p.ks.prefix, region: p.ks.region, credentials: p.fresh, keyStore: deps.buildKeyStore(p.ks, next.config) });
    }
  } catch (e) {
    await Promise.allSettled(created.map((t) => t.keyStore.close()));
    throw e;
  }
  await deps.warmUp(created);

  // From here on nothing awaits: the swap is atomic for every request.
  const tenants: Tenant[] = [];
  for (const p of plans) {
    if (p.reuse !== undefined) {
      p.reuse.credentials.replace(p.entries);
      tenants.push(deps.decorate({ prefix: p.ks.prefix, region: p.ks.region, credentials: p.reuse.credentials, keyStore: p.reuse.keyStore }, p.ks));
      changes.kept.push(p.ks.prefix);
    } else {
      const t = created.find((c) => c.prefix === p.ks.prefix)!;
      tenants.push(deps.decorate(t, p.ks));
      (directory.get(p.ks.prefix) === undefined ? changes.added : changes.rebuilt).push(p.ks.prefix);
    }
  }
  const kept = new Set(plans.flatMap((p) => (p.reuse === undefined ? [] : [p.reuse.keyStore])));
  const retired = directory.all().filter((t) => !kept.has(t.keyStore));
  changes.removed = retired.filter((t) => !plans.some((p) => p.ks.prefix === t.prefix)).map((t) => t.prefix);
  directory.replace(tenants);
  return { changes, retired: retired.map((t) => t.keyStore) };
}

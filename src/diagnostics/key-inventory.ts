import type { KeyStoreConfig } from '../config/schema.ts';
import { openKeystoreBackend, type KeystoreBackend } from '../providers/software/keystore-backend.ts';
import { keystoreLocationOf } from '../providers/software/keystore-location.ts';

/** Key ids the doctor checks for one key store, and where they came from. */
export interface KeyInventory {
  keyIds: string[];
  /** Sentence for the report, e.g. `listed in keystore file x.json`. */
  source: string;
  /** True when the operator named the keys (--key): they are meant for KMS, so a key KMS would refuse is a failure. */
  named?: boolean;
}

/**
 * Key ids given on the command line: `ID` applies to every key store, `PREFIX=ID` to one
 * (an externalKeyId cannot contain `=`, spec "externalKeyId").
 */
export function keysForPrefix(requested: readonly string[], prefix: string): string[] {
  const ids: string[] = [];
  for (const entry of requested) {
    const eq = entry.lastIndexOf('=');
    if (eq === -1) ids.push(entry);
    else if (entry.slice(0, eq).replace(/^\/+|\/+$/g, '') === prefix) ids.push(entry.slice(eq + 1));
  }
  return ids;
}

/**
 * The keys of one key store the doctor can know without being told: every key of a
 * software keystore file, and the ids mapped in a PKCS#11 provider's keyLabels. Providers
 * that cannot list keys (KMIP) rely on --key. Reading the file may fail; the provider
 * health check reports why, so this returns no keys then.
 */
export async function knownKeys(ks: KeyStoreConfig, requested: readonly string[], opts: { configDir: string; env: NodeJS.ProcessEnv }): Promise<KeyInventory> {
  const given = keysForPrefix(requested, ks.prefix);
  if (given.length > 0) return { keyIds: [...new Set(given)], source: 'given with --key', named: true };
  const provider = ks.provider as { type: string; keyLabels?: Record<string, string> };
  if (ks.provider.type === 'software') {
    let where = 'the keystore';
    let backend: KeystoreBackend | undefined;
    try {
      backend = await openKeystoreBackend(keystoreLocationOf(ks.provider, opts.configDir, opts.env));
      where = ks.provider.path !== undefined ? `keystore file ${backend.where}` : backend.where;
      const summaries = await backend.listKeys();
      return { keyIds: summaries.map((s) => s.keyId), source: `listed in ${where}` };
    } catch {
      return { keyIds: [], source: `${where} could not be read` };
    } finally {
      await backend?.close();
    }
  }
  if (provider.keyLabels !== undefined && Object.keys(provider.keyLabels).length > 0) {
    return { keyIds: Object.keys(provider.keyLabels), source: 'mapped in provider.keyLabels' };
  }
  return { keyIds: [], source: 'this provider cannot list its keys' };
}

import { resolve } from 'node:path';
import type { KeystoreLocation } from './keystore-backend.ts';
import { pgConnection } from './pg/pg-connection.ts';
import type { SoftwareProviderConfig } from './software-config.ts';
import { resolveKeystoreSecret } from './software-secret.ts';

/**
 * Where a software provider config keeps its keys, with the secret and (for PostgreSQL)
 * the connection resolved now. `field` names the provider in error messages.
 */
export function keystoreLocationOf(provider: SoftwareProviderConfig, configDir: string, env: NodeJS.ProcessEnv, field = 'provider'): KeystoreLocation {
  const secret = resolveKeystoreSecret(provider, configDir, env, field);
  const postgres = provider.store?.postgres;
  if (postgres !== undefined) {
    return { kind: 'postgres', connection: pgConnection(postgres, configDir, env, `${field}.store.postgres`), schema: postgres.schema, secret };
  }
  return { kind: 'file', path: resolve(configDir, provider.path!), secret };
}

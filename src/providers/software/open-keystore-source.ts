import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ProviderDeps } from '../provider-deps.ts';
import { FileKeystoreSource } from './file-keystore-source.ts';
import { PgKeystoreSource, type PgSourceOptions } from './pg/pg-keystore-source.ts';
import type { KeystoreSource } from './keystore-source.ts';
import type { SoftwareProviderConfig } from './software-config.ts';
import { SoftwareKeystoreFile } from './software-keystore-file.ts';
import { resolveKeystoreSecret } from './software-secret.ts';

/**
 * The KeystoreSource a software provider config names: the keystore file, or the
 * PostgreSQL store a fleet shares (docs/fleet.md), behind the same served key set.
 * Throws (naming the reference, never the secret) when the secret cannot be read.
 */
export function openKeystoreSource(config: SoftwareProviderConfig, deps: ProviderDeps, logger: Logger, pg: PgSourceOptions = {}): KeystoreSource {
  if (config.store?.postgres !== undefined) return new PgKeystoreSource(config, deps, logger, pg);
  const secret = resolveKeystoreSecret(config, deps.configDir, deps.env);
  const file = new SoftwareKeystoreFile(resolve(deps.configDir, config.path!), secret, { maxScryptN: config.maxScryptN });
  return new FileKeystoreSource(file, logger);
}

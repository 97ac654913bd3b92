import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ProviderDeps } from '../provider-deps.ts';
import { FileKeystoreSource } from './file-keystore-source.ts';
import type { KeystoreSource } from './keystore-source.ts';
import type { SoftwareProviderConfig } from './software-config.ts';
import { SoftwareKeystoreFile } from './software-keystore-file.ts';
import { resolveKeystoreSecret } from './software-secret.ts';

/**
 * The KeystoreSource a software provider config names: today always the keystore file.
 * The one place to add another store (a database) behind the same served key set.
 * Throws (naming the reference, never the secret) when the secret cannot be read.
 */
export function openKeystoreSource(config: SoftwareProviderConfig, deps: ProviderDeps, logger: Logger): KeystoreSource {
  const secret = resolveKeystoreSecret(config, deps.configDir, deps.env);
  const file = new SoftwareKeystoreFile(resolve(deps.configDir, config.path!), secret, { maxScryptN: config.maxScryptN });
  return new FileKeystoreSource(file, logger);
}

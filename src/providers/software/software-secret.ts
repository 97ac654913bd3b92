import { isAbsolute, resolve } from 'node:path';
import { resolveSecretRef } from '../../config-values/secret-ref.ts';
import type { SoftwareProviderConfig } from './software-config.ts';
import type { KeystoreSecret } from './software-keystore-kek.ts';

/**
 * Resolves the keystore secret named by a software provider config. A relative
 * `file:PATH` reference is taken relative to the config file's directory, like `path`.
 */
export function resolveKeystoreSecret(
  config: Pick<SoftwareProviderConfig, 'passphrase' | 'kek'>,
  configDir: string,
  env: NodeJS.ProcessEnv,
  fieldPrefix = 'provider',
): KeystoreSecret {
  const anchor = (ref: string) => {
    if (!ref.startsWith('file:')) return ref;
    const path = ref.slice('file:'.length);
    return isAbsolute(path) ? ref : `file:${resolve(configDir, path)}`;
  };
  if (config.passphrase !== undefined) return { passphrase: resolveSecretRef(anchor(config.passphrase), `${fieldPrefix}.passphrase`, env) };
  if (config.kek !== undefined) return { kek: resolveSecretRef(anchor(config.kek), `${fieldPrefix}.kek`, env) };
  throw new Error(`${fieldPrefix}: set exactly one of passphrase or kek`);
}

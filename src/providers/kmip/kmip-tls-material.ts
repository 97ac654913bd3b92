import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { resolveSecretRef } from '../../config-values/secret-ref.ts';
import type { KmipTlsMaterial } from './kmip-connection.ts';
import type { KmipProviderConfig } from './kmip-config.ts';

async function readPem(configDir: string, path: string, field: string): Promise<Buffer> {
  const full = resolve(configDir, path);
  try {
    return await readFile(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`kmip tls.${field}: cannot read ${full} (${code})`);
  }
}

/**
 * Loads the client certificate, key and CA of the KMIP provider's mutual TLS; relative
 * paths resolve against the config file's directory. Errors name the file, never its content.
 */
export async function loadKmipTlsMaterial(tls: KmipProviderConfig['tls'], configDir: string, env: NodeJS.ProcessEnv): Promise<KmipTlsMaterial> {
  const [ca, cert, key] = await Promise.all([readPem(configDir, tls.ca, 'ca'), readPem(configDir, tls.cert, 'cert'), readPem(configDir, tls.key, 'key')]);
  const passphrase = tls.keyPassphrase === undefined ? undefined : resolveSecretRef(tls.keyPassphrase, 'kmip tls.keyPassphrase', env);
  return { ca, cert, key, passphrase, minVersion: tls.minVersion };
}

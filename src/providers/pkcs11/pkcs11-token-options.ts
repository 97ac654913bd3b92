import { isAbsolute, resolve } from 'node:path';
import type { ProviderDeps } from '../provider-deps.ts';
import type { Pkcs11Loader } from './pkcs11-api.ts';
import { pkcs11LibraryParameters, pkcs11TokenName, type Pkcs11ProviderConfig } from './pkcs11-config.ts';
import { CKF_RW_SESSION, CKF_SERIAL_SESSION } from './pkcs11-constants.ts';
import type { Pkcs11TokenOptions } from './pkcs11-token.ts';

/**
 * What each configured token needs, from the provider config: a token's own `module`,
 * `pin` and `libraryParameters` win over the provider-wide ones. No I/O: the PIN is a
 * reference read when the token logs in, the library is loaded when it connects.
 */
export function pkcs11TokenOptions(config: Pkcs11ProviderConfig, deps: ProviderDeps, loader: Pkcs11Loader): Pkcs11TokenOptions[] {
  return config.tokens.map((t, i) => ({
    name: pkcs11TokenName(t),
    modulePath: resolvePath(deps.configDir, t.module ?? config.module),
    selector: { label: t.label, serial: t.serial },
    pin:
      config.login === 'none'
        ? undefined
        : {
            tokenName: pkcs11TokenName(t),
            pinRef: (t.pin ?? config.pin) as string,
            field: t.pin !== undefined ? `tokens.${i}.pin` : 'pin',
            configDir: deps.configDir,
            env: deps.env,
          },
    libraryParameters: pkcs11LibraryParameters(config, t),
    sessionFlags: CKF_SERIAL_SESSION | (config.readWriteSessions ? CKF_RW_SESSION : 0),
    poolSize: config.sessionsPerToken,
    keyCacheMs: config.keyCacheSeconds * 1000,
    retryMs: config.tokenRetrySeconds * 1000,
    ivSource: config.ivSource,
    canaryLabel: config.healthKeyLabel,
    loader,
    logger: deps.logger, // build-tenants binds prefix and provider
  }));
}

function resolvePath(configDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(configDir, path);
}

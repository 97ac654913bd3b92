/**
 * The proxy with a PKCS#11 key store, for the softhsm target while `pkcs11` is not yet a
 * provider type of the config schema and registry. It is assembled from the same parts
 * as startProxy (config defaults, logger, GuardedProvider, LocalKeyStore, app, listener)
 * and prints the same "xks-proxy listening" line; once the registry knows `pkcs11`, the
 * benchmark runs the real `xks-proxy serve` instead and this file is not used.
 * Run: node --import tsx bench/servers/pkcs11-proxy-server.ts <config.yaml>
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../src/config/load-config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { GuardedProvider } from '../../src/providers/guarded-provider.ts';
import { pkcs11ProviderConfigSchema } from '../../src/providers/pkcs11/pkcs11-config.ts';
import { createPkcs11Provider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { createApp } from '../../src/server/app.ts';
import { buildCredentialSet } from '../../src/server/build-tenants.ts';
import { startListener } from '../../src/server/listener.ts';
import { TenantDirectory } from '../../src/server/tenants.ts';
import { PROXY_MODEL } from '../../src/server/version.ts';
import { LocalKeyStore } from '../../src/xks/local-key-store.ts';

const file = resolve(process.argv[2] ?? 'softhsm.yaml');
const configDir = dirname(file);
const raw = parseYaml(await readFile(file, 'utf8')) as { keyStores: { provider: unknown }[] };
const pkcs11 = pkcs11ProviderConfigSchema.parse(raw.keyStores[0]!.provider);
// Validate everything else with the real schema (and get its defaults).
raw.keyStores[0]!.provider = { type: 'software', path: 'unused', kek: 'unused' };
const config = parseConfig(raw, file);
const ks = config.keyStores[0]!;

const logger = createLogger(config.logging);
const tenantLogger = logger.child({ prefix: ks.prefix, provider: 'pkcs11' });
const provider = new GuardedProvider(createPkcs11Provider(pkcs11, { logger: tenantLogger, configDir, env: process.env }), tenantLogger);
const keyStore = new LocalKeyStore(provider, {
  prefix: ks.prefix,
  foreignCiphertextAad: ks.foreignCiphertextAad,
  healthCacheMs: config.health.cacheSeconds * 1000,
  fleetSize: config.health.fleetSize,
  proxyModel: PROXY_MODEL,
  ekmVendor: 'PKCS#11 HSM',
  logger: tenantLogger,
});
const tenants = new TenantDirectory([{ prefix: ks.prefix, region: ks.region, credentials: buildCredentialSet(ks, process.env, configDir), keyStore }]);
const app = createApp({ tenants, logger, bodyLimitBytes: config.server.bodyLimitBytes, requestTimeoutMs: config.server.requestTimeoutMs });
const listener = await startListener(app, config.server, { logger, configDir });
logger.info({ url: `http://127.0.0.1:${listener.address.port}` }, 'xks-proxy listening');
process.once('SIGTERM', () => {
  void listener
    .close()
    .then(() => keyStore.close())
    .then(() => process.exit(0));
});

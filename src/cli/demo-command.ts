import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfigFile, type LoadedConfig } from '../config/load-config.ts';
import type { ProviderConfig } from '../providers/provider-config.ts';
import { startKmipDemo } from '../providers/kmip/kmip-demo-setup.ts';
import { ensureNssDemoDatabase, ensurePkcs11DemoToken } from '../providers/pkcs11/pkcs11-demo-setup.ts';
import { ensureDemoKeystore } from '../providers/software/software-demo-setup.ts';
import { startPgDemo } from '../providers/software/pg/pg-demo-setup.ts';
import { startProxy } from '../composition/start-proxy.ts';
import { packagePath } from '../package-root.ts';
import { cliAction, parsePort } from './cli-action.ts';
import { stopWhenNpmParentExits } from './parent-watch.ts';

/** The committed demo config (software keystore, public test-client credentials). */
export const DEMO_CONFIG_PATH = packagePath('config', 'demo.yaml');
/** Default home of demo state (keystore, tokens, certificates): the repository's data/. */
const DEFAULT_DATA_DIR = packagePath('data');

/** Printed before the demo serves: the credentials are public and must never guard real keys. */
export const DEMO_WARNING = [
  '',
  '*****************************************************************************',
  '*  DEMO MODE: the SigV4 credentials below are PUBLIC (the AWS XKS test        *',
  '*  client defaults) and the demo secrets are in config/demo.yaml.             *',
  '*  Use this only to try the proxy. Never put real keys behind it.             *',
  '*    URI path:      /example/uri/path/prefix/kms/xks/v1                       *',
  '*    access key id: BETWEEN2TENAND3TENCHARACTERS                              *',
  '*    secret:        PleaseReplaceThisWithSomeSecretOfLength43To64             *',
  '*****************************************************************************',
  '',
].join('\n');

/** Which key manager a demo runs on; `postgres` is the software keystore in a local PostgreSQL (the fleet's store). */
export type DemoProvider = 'software' | 'softhsm' | 'nss' | 'kmip' | 'postgres';

/** A demo key manager made ready: the provider config to serve with, and how to stop it. */
interface PreparedDemo {
  provider: ProviderConfig;
  stop: () => Promise<void>;
}

/** Creates the demo keystore file when missing (keys foo, encrypt_only_key, decrypt_only_key, impotent_key). */
async function prepareSoftware(loaded: LoadedConfig, dataDir: string): Promise<PreparedDemo> {
  const provider = loaded.config.keyStores[0]!.provider;
  if (provider.type !== 'software' || provider.passphrase === undefined) throw new Error('config/demo.yaml must use a software keystore with a passphrase');
  const path = resolve(dataDir, 'demo', 'keystore.json');
  await ensureDemoKeystore(path, { passphrase: provider.passphrase });
  return { provider: { ...provider, path }, stop: async () => undefined };
}

/**
 * Starts (creating on first run) a loopback PostgreSQL cluster in dataDir/fleet with the
 * demo keys, sealed under the demo passphrase.
 */
async function preparePostgres(loaded: LoadedConfig, dataDir: string, throwaway: boolean): Promise<PreparedDemo> {
  const provider = loaded.config.keyStores[0]!.provider;
  if (provider.type !== 'software' || provider.passphrase === undefined) throw new Error('config/demo.yaml must use a software keystore with a passphrase');
  const demo = await startPgDemo(resolve(dataDir, 'fleet'), { passphrase: provider.passphrase }, { throwaway });
  return { provider: { type: 'software', passphrase: provider.passphrase, store: { postgres: demo.store } }, stop: () => demo.stop() };
}

/** Starts a local PyKMIP server (certificates and keys made on first run) in dataDir/kmip. */
async function prepareKmip(dataDir: string): Promise<PreparedDemo> {
  const demo = await startKmipDemo(resolve(dataDir, 'kmip'));
  return { provider: demo.providerConfig, stop: () => demo.stop() };
}

/**
 * Creates a private SoftHSM2 token in dataDir/softhsm on first run, with the demo keys and
 * a health canary generated inside the token (sensitive, non-extractable).
 */
async function prepareSoftHsm(dataDir: string): Promise<PreparedDemo> {
  const token = await ensurePkcs11DemoToken(dataDir);
  return { provider: token.providerConfig, stop: async () => undefined };
}

/**
 * Creates an NSS database in dataDir/nss on first run (NSS softoken, Debian libnss3), with
 * the demo keys generated inside it: the same PKCS#11 provider as the SoftHSM2 demo,
 * configured for a second, independent PKCS#11 implementation.
 */
async function prepareNss(dataDir: string): Promise<PreparedDemo> {
  const db = await ensureNssDemoDatabase(dataDir);
  return { provider: db.providerConfig, stop: async () => undefined };
}

/** The demo config with the chosen provider in place of the software keystore. */
export async function prepareDemo(
  which: DemoProvider,
  dataDir = DEFAULT_DATA_DIR,
  opts: { throwaway?: boolean } = {},
): Promise<{ loaded: LoadedConfig; stop: () => Promise<void> }> {
  const loaded = await loadConfigFile(DEMO_CONFIG_PATH);
  const prepared =
    which === 'kmip'
      ? await prepareKmip(dataDir)
      : which === 'softhsm'
        ? await prepareSoftHsm(dataDir)
        : which === 'nss'
          ? await prepareNss(dataDir)
          : which === 'postgres'
            ? await preparePostgres(loaded, dataDir, opts.throwaway ?? false)
            : await prepareSoftware(loaded, dataDir);
  loaded.config.keyStores[0]!.provider = prepared.provider;
  return { loaded, stop: prepared.stop };
}

/** Serves a demo until SIGTERM/SIGINT, then stops the proxy and the demo key manager; exit 0. */
async function serveDemo(which: DemoProvider, opts: { port?: number; host?: string; dataDir?: string }): Promise<void> {
  const demo = await prepareDemo(which, opts.dataDir);
  process.stderr.write(DEMO_WARNING);
  let proxy;
  try {
    proxy = await startProxy(demo.loaded, { port: opts.port, host: opts.host });
  } catch (e) {
    await demo.stop();
    throw e;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    proxy.logger.info({ signal }, 'shutting down the demo');
    void proxy
      .close()
      .then(() => demo.stop())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  stopWhenNpmParentExits(stop);
}

/** `xks-proxy demo`: what `npm start`, `npm run demo:softhsm`, `npm run demo:nss` and `npm run demo:kmip` run. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('serve the demo: test keys and PUBLIC test-client credentials on 127.0.0.1:8080')
    .addOption(new Option('--provider <type>', 'key manager behind the demo').choices(['software', 'softhsm', 'nss', 'kmip', 'postgres']).default('software'))
    .option('-p, --port <port>', 'listen on this port instead of 8080', parsePort)
    .option('--host <address>', 'listen on this address instead of 127.0.0.1')
    .option('--data-dir <dir>', "keep demo state (keystore, certificates) here instead of the repository's data/")
    .action(
      cliAction(async (opts: { provider: DemoProvider; port?: number; host?: string; dataDir?: string }) => {
        await serveDemo(opts.provider, opts);
      }),
    );
}

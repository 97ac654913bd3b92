import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { loadConfigFile, type LoadedConfig } from '../config/load-config.ts';
import { cliAction, parsePort } from './cli-action.ts';
import { serveUntilSignal } from './serve-command.ts';
import { ensureDemoKeystore } from '../providers/software/software-demo-setup.ts';
import { resolve } from 'node:path';

/** The committed demo config (software keystore, public test-client credentials). */
export const DEMO_CONFIG_PATH = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url));

/** Printed before the demo serves: the credentials are public and must never guard real keys. */
export const DEMO_WARNING = [
  '',
  '*****************************************************************************',
  '*  DEMO MODE: the SigV4 credentials below are PUBLIC (the AWS XKS test        *',
  '*  client defaults) and the keystore passphrase is in config/demo.yaml.       *',
  '*  Use this only to try the proxy. Never put real keys behind it.             *',
  '*    URI path:      /example/uri/path/prefix/kms/xks/v1                       *',
  '*    access key id: BETWEEN2TENAND3TENCHARACTERS                              *',
  '*    secret:        PleaseReplaceThisWithSomeSecretOfLength43To64             *',
  '*****************************************************************************',
  '',
].join('\n');

/**
 * Creates the demo keystore when missing; returns the loaded demo config. `dataDir`
 * moves the keystore out of the repository's data/ (tests use a temp dir).
 */
export async function prepareSoftwareDemo(dataDir?: string): Promise<LoadedConfig> {
  const loaded = await loadConfigFile(DEMO_CONFIG_PATH);
  const provider = loaded.config.keyStores[0]!.provider;
  if (provider.type !== 'software' || provider.passphrase === undefined) throw new Error('config/demo.yaml must use a software keystore with a passphrase');
  if (dataDir !== undefined) provider.path = resolve(dataDir, 'demo', 'keystore.json');
  await ensureDemoKeystore(resolve(loaded.configDir, provider.path), { passphrase: provider.passphrase });
  return loaded;
}

/** `xks-proxy demo`: the software-keystore demo that `npm start` runs. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('serve the demo: software keystore with test keys and PUBLIC test-client credentials on 127.0.0.1:8080')
    .option('-p, --port <port>', 'listen on this port instead of 8080', parsePort)
    .option('--host <address>', 'listen on this address instead of 127.0.0.1')
    .option('--data-dir <dir>', 'keep the demo keystore here instead of the repository\'s data/')
    .action(
      cliAction(async (opts: { port?: number; host?: string; dataDir?: string }) => {
        const loaded = await prepareSoftwareDemo(opts.dataDir);
        process.stderr.write(DEMO_WARNING);
        await serveUntilSignal(loaded, { port: opts.port, host: opts.host });
      }),
    );
}

import { Command } from 'commander';
import { loadConfigFile } from '../config/load-config.ts';
import { resolveSecretRef } from '../config/secret-ref.ts';
import type { ProxyConfig } from '../config/schema.ts';
import { writeSecretFile } from './secret-file.ts';
import { cliAction, configOption } from './cli-action.ts';

/** The JSON file the AWS KMS console imports for an external key store (spec "KMS console"). */
export interface KmsConsoleConfig {
  XksProxyUriPath: string;
  XksProxyAuthenticationCredential: { AccessKeyId: string; RawSecretAccessKey: string };
}

/** XksProxyUriPath of a prefix: "/<prefix>/kms/xks/v1", or "/kms/xks/v1" for the empty prefix. */
export function xksProxyUriPath(prefix: string): string {
  return prefix === '' ? '/kms/xks/v1' : `/${prefix}/kms/xks/v1`;
}

/** Builds the console file for one key store and credential (newest credential by default). */
export function buildKmsConsoleConfig(
  config: ProxyConfig,
  prefix: string,
  accessKeyId: string | undefined,
  env: NodeJS.ProcessEnv,
  configDir: string,
): KmsConsoleConfig {
  const ks = config.keyStores.find((k) => k.prefix === prefix);
  if (ks === undefined) {
    throw new Error(`no key store with prefix "${prefix}"; configured: ${config.keyStores.map((k) => `"${k.prefix}"`).join(', ')}`);
  }
  const cred = accessKeyId === undefined ? ks.credentials[ks.credentials.length - 1] : ks.credentials.find((c) => c.accessKeyId === accessKeyId);
  if (cred === undefined) throw new Error(`key store "${prefix}" has no credential ${accessKeyId}`);
  return {
    XksProxyUriPath: xksProxyUriPath(prefix),
    XksProxyAuthenticationCredential: {
      AccessKeyId: cred.accessKeyId,
      RawSecretAccessKey: resolveSecretRef(cred.secretAccessKey, `credential ${cred.accessKeyId}`, env, configDir),
    },
  };
}

/** `xks-proxy kms-config export`: print the KMS console's import file. */
export function kmsConfigCommand(): Command {
  const cmd = new Command('kms-config').description('files for configuring AWS KMS');
  cmd
    .command('export')
    .description('print the JSON file the AWS KMS console imports (URI path and SigV4 credential); it contains the secret')
    .addOption(configOption())
    .requiredOption('--prefix <prefix>', 'URI path prefix of the key store ("" for none)')
    .option('--access-key-id <id>', 'which credential to export (default: the last one listed)')
    .option('-o, --output <file>', 'write the file (mode 0600) instead of printing it')
    .action(
      cliAction(async (opts: { config: string; prefix: string; accessKeyId?: string; output?: string }) => {
        const { config, configDir } = await loadConfigFile(opts.config);
        const prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
        const text = `${JSON.stringify(buildKmsConsoleConfig(config, prefix, opts.accessKeyId, process.env, configDir), null, 2)}\n`;
        if (opts.output === undefined) {
          process.stdout.write(text);
          return;
        }
        await writeSecretFile(opts.output, text, { overwrite: true });
        process.stderr.write(`wrote ${opts.output} (mode 0600; it contains the secret: delete it once KMS has it)\n`);
      }),
    );
  return cmd;
}

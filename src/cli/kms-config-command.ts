import { Command, Option } from 'commander';
import { loadConfigFile } from '../config/load-config.ts';
import { resolveSecretRef } from '../config-values/secret-ref.ts';
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

/** What the export is for: the console's import file, or `--cli-input-json` of the AWS CLI. */
type ExportFormat = 'console' | 'cli-create' | 'cli-update';

/** Options that only the AWS CLI formats use. */
interface CliInputOptions {
  name?: string;
  endpoint?: string;
  vpcEndpointServiceName?: string;
  customKeyStoreId?: string;
}

/**
 * The export in the chosen format. The AWS CLI formats are complete `--cli-input-json`
 * documents for `aws kms create-custom-key-store` / `update-custom-key-store`, so the secret
 * goes through a 0600 file instead of the command line (shell history, `ps`).
 */
export function buildExport(consoleFile: KmsConsoleConfig, format: ExportFormat, opts: CliInputOptions): Record<string, unknown> {
  if (format === 'console') return { ...consoleFile };
  const need = (value: string | undefined, flag: string): string => {
    if (value === undefined) throw new Error(`--format ${format} needs ${flag}`);
    return value;
  };
  const connectivity =
    opts.vpcEndpointServiceName === undefined
      ? { XksProxyConnectivity: 'PUBLIC_ENDPOINT' }
      : {
          XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
          XksProxyVpcEndpointServiceName: opts.vpcEndpointServiceName,
        };
  if (format === 'cli-create') {
    return {
      CustomKeyStoreName: need(opts.name, '--name'),
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyUriEndpoint: need(opts.endpoint, '--endpoint'),
      ...connectivity,
      ...consoleFile,
    };
  }
  // Rotation: the credential (and the unchanged path), which KMS accepts in any connection state.
  return { CustomKeyStoreId: need(opts.customKeyStoreId, '--custom-key-store-id'), ...consoleFile };
}

/** `xks-proxy kms-config export`: print the KMS console's import file. */
export function kmsConfigCommand(): Command {
  const cmd = new Command('kms-config').description('files for configuring AWS KMS');
  cmd
    .command('export')
    .description('the JSON file the AWS KMS console imports (URI path and SigV4 credential), or --cli-input-json for the AWS CLI; it contains the secret')
    .addOption(configOption())
    .requiredOption('--prefix <prefix>', 'URI path prefix of the key store ("" for none)')
    .option('--access-key-id <id>', 'which credential to export (default: the last one listed)')
    .addOption(
      new Option(
        '--format <format>',
        'console: the console import file; cli-create / cli-update: --cli-input-json for aws kms create-custom-key-store / update-custom-key-store',
      )
        .choices(['console', 'cli-create', 'cli-update'])
        .default('console'),
    )
    .option('--name <name>', 'cli-create: CustomKeyStoreName')
    .option('--endpoint <url>', 'cli-create: XksProxyUriEndpoint, e.g. https://xks.example.com')
    .option('--vpc-endpoint-service-name <name>', 'cli-create: the VPC endpoint service (VPC_ENDPOINT_SERVICE connectivity; without it PUBLIC_ENDPOINT)')
    .option('--custom-key-store-id <id>', 'cli-update: the key store to update')
    .option('-o, --output <file>', 'write the file (mode 0600) instead of printing it')
    .action(
      cliAction(async (opts: { config: string; prefix: string; accessKeyId?: string; output?: string; format: ExportFormat } & CliInputOptions) => {
        const { config, configDir } = await loadConfigFile(opts.config);
        const prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
        const consoleFile = buildKmsConsoleConfig(config, prefix, opts.accessKeyId, process.env, configDir);
        const text = `${JSON.stringify(buildExport(consoleFile, opts.format, opts), null, 2)}\n`;
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

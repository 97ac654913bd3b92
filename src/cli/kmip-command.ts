import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { ConfigError, describeZodIssues } from '../config/load-config.ts';
import type { KeyUsage } from '../xks/key-provider-port.ts';
import { callContextWithin } from '../xks/call-context.ts';
import type { KmipServer } from '../providers/kmip/kmip-cluster.ts';
import { kmipProviderConfigSchema, type KmipProviderConfig } from '../providers/kmip/kmip-config.ts';
import { createKmipKey, listKmipKeys, type KmipKeySummary } from '../providers/kmip/kmip-key-admin.ts';
import { openKmipCluster } from '../providers/kmip/kmip-provider.ts';
import { cliAction, requireKeyId, defaultConfigPath } from './cli-action.ts';
import { parseUsage } from './keys-command.ts';
import { formatTable } from './text-table.ts';

/** Time allowed for one `kmip` command against the server. */
const COMMAND_TIMEOUT_MS = 15_000;

/** Flags that choose the KMIP provider and server. */
interface TargetOptions {
  config?: string;
  prefix?: string;
  server?: string;
}

/** The KMIP provider config a command works with, and where its relative paths resolve. */
export interface KmipTarget {
  provider: KmipProviderConfig;
  configDir: string;
}

/**
 * Reads the KMIP provider section of a proxy config: the key store chosen by `prefix`, or
 * the only key store with a kmip provider. Only that section is validated, so the command
 * works while other parts of the file are still being written.
 */
export async function loadKmipTarget(configPath: string, prefix: string | undefined): Promise<KmipTarget> {
  const file = resolve(configPath);
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [code === undefined ? `not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}` : `cannot read the file (${code})`]);
  }
  const stores = (raw as { keyStores?: unknown } | null)?.keyStores;
  const list = Array.isArray(stores) ? (stores as Array<{ prefix?: unknown; provider?: { type?: unknown } }>) : [];
  const kmip = list.map((ks, index) => ({ ks, index })).filter(({ ks }) => ks.provider?.type === 'kmip');
  let chosen;
  if (prefix !== undefined) {
    const wanted = prefix.replace(/^\/+|\/+$/g, '');
    chosen = list.map((ks, index) => ({ ks, index })).find(({ ks }) => ks.prefix === wanted);
    if (chosen === undefined) throw new Error(`config ${file} has no key store with prefix "${wanted}"`);
    if (chosen.ks.provider?.type !== 'kmip') throw new Error(`key store "${wanted}" in ${file} does not use the kmip provider`);
  } else if (kmip.length === 1) {
    chosen = kmip[0]!;
  } else if (kmip.length === 0) {
    throw new Error(`config ${file} has no key store with a kmip provider`);
  } else {
    throw new Error(
      `config ${file} has ${kmip.length} kmip key stores (prefixes: ${kmip.map(({ ks }) => `"${String(ks.prefix)}"`).join(', ')}); choose one with --prefix`,
    );
  }
  const parsed = kmipProviderConfigSchema.safeParse(chosen.ks.provider);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      describeZodIssues(parsed.error.issues).map((p) => `keyStores.${chosen.index}.provider.${p}`),
    );
  }
  return { provider: parsed.data, configDir: dirname(file) };
}

/** Runs `work` against one server of the target (the first unless `serverId` names another). */
async function withServer<T>(opts: TargetOptions, work: (server: KmipServer, target: KmipTarget) => Promise<T>): Promise<T> {
  const target = await loadKmipTarget(opts.config ?? defaultConfigPath(), opts.prefix);
  const cluster = await openKmipCluster(target.provider, { logger: pino({ level: 'silent' }), configDir: target.configDir, env: process.env });
  try {
    const server = opts.server === undefined ? cluster.servers[0] : cluster.servers.find((s) => s.id === opts.server);
    if (server === undefined) throw new Error(`no KMIP server with id "${opts.server}" (ids: ${cluster.servers.map((s) => s.id).join(', ')})`);
    return await work(server, target);
  } finally {
    cluster.close();
  }
}

function showUsage(usages: readonly KeyUsage[]): string {
  return usages.length === 0 ? 'none' : usages.map((u) => u.toLowerCase()).join(',');
}

/** Renders KMIP keys as an aligned table; the key id is the KMIP name without the configured prefix. */
export function formatKmipKeyTable(keys: readonly KmipKeySummary[], keyNamePrefix: string): string {
  if (keys.length === 0) return '(no keys)\n';
  const keyIdOf = (name: string | undefined) => (name !== undefined && name.startsWith(keyNamePrefix) ? name.slice(keyNamePrefix.length) : '-');
  return formatTable([
    ['KEY ID', 'KMIP NAME', 'UNIQUE ID', 'USAGE', 'STATE', 'ALGORITHM'],
    ...keys.map((k) => [
      keyIdOf(k.names[0]),
      k.names.join(',') || '-',
      k.uid,
      showUsage(k.usages),
      k.state,
      k.algorithm === 3 ? `AES-${k.length ?? '?'}` : `algorithm ${k.algorithm ?? '?'}`,
    ]),
  ]);
}

function withTargetOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-c, --config <file>', 'proxy config file (default: $XKS_PROXY_CONFIG or ./xks-proxy.yaml)'))
    .addOption(new Option('--prefix <prefix>', 'URI prefix of the key store (needed when several use the kmip provider)'))
    .addOption(new Option('--server <id>', 'id of the KMIP server to use (default: the first one configured)'));
}

/** `xks-proxy kmip`: manage keys in the KMIP server(s) of a kmip key store. */
export function kmipCommand(): Command {
  const kmip = new Command('kmip').description('manage AES-256 keys in the KMIP server of a kmip key store');
  const keys = new Command('keys').description('create and list keys in the KMIP server');
  kmip.addCommand(keys);

  withTargetOptions(
    keys
      .command('create')
      .description('create an AES-256 key named <keyNamePrefix><keyId> with the given usage, and activate it')
      .argument('[keyId]', 'external key id KMS will use (the KMIP Name is the provider keyNamePrefix + this)')
      .addOption(new Option('--name <name>', 'the same as <keyId> (the older spelling)').hideHelp())
      .requiredOption('--usage <usage>', 'encrypt,decrypt | encrypt | decrypt | none (sets the Cryptographic Usage Mask)')
      .option('--no-activate', 'leave the key Pre-Active (the proxy reports it DISABLED)'),
  ).action(
    cliAction(async (keyIdArg: string | undefined, opts: TargetOptions & { name?: string; usage: string; activate: boolean }) => {
      const keyId = requireKeyId(keyIdArg, opts.name, '--name');
      const usages = parseUsage(opts.usage);
      await withServer(opts, async (server, target) => {
        const kmipName = `${target.provider.keyNamePrefix}${keyId}`;
        const uid = await createKmipKey(server, callContextWithin(COMMAND_TIMEOUT_MS), kmipName, usages, { activate: opts.activate });
        process.stdout.write(
          `created key ${keyId} on ${server.id}: KMIP name "${kmipName}", unique id ${uid}, usage ${showUsage(usages)}, ${opts.activate ? 'Active' : 'Pre-Active'}\n`,
        );
      });
    }),
  );

  withTargetOptions(keys.command('list').description('list the AES keys in the KMIP server').option('--json', 'print JSON')).action(
    cliAction(async (opts: TargetOptions & { json?: boolean }) => {
      await withServer(opts, async (server, target) => {
        const list = await listKmipKeys(server, callContextWithin(COMMAND_TIMEOUT_MS));
        process.stdout.write(opts.json ? `${JSON.stringify(list)}\n` : formatKmipKeyTable(list, target.provider.keyNamePrefix));
      });
    }),
  );
  return kmip;
}

import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfigFile } from '../config/load-config.ts';
import { isSecretRef, resolveSecretRef } from '../config/secret-ref.ts';
import type { KeyUsage } from '../providers/key-provider.ts';
import type { KeystoreSecret } from '../providers/software/software-keystore-kek.ts';
import {
  addKey,
  changeKeystore,
  initKeystore,
  readKeySummaries,
  rotateKey,
  setKeyEnabled,
  type KeySummary,
} from '../providers/software/software-keystore.ts';
import { resolveKeystoreSecret } from '../providers/software/software-secret.ts';
import { cliAction, defaultConfigPath } from './cli-action.ts';

/** Flags that say which keystore a `keys` command works on. */
interface LocateOptions {
  keystore?: string;
  passphrase?: string;
  kek?: string;
  config?: string;
  prefix?: string;
}

/** A keystore file and the secret that opens it. */
interface LocatedKeystore {
  path: string;
  secret: KeystoreSecret;
}

/**
 * Finds the keystore a command targets: `--keystore FILE` with `--passphrase REF` or
 * `--kek REF`, or the software provider of a key store in the proxy config.
 */
export async function locateKeystore(opts: LocateOptions, env: NodeJS.ProcessEnv = process.env): Promise<LocatedKeystore> {
  if (opts.keystore !== undefined) {
    if (opts.config !== undefined || opts.prefix !== undefined) throw new Error('use either --keystore or --config/--prefix, not both');
    if ((opts.passphrase === undefined) === (opts.kek === undefined)) throw new Error('--keystore needs exactly one of --passphrase REF or --kek REF');
    // Only references: a secret typed on the command line ends up in shell history and ps.
    const ref = (opts.passphrase ?? opts.kek)!;
    const flag = opts.passphrase !== undefined ? '--passphrase' : '--kek';
    if (!isSecretRef(ref)) throw new Error(`${flag} takes a secret reference (env:NAME or file:PATH), not the secret itself`);
    const value = resolveSecretRef(ref, flag, env);
    return { path: resolve(opts.keystore), secret: opts.passphrase !== undefined ? { passphrase: value } : { kek: value } };
  }
  if (opts.passphrase !== undefined || opts.kek !== undefined) throw new Error('--passphrase and --kek go with --keystore; with --config the secret comes from the config');
  const { config, file, configDir } = await loadConfigFile(opts.config ?? defaultConfigPath());
  const software = config.keyStores.filter((ks) => ks.provider.type === 'software');
  let chosen;
  if (opts.prefix !== undefined) {
    const prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
    chosen = config.keyStores.find((ks) => ks.prefix === prefix);
    if (!chosen) throw new Error(`config ${file} has no key store with prefix "${prefix}"`);
    if (chosen.provider.type !== 'software') throw new Error(`key store "${prefix}" in ${file} uses the ${chosen.provider.type} provider, not the software keystore`);
  } else if (software.length === 1) {
    chosen = software[0]!;
  } else if (software.length === 0) {
    throw new Error(`config ${file} has no key store with a software provider`);
  } else {
    throw new Error(`config ${file} has ${software.length} software key stores (prefixes: ${software.map((s) => `"${s.prefix}"`).join(', ')}); choose one with --prefix`);
  }
  const provider = chosen.provider;
  if (provider.type !== 'software') throw new Error('unreachable: not a software provider');
  return {
    path: resolve(configDir, provider.path),
    secret: resolveKeystoreSecret(provider, configDir, env, `keyStores[prefix="${chosen.prefix}"].provider`),
  };
}

/** Parses `--usage`: encrypt,decrypt | both | encrypt | decrypt | none. */
export function parseUsage(value: string): KeyUsage[] {
  const parts = value.split(',').map((p) => p.trim().toLowerCase());
  const bad = () => new Error(`invalid --usage "${value}": use encrypt,decrypt (or both) | encrypt | decrypt | none`);
  if (parts.length === 1 && parts[0] === 'none') return [];
  const usages = new Set<KeyUsage>();
  for (const p of parts) {
    if (p === 'encrypt') usages.add('ENCRYPT');
    else if (p === 'decrypt') usages.add('DECRYPT');
    else if (p === 'both') (usages.add('ENCRYPT'), usages.add('DECRYPT'));
    else throw bad();
  }
  return (['ENCRYPT', 'DECRYPT'] as const).filter((u) => usages.has(u));
}

/** Usage list as shown by `keys list`. */
function showUsage(usages: readonly KeyUsage[]): string {
  return usages.length === 0 ? 'none' : usages.map((u) => u.toLowerCase()).join(',');
}

/** Renders key summaries as an aligned text table. */
export function formatKeyTable(keys: readonly KeySummary[]): string {
  if (keys.length === 0) return '(no keys)\n';
  const rows = [
    ['KEY ID', 'USAGE', 'STATE', 'VERSION', 'CREATED'],
    ...keys.map((k) => [k.keyId, showUsage(k.usages), k.enabled ? 'enabled' : 'disabled', String(k.currentVersion), k.createdAt]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ')).join('\n') + '\n';
}

function describeKey(k: KeySummary): string {
  return `usage ${showUsage(k.usages)}, ${k.enabled ? 'enabled' : 'disabled'}, current version ${k.currentVersion}`;
}

/** Adds the flags that locate the keystore to a subcommand. */
function withKeystoreOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--keystore <file>', 'keystore file to use directly (instead of --config)'))
    .addOption(new Option('--passphrase <ref>', 'with --keystore: passphrase as a secret reference, env:NAME or file:PATH'))
    .addOption(new Option('--kek <ref>', 'with --keystore: raw 32-byte KEK (base64 or hex) as a secret reference, env:NAME or file:PATH'))
    .addOption(new Option('-c, --config <file>', 'proxy config file whose software key store to use (default: $XKS_PROXY_CONFIG or ./xks-proxy.yaml)'))
    .addOption(new Option('--prefix <prefix>', 'with --config: URI prefix of the key store (needed when several use the software provider)'));
}

function out(text: string): void {
  process.stdout.write(text);
}

/** `xks-proxy keys`: manage the keys of a software keystore file. */
export function keysCommand(): Command {
  const keys = new Command('keys').description(
    'manage keys in a software keystore file (create, list, rotate, disable, enable); a running proxy picks up changes within a second',
  );

  keys.addCommand(
    withKeystoreOptions(new Command('init'))
      .description('create an empty keystore file (mode 0600) with its health-check key; refuses to overwrite an existing file')
      .action(
        cliAction(async (opts: LocateOptions) => {
          const ks = await locateKeystore(opts);
          await initKeystore(ks.path, ks.secret);
          out(`created empty keystore ${ks.path}\n`);
        }),
      ),
  );

  keys.addCommand(
    withKeystoreOptions(new Command('create'))
      .description('create an AES-256 key (version 1) with the given usage')
      .argument('<keyId>', 'external key id: 1-128 characters of A-Za-z0-9._-')
      .addOption(new Option('--usage <usage>', 'what the key may do: encrypt,decrypt | encrypt | decrypt | none').default('encrypt,decrypt'))
      .option('--disabled', 'create the key disabled (requests get InvalidStateException until enabled)')
      .action(
        cliAction(async (keyId: string, opts: LocateOptions & { usage: string; disabled?: boolean }) => {
          const usages = parseUsage(opts.usage);
          const ks = await locateKeystore(opts);
          const key = await changeKeystore(ks.path, ks.secret, (file, contents) => addKey(file, contents, keyId, { usages, enabled: !opts.disabled }));
          out(`created key ${key.keyId} (${describeKey(key)}) in ${ks.path}\n`);
        }),
      ),
  );

  keys.addCommand(
    withKeystoreOptions(new Command('list'))
      .description('list the keys with usage, state and current version (never key material)')
      .option('--json', 'print JSON instead of a table')
      .action(
        cliAction(async (opts: LocateOptions & { json?: boolean }) => {
          const ks = await locateKeystore(opts);
          const list = await readKeySummaries(ks.path, ks.secret);
          out(opts.json ? JSON.stringify(list, null, 2) + '\n' : formatKeyTable(list));
        }),
      ),
  );

  keys.addCommand(
    withKeystoreOptions(new Command('rotate'))
      .description('add a new version to a key: new encryptions use it, older versions still decrypt')
      .argument('<keyId>', 'key to rotate')
      .action(
        cliAction(async (keyId: string, opts: LocateOptions) => {
          const ks = await locateKeystore(opts);
          const key = await changeKeystore(ks.path, ks.secret, (file, contents) => rotateKey(file, contents, keyId));
          out(`rotated key ${key.keyId}: version ${key.currentVersion} now encrypts; versions 1-${key.currentVersion} decrypt\n`);
        }),
      ),
  );

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    keys.addCommand(
      withKeystoreOptions(new Command(name))
        .description(
          enabled
            ? 'enable a key again'
            : 'disable a key: the proxy answers InvalidStateException for it until it is enabled (material is kept)',
        )
        .argument('<keyId>', `key to ${name}`)
        .action(
          cliAction(async (keyId: string, opts: LocateOptions) => {
            const ks = await locateKeystore(opts);
            const key = await changeKeystore(ks.path, ks.secret, (file, contents) => setKeyEnabled(file, contents, keyId, enabled));
            out(`${enabled ? 'enabled' : 'disabled'} key ${key.keyId} (${describeKey(key)})\n`);
          }),
        ),
    );
  }
  return keys;
}

import { Command } from 'commander';
import { pino } from 'pino';
import { loadConfigFile, type LoadedConfig } from '../config/load-config.ts';
import { exposedSecretFiles, exposedSecretMessage } from '../config/secret-files.ts';
import { resolveSecretRef } from '../config-values/secret-ref.ts';
import { checkTlsFiles } from '../config/tls-files.ts';
import { checkPkcs11Config } from '../providers/pkcs11/pkcs11-config-check.ts';
import { checkPgStore } from '../providers/software/pg/pg-config-check.ts';
import { buildTenants } from '../server/build-tenants.ts';
import { callContextWithin } from '../xks/call-context.ts';
import { cliAction, configOption } from './cli-action.ts';

/** Spec format of a SigV4 secret: 43-64 chars of A-Za-z0-9+/= */
const SECRET_PATTERN = /^[A-Za-z0-9+/=]{43,64}$/;

/** One line of `config check` output. */
export interface CheckLine {
  level: 'ok' | 'warn' | 'fail';
  subject: string;
  message: string;
}

/**
 * Checks a loaded config beyond its schema: every secret reference resolves and has the
 * spec's format, and every key store's provider starts and passes its deep health check
 * (which is where a missing HSM module, an unknown token or a wrong PIN shows up).
 */
export async function checkConfig(loaded: LoadedConfig, env: NodeJS.ProcessEnv, budgetMs = 10_000): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  for (const p of checkTlsFiles(loaded.config, loaded.configDir)) lines.push({ level: 'fail', subject: p.field, message: p.message });
  for (const f of exposedSecretFiles(loaded.config, loaded.configDir)) lines.push({ level: 'warn', subject: f.field, message: exposedSecretMessage(f) });
  for (const ks of loaded.config.keyStores) {
    const subject = `keyStores[prefix="${ks.prefix}"]`;
    ks.credentials.forEach((cred, i) => {
      const field = `${subject}.credentials.${i}.secretAccessKey`;
      try {
        const secret = resolveSecretRef(cred.secretAccessKey, field, env, loaded.configDir);
        if (!SECRET_PATTERN.test(secret)) {
          lines.push({ level: 'fail', subject: field, message: 'the secret must be 43-64 characters of A-Z, a-z, 0-9, +, / and = (spec format)' });
        }
      } catch (e) {
        // The message starts with the field name already.
        lines.push({ level: 'fail', subject: field, message: (e as Error).message.replace(`${field}: `, '') });
      }
    });
    if (ks.credentials.length === 1) {
      lines.push({ level: 'warn', subject: `${subject}.credentials`, message: 'only one credential: add a second one before rotating' });
    }
  }
  // Provider-specific checks name the field at fault (a missing module file, an unknown
  // token label, a wrong PIN) before the generic deep health check runs.
  for (const ks of loaded.config.keyStores) {
    if (ks.provider.type === 'software' && ks.provider.store?.postgres !== undefined) {
      for (const f of await checkPgStore(ks.provider, { configDir: loaded.configDir, env })) {
        lines.push({ level: f.level, subject: `keyStores[prefix="${ks.prefix}"].provider.${f.field}`, message: f.message });
      }
    }
    if (ks.provider.type !== 'pkcs11') continue;
    const problems = await checkPkcs11Config(ks.provider, { configDir: loaded.configDir, env });
    for (const p of problems) lines.push({ level: p.level, subject: `keyStores[prefix="${ks.prefix}"].provider.${p.field}`, message: p.message });
  }
  if (lines.some((l) => l.level === 'fail')) return lines;

  const silent = pino({ level: 'silent' });
  const tenants = buildTenants(loaded.config, { logger: silent, configDir: loaded.configDir, env, checkOnly: true });
  try {
    for (const t of tenants) {
      const subject = `keyStores[prefix="${t.prefix}"].provider`;
      const fleet = await t.keyStore.readiness(callContextWithin(budgetMs));
      for (const ekm of fleet) {
        const level = ekm.healthStatus === 'ACTIVE' ? 'ok' : ekm.healthStatus === 'DEGRADED' ? 'warn' : 'fail';
        lines.push({ level, subject: `${subject} ${ekm.id}`, message: ekm.detail ?? `${ekm.model}: ${ekm.healthStatus}` });
      }
    }
  } finally {
    await Promise.allSettled(tenants.map((t) => t.keyStore.close()));
  }
  return lines;
}

/** `xks-proxy config check`: validate a config file and try every key store. */
export function configCommand(): Command {
  const cmd = new Command('config').description('work with the proxy config file');
  cmd
    .command('check')
    .description('validate the config file, resolve its secrets and run a deep health check on every key store')
    .addOption(configOption())
    .action(
      cliAction(async (opts: { config: string }) => {
        const loaded = await loadConfigFile(opts.config);
        const lines = await checkConfig(loaded, process.env);
        for (const l of lines) process.stdout.write(`${l.level.padEnd(4)}  ${l.subject}: ${l.message}\n`);
        const failed = lines.filter((l) => l.level === 'fail').length;
        process.stdout.write(failed === 0 ? `config ${loaded.file} is valid\n` : `${failed} problem(s) in ${loaded.file}\n`);
        if (failed > 0) process.exitCode = 1;
      }),
    );
  return cmd;
}

import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CheckGroup } from '../diagnostics/check-result.ts';
import { formatReport, exitCodeOf } from '../diagnostics/doctor-report.ts';
import { loadConfigFile } from '../config/load-config.ts';
import { resolveSecretRef } from '../config-values/secret-ref.ts';
import { runDoctor } from '../diagnostics/run-doctor.ts';
import type { StatusReport } from '../diagnostics/status-report.ts';
import { cliAction, configOption } from './cli-action.ts';
import { fetchStatus, statusUrlFromConfig } from './status-command.ts';

const GROUPS: CheckGroup[] = ['tls', 'credentials', 'keys', 'latency', 'end-to-end', 'clock'];

/** Options of `xks-proxy doctor` as commander parses them. */
interface DoctorFlags {
  config: string;
  endpoint?: string;
  hostname?: string;
  listener?: string;
  ca?: string[];
  clientCert?: string;
  clientKey?: string;
  key?: string[];
  maxCredentialAgeDays?: number;
  latencySamples?: number;
  timeReference?: string;
  skip?: CheckGroup[];
  json?: boolean;
}

/**
 * Reads the status view of the proxy the config describes (as `xks-proxy status` does), so
 * the doctor can print the reason the proxy recorded for a refused call.
 */
async function readLocalStatus(configPath: string, flags: DoctorFlags): Promise<StatusReport> {
  const { config, configDir } = await loadConfigFile(configPath);
  // The admin listener when configured (as statusUrlFromConfig picks), with its token.
  const [ref, field] = config.admin !== undefined ? [config.admin.token, 'admin.token'] : [config.server.statusToken, 'server.statusToken'];
  return fetchStatus(await statusUrlFromConfig(configPath), {
    ...(ref !== undefined ? { token: resolveSecretRef(ref, field, process.env, configDir) } : {}),
    ...(flags.clientCert !== undefined && flags.clientKey !== undefined
      ? { clientCert: readFileSync(flags.clientCert), clientKey: readFileSync(flags.clientKey) }
      : {}),
  });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`use a positive whole number, not "${value}"`);
  return n;
}

function groups(value: string, previous: CheckGroup[] | undefined): CheckGroup[] {
  const parsed = value.split(',').map((g) => g.trim());
  for (const g of parsed) if (!GROUPS.includes(g as CheckGroup)) throw new InvalidArgumentError(`unknown check group "${g}"; use ${GROUPS.join(', ')}`);
  return [...(previous ?? []), ...(parsed as CheckGroup[])];
}

/** `xks-proxy doctor`: every check that explains why KMS cannot use this proxy. */
export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check TLS, credentials, keys, latency, the public endpoint and the clock; one line per check with the fix; exit 1 on any failure')
    .addOption(configOption())
    .option('--endpoint <url>', 'XksProxyUriEndpoint to test end to end as KMS does, e.g. https://xks.example.com')
    .option('--hostname <name>', 'public host name to check the certificate against (default: the --endpoint host)')
    .option('--listener <host:port>', 'address of the running proxy (default: server.host and server.port)')
    .option('--ca <file>', 'PEM of a private CA to trust while testing (repeatable); KMS still will not', collect)
    .option('--client-cert <file>', 'client certificate for a listener or endpoint that requires mTLS (used for every connection to them)')
    .option('--client-key <file>', 'key of --client-cert')
    .option('--key <id>', 'external key id to check, or PREFIX=ID for one key store (repeatable)', collect)
    .option('--max-credential-age-days <days>', 'warn about credentials older than this (default 90)', positiveInt)
    .option('--latency-samples <n>', 'encrypt/decrypt round trips in the latency burst (default 40)', positiveInt)
    .option('--time-reference <url>', 'compare the clock with the Date header of this URL, e.g. https://kms.us-east-1.amazonaws.com')
    .addOption(new Option('--skip <groups>', `check groups to leave out, comma separated (${GROUPS.join(', ')})`).argParser(groups))
    .option('--json', 'print the report as JSON')
    .action(
      cliAction(async (flags: DoctorFlags) => {
        const report = await runDoctor({
          configPath: flags.config,
          endpoint: flags.endpoint,
          hostname: flags.hostname,
          listener: flags.listener,
          caFiles: flags.ca,
          clientCert: flags.clientCert,
          clientKey: flags.clientKey,
          keys: flags.key,
          maxCredentialAgeDays: flags.maxCredentialAgeDays,
          latencySamples: flags.latencySamples,
          timeReference: flags.timeReference,
          skip: flags.skip,
          env: process.env,
          readStatus: () => readLocalStatus(flags.config, flags),
        });
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
        process.exitCode = exitCodeOf(report);
      }),
    );
}

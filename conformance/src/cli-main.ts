/** The conformance command line: parse flags, run checks or load, print, pick the exit code. */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ALL_CHECKS, runConformance } from '../run.ts';
import { LOAD_DEFAULTS, parseDuration } from './load/load-options.ts';
import { formatLoadReport } from './load/load-report.ts';
import { runLoad } from './load/run-load.ts';
import { DEFAULT_OPTIONS } from './options.ts';
import type { ConformanceOptionsInput } from './options.ts';
import { formatJunitReport } from './report/junit-report.ts';
import { formatTextReport } from './report/text-report.ts';

/** Exit codes: 0 conformant / load passed, 1 a MUST check or the load run failed, 2 bad usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const d = DEFAULT_OPTIONS;
const HELP = `Usage: npm run conformance -- [options]

Certifies an AWS KMS External Key Store (XKS) proxy against the XKS Proxy API spec.

Target (defaults are the demo's, so a bare run tests \`npm start\`):
  --endpoint URL              proxy origin (default ${d.endpoint})
  --prefix PATH               URI path prefix before /kms/xks/v1 (default ${d.prefix})
  --access-key-id ID          SigV4 access key id (default ${d.accessKeyId}; env XKS_ACCESS_KEY_ID)
  --secret-access-key SECRET  SigV4 secret (default: the demo's; env XKS_SECRET_ACCESS_KEY)
  --region REGION             SigV4 region (default ${d.region})
  --key ID                    key with ENCRYPT and DECRYPT (default ${d.keys.main})
  --encrypt-only-key ID       key with ENCRYPT only (default ${d.keys.encryptOnly}; '' skips its checks)
  --decrypt-only-key ID       key with DECRYPT only (default ${d.keys.decryptOnly}; '' skips)
  --impotent-key ID           key with neither usage (default ${d.keys.impotent}; '' skips)
TLS (https endpoints):
  --ca FILE                   CA certificate(s) of the server certificate (PEM)
  --cert FILE --key-file FILE client certificate and key for mTLS (enables the mTLS checks)
  --insecure                  do not verify the server certificate
  --expired-cert FILE --expired-key-file FILE
                              an expired client certificate from the CA the proxy trusts, for
                              tls.mtls-expired-cert (default: one from a throwaway CA)
Checks:
  --only PATTERNS             comma-separated check ids, groups or globs (e.g. sigv4,tamper.aad-*)
  --list                      list the checks and exit
  --iv-samples N              encryptions in the IV uniqueness check (default ${d.ivSamples})
  --timeout MS                per-request timeout (default ${d.requestTimeoutMs})
Output:
  --json                      print the report as JSON instead of text
  --junit FILE                also write a JUnit XML report to FILE
  --verbose                   show details of passing checks too
  --no-color                  plain text even on a terminal
Load mode:
  --load                      send load instead of running the checks
  --rate N                    requests per second (default ${LOAD_DEFAULTS.rate})
  --duration D                e.g. 30s, 2m, 500ms (default ${LOAD_DEFAULTS.durationMs / 1000}s)
  --connections N             HTTP connections (default ${LOAD_DEFAULTS.connections})

Exit code: 0 when every MUST check passes (load: p99 < 250 ms, no errors, rate reached),
1 otherwise, 2 for bad usage.
`;

/** Where the CLI writes; replaceable in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  isTty: boolean;
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
  isTty: Boolean(process.stdout.isTTY),
};

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
}

/** Runs the CLI with `argv` (without node and script) and resolves the exit code. */
export async function cliMain(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        endpoint: { type: 'string' },
        prefix: { type: 'string' },
        'access-key-id': { type: 'string' },
        'secret-access-key': { type: 'string' },
        region: { type: 'string' },
        key: { type: 'string' },
        'encrypt-only-key': { type: 'string' },
        'decrypt-only-key': { type: 'string' },
        'impotent-key': { type: 'string' },
        ca: { type: 'string' },
        cert: { type: 'string' },
        'key-file': { type: 'string' },
        insecure: { type: 'boolean' },
        'expired-cert': { type: 'string' },
        'expired-key-file': { type: 'string' },
        only: { type: 'string' },
        list: { type: 'boolean' },
        'iv-samples': { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        junit: { type: 'string' },
        verbose: { type: 'boolean' },
        'no-color': { type: 'boolean' },
        load: { type: 'boolean' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        connections: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    io.err(`${(e as Error).message}\n\n${HELP}`);
    return EXIT.usage;
  }
  if (values.help) {
    io.out(HELP);
    return EXIT.ok;
  }
  if (values.list) {
    io.out(ALL_CHECKS.map((c) => `${c.id.padEnd(44)} ${c.level.padEnd(6)} ${c.title}  [${c.spec}]`).join('\n') + '\n');
    return EXIT.ok;
  }

  let options: ConformanceOptionsInput;
  try {
    if ((values.cert === undefined) !== (values['key-file'] === undefined)) throw new Error('--cert and --key-file go together');
    if ((values['expired-cert'] === undefined) !== (values['expired-key-file'] === undefined))
      throw new Error('--expired-cert and --expired-key-file go together');
    options = {
      endpoint: values.endpoint,
      prefix: values.prefix,
      accessKeyId: values['access-key-id'] ?? io.env.XKS_ACCESS_KEY_ID,
      secretAccessKey: values['secret-access-key'] ?? io.env.XKS_SECRET_ACCESS_KEY,
      region: values.region,
      keys: { main: values.key, encryptOnly: values['encrypt-only-key'], decryptOnly: values['decrypt-only-key'], impotent: values['impotent-key'] },
      tls: {
        ca: values.ca === undefined ? undefined : readFileSync(values.ca),
        cert: values.cert === undefined ? undefined : readFileSync(values.cert),
        key: values['key-file'] === undefined ? undefined : readFileSync(values['key-file']),
        insecure: values.insecure ?? false,
        expiredCert: values['expired-cert'] === undefined ? undefined : readFileSync(values['expired-cert']),
        expiredKey: values['expired-key-file'] === undefined ? undefined : readFileSync(values['expired-key-file']),
      },
      only: values.only,
      ivSamples: positiveInt('iv-samples', values['iv-samples']),
      requestTimeoutMs: positiveInt('timeout', values.timeout),
    };
  } catch (e) {
    io.err(`${(e as Error).message}\n`);
    return EXIT.usage;
  }

  try {
    if (values.load) {
      const report = await runLoad({
        ...options,
        rate: positiveInt('rate', values.rate) ?? LOAD_DEFAULTS.rate,
        durationMs: values.duration === undefined ? LOAD_DEFAULTS.durationMs : parseDuration(values.duration),
        connections: positiveInt('connections', values.connections),
      });
      io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatLoadReport(report));
      return report.passed ? EXIT.ok : EXIT.failed;
    }
    const report = await runConformance(options);
    if (values.junit !== undefined) writeFileSync(values.junit, formatJunitReport(report));
    io.out(
      values.json
        ? `${JSON.stringify(report, null, 2)}\n`
        : formatTextReport(report, { color: io.isTty && !values['no-color'] && io.env.NO_COLOR === undefined, verbose: values.verbose }),
    );
    return report.summary.conformant ? EXIT.ok : EXIT.failed;
  } catch (e) {
    io.err(`conformance: ${(e as Error).message}\n`);
    return EXIT.usage;
  }
}

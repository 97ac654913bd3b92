import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { loadConfigFile } from '../config/load-config.ts';
import { isSecretRef, resolveSecretRef } from '../config-values/secret-ref.ts';
import { auditKey } from '../ops/audit/audit-chain.ts';
import { verifyAuditLog, type AuditVerification } from '../ops/audit/verify-audit-log.ts';
import { cliAction } from './cli-action.ts';

/**
 * The chains to check in the files given. `serve --workers N` writes one file per worker
 * (`audit.jsonl` -> `audit.w0.jsonl`, `audit.w1.jsonl`, ...), each its own chain: a worker's
 * files are checked as one chain (rotated files oldest first, in the order given), different
 * workers' files separately. A configured path that does not exist but has worker files
 * beside it stands for all of them.
 */
export function auditChains(files: readonly string[]): Array<{ name: string; files: string[] }> {
  const chains = new Map<string, string[]>();
  const add = (name: string, file: string) => chains.set(name, [...(chains.get(name) ?? []), file]);
  const expanded = files.flatMap((file) => {
    const workerFiles = existsSync(file) ? [] : workerFilesOf(file);
    return workerFiles.length > 0 ? workerFiles : [file];
  });
  for (const file of expanded) {
    const worker = /\.w(\d+)(\.|$)/.exec(basename(file));
    add(worker === null ? 'log' : `worker ${worker[1]}`, file);
  }
  return [...chains].map(([name, list]) => ({ name, files: list }));
}

/** `audit.jsonl` -> the existing `audit.w<i>.jsonl` beside it, by worker number. */
function workerFilesOf(file: string): string[] {
  const ext = extname(file);
  const stem = basename(file, ext);
  const dir = dirname(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const pattern = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.w(\\d+)${ext.replace('.', '\\.')}$`);
  return names
    .map((n) => ({ n, m: pattern.exec(n) }))
    .filter((x) => x.m !== null)
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]))
    .map((x) => join(dir, x.n));
}

function printChain(name: string, many: boolean, result: AuditVerification): void {
  const label = many ? `${name}: ` : '';
  for (const p of result.problems) process.stdout.write(`FAIL  ${p.file}:${p.line}: ${p.message}\n`);
  const range = result.firstSeq === undefined ? 'no records' : `seq ${result.firstSeq}..${result.lastSeq}`;
  if (result.continuesEarlierFile)
    process.stdout.write(`note: ${label}the first record continues an earlier file (rotated log); pass that file first to check the link\n`);
  process.stdout.write(`${label}${result.ok ? 'ok' : 'FAILED'}: ${result.lines} line(s), ${range}, head ${result.headHash}\n`);
}

/** `xks-proxy audit verify`: check the hash chain of audit log files. */
export function auditCommand(): Command {
  const cmd = new Command('audit').description('the hash-chained audit log');
  cmd
    .command('verify')
    .description(
      'check that no line of the audit log was edited, inserted or deleted; rotated files are given oldest first, and per-worker files (audit.w0.jsonl, ...) are checked as separate chains. Exit 1 on a problem',
    )
    .argument('[files...]', 'audit log file(s), oldest first; the configured path stands for its per-worker files (default: audit.file of --config)')
    .option('-c, --config <file>', 'config file: its audit.file (and audit.hmacKey) when no file is given')
    .option('--key <ref>', 'key of a keyed chain (audit.hmacKey) as env:NAME or file:PATH')
    .option('--head <sha256>', 'the chain head kept elsewhere (headHash of the "audit log closed" line): also catches lines removed from the end; one log only')
    .option('--json', 'print the result as JSON')
    .action(
      cliAction(async (given: string[], opts: { config?: string; key?: string; head?: string; json?: boolean }) => {
        let files = given;
        let keyRef = opts.key;
        if (opts.config !== undefined) {
          const { config, configDir } = await loadConfigFile(opts.config);
          if (config.audit === undefined) throw new Error(`${opts.config} has no audit section`);
          if (files.length === 0) files = [resolve(configDir, config.audit.file)];
          if (keyRef === undefined && config.audit.hmacKey !== undefined)
            keyRef = resolveSecretRef(config.audit.hmacKey, 'audit.hmacKey', process.env, configDir);
          else if (keyRef !== undefined) keyRef = resolveRef(keyRef);
        } else if (keyRef !== undefined) {
          keyRef = resolveRef(keyRef);
        }
        if (files.length === 0) throw new Error('name the audit file(s), or pass --config to use audit.file');
        const key = keyRef === undefined ? undefined : auditKey(keyRef);
        const chains = auditChains(files);
        if (opts.head !== undefined && chains.length > 1) throw new Error("--head checks one chain; name one worker's files");
        const results = [];
        for (const chain of chains)
          results.push({ chain: chain.name, files: chain.files, ...(await verifyAuditLog(chain.files, { key, expectedHead: opts.head })) });
        if (opts.json) process.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`);
        else for (const r of results) printChain(r.chain, results.length > 1, r);
        if (results.some((r) => !r.ok)) process.exitCode = 1;
      }),
    );
  return cmd;
}

/** --key takes a secret reference, never the key itself (shell history, ps). */
function resolveRef(ref: string): string {
  if (!isSecretRef(ref)) throw new Error('--key takes a secret reference (env:NAME or file:PATH), not the key itself');
  return resolveSecretRef(ref, '--key');
}

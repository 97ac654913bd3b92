import { Command } from 'commander';
import { verifyAuditLog } from '../ops/audit/verify-audit-log.ts';
import { cliAction } from './cli-action.ts';

/** `xks-proxy audit verify`: check the hash chain of audit log files. */
export function auditCommand(): Command {
  const cmd = new Command('audit').description('the hash-chained audit log');
  cmd
    .command('verify')
    .description('check that no line of the audit log was edited, inserted or deleted; rotated files are given oldest first. Exit 1 on a problem')
    .argument('<files...>', 'audit log file(s), oldest first')
    .option('--json', 'print the result as JSON')
    .action(
      cliAction(async (files: string[], opts: { json?: boolean }) => {
        const result = await verifyAuditLog(files);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        } else {
          for (const p of result.problems) process.stdout.write(`FAIL  ${p.file}:${p.line}: ${p.message}\n`);
          const range = result.firstSeq === undefined ? 'no records' : `seq ${result.firstSeq}..${result.lastSeq}`;
          if (result.continuesEarlierFile) process.stdout.write('note: the first record continues an earlier file (rotated log); pass that file first to check the link\n');
          process.stdout.write(`${result.ok ? 'ok' : 'FAILED'}: ${result.lines} line(s), ${range}, head sha256 ${result.headHash}\n`);
        }
        if (!result.ok) process.exitCode = 1;
      }),
    );
  return cmd;
}

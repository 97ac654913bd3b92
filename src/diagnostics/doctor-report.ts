import type { CheckLevel, CheckResult } from './check-result.ts';

/** Everything `xks-proxy doctor` found, as --json prints it. */
export interface DoctorReport {
  /** False when any check failed (the command then exits 1). */
  ok: boolean;
  config: string;
  summary: Record<CheckLevel, number>;
  checks: CheckResult[];
}

/** Builds the report of a list of results. */
export function buildReport(config: string, checks: CheckResult[]): DoctorReport {
  const summary: Record<CheckLevel, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of checks) summary[c.level]++;
  return { ok: summary.fail === 0, config, summary, checks };
}

/** The process exit code for a report: 1 when anything failed. */
export function exitCodeOf(report: DoctorReport): number {
  return report.ok ? 0 : 1;
}

/**
 * One line per check: level, id, subject and finding, then the fix and the KMS state it
 * explains for warnings and failures, so a line pasted into a ticket says it all.
 */
export function formatCheck(c: CheckResult): string {
  const head = `${c.level.padEnd(4)}  ${c.id.padEnd(22)} ${c.subject}: ${c.message}`;
  if (c.level !== 'warn' && c.level !== 'fail') return head;
  const state = c.kmsState !== undefined ? ` [KMS: ${c.kmsState}]` : '';
  return `${head}. Fix: ${c.fix ?? 'see docs/troubleshooting.md'}${state}`;
}

/** The human-readable report: a header, the lines, and a one-line summary. */
export function formatReport(report: DoctorReport): string {
  const lines = [`xks-proxy doctor: ${report.config}`, ...report.checks.map(formatCheck)];
  const s = report.summary;
  lines.push(
    `${s.ok} ok, ${s.warn} warning(s), ${s.fail} failure(s), ${s.skip} skipped` + (report.ok ? '' : ' - see docs/troubleshooting.md for each failed check'),
  );
  return `${lines.join('\n')}\n`;
}

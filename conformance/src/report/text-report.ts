/** The human-readable report: one line per check, grouped, then a summary line. */
import type { ConformanceReport } from '../../run.ts';
import type { CheckStatus } from '../check.ts';

/** Formatting choices for the text report. */
export interface TextReportOptions {
  /** ANSI colours (default off). */
  color?: boolean;
  /** Also print the detail line of passing checks. */
  verbose?: boolean;
}

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };
const COLOR: Record<CheckStatus, string> = { pass: '32', fail: '31', warn: '33', skip: '90' };

/** Renders a report as plain text. */
export function formatTextReport(report: ConformanceReport, o: TextReportOptions = {}): string {
  const paint = (code: string, s: string) => (o.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const lines = [`XKS proxy conformance: ${report.endpoint}  (prefix "${report.prefix}")`];
  const pre = report.preflight;
  if (!pre.ok)
    lines.push(
      paint('33', `note: no health call answered 200 within ${(pre.durationMs / 1000).toFixed(1)} s (last: ${pre.last ?? 'none'}); checks ran anyway`),
    );
  else if (pre.attempts > 1)
    lines.push(paint('33', `note: the proxy needed ${pre.attempts} health calls (${pre.durationMs.toFixed(0)} ms) before answering 200`));
  const idWidth = Math.max(...report.results.map((r) => r.id.length));
  let group = '';
  for (const r of report.results) {
    if (r.group !== group) {
      group = r.group;
      lines.push('', paint('1', group));
    }
    lines.push(`  ${paint(COLOR[r.status], LABEL[r.status])}  ${r.level.padEnd(6)} ${r.id.padEnd(idWidth)}  ${r.title}  [${r.spec}]`);
    if (r.detail && (r.status !== 'pass' || o.verbose)) lines.push(`        ${paint(COLOR[r.status], '->')} ${r.detail}`);
  }
  const s = report.summary;
  const verdict = s.conformant ? paint('32;1', 'CONFORMANT (no MUST check failed)') : paint('31;1', 'NOT CONFORMANT (a MUST check failed)');
  lines.push(
    '',
    `Summary: ${s.passed} passed, ${s.failed} failed, ${s.warnings} warnings (SHOULD), ${s.skipped} skipped in ${(report.durationMs / 1000).toFixed(1)} s: ${verdict}`,
  );
  return `${lines.join('\n')}\n`;
}

/** JUnit XML for CI systems: one testsuite per group, one testcase per check. */
import type { ConformanceReport } from '../../run.ts';
import type { CheckResult } from '../check.ts';

function xml(s: string): string {
  return (
    s
      // eslint-disable-next-line no-control-regex -- naming the control characters XML 1.0 allows is the point
      .replace(/[^\x09\x0a\x0d\x20-\u{d7ff}\u{e000}-\u{fffd}\u{10000}-\u{10ffff}]/gu, '?')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
  );
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function testcase(r: CheckResult): string {
  const open = `    <testcase classname="xks-conformance.${xml(r.group)}" name="${xml(`${r.id}: ${r.title}`)}" time="${seconds(r.durationMs)}">`;
  const detail = xml(r.detail ?? '');
  switch (r.status) {
    case 'fail':
      return `${open}\n      <failure type="MUST" message="${detail}">${xml(`[${r.spec}] ${r.detail ?? ''}`)}</failure>\n    </testcase>`;
    case 'skip':
      return `${open}\n      <skipped message="${detail}"/>\n    </testcase>`;
    case 'warn':
      // JUnit has no warnings: a failed SHOULD check passes with the warning in its output.
      return `${open}\n      <system-out>WARNING (SHOULD, ${xml(r.spec)}): ${detail}</system-out>\n    </testcase>`;
    default:
      return `${open}</testcase>`;
  }
}

/** Renders a report as JUnit XML. */
export function formatJunitReport(report: ConformanceReport): string {
  const groups = [...new Set(report.results.map((r) => r.group))];
  const suites = groups.map((g) => {
    const rs = report.results.filter((r) => r.group === g);
    const time = rs.reduce((t, r) => t + r.durationMs, 0);
    const failures = rs.filter((r) => r.status === 'fail').length;
    const skipped = rs.filter((r) => r.status === 'skip').length;
    return [
      `  <testsuite name="${xml(g)}" tests="${rs.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(time)}" timestamp="${report.startedAt}">`,
      ...rs.map(testcase),
      '  </testsuite>',
    ].join('\n');
  });
  const s = report.summary;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="xks-conformance ${xml(report.endpoint)}" tests="${report.results.length}" failures="${s.failed}" errors="0" skipped="${s.skipped}" time="${seconds(report.durationMs)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

/** The human-readable load report. */
import type { LatencySummary, LoadReport } from './run-load.ts';
import { KMS_BUDGET_MS } from './run-load.ts';

function percentiles(l: LatencySummary): string {
  return `p50 ${l.p50.toFixed(2)}  p95 ${l.p95.toFixed(2)}  p99 ${l.p99.toFixed(2)}  max ${l.max.toFixed(2)}  (mean ${l.mean.toFixed(2)})`;
}

/** Renders a load report as plain text. */
export function formatLoadReport(r: LoadReport): string {
  const errorLines = Object.entries(r.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `    ${name.padEnd(36)} ${n}`);
  const lines = [
    `XKS proxy load: ${r.endpoint}`,
    `  requested        ${r.requestedRate} req/s for ${(r.durationMs / 1000).toFixed(1)} s, ${r.connections} connections`,
    `  mix              ${r.mix.encrypt}% encrypt (32 B + AAD, CDIV) / ${r.mix.decrypt}% decrypt / ${r.mix.metadata}% metadata`,
    `  sent             ${r.sent}`,
    `  completed        ${r.completed}  (${r.achievedRate} req/s achieved)`,
    `  ok               ${r.ok}`,
    `  latency ms       ${percentiles(r.latency)}   <- from each request's due time (open loop)`,
    `  service time ms  ${percentiles(r.serviceTime)}   <- from the moment it was handed to the HTTP client`,
    `  send lag ms      ${percentiles(r.sendLag)}   <- how late this load generator sent${r.sendLag.p99 > 10 ? '  WARNING: the generator fell behind' : ''}`,
    `  errors           ${errorLines.length === 0 ? 'none' : ''}`,
    ...errorLines,
    `  p99 ${r.latency.p99.toFixed(2)} ms ${r.withinBudget ? '<' : '>='} ${KMS_BUDGET_MS} ms KMS budget: ${r.withinBudget ? 'WITHIN BUDGET' : 'OVER BUDGET'}`,
    `Result: ${r.passed ? 'PASS' : 'FAIL'} (needs p99 < ${KMS_BUDGET_MS} ms, no errors, >= 95% of the requested rate)`,
  ];
  return `${lines.join('\n')}\n`;
}

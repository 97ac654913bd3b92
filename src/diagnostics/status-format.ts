import type { StatusReport } from './status-report.ts';

/** "3 min ago" style age of an ISO time relative to `now`. */
export function ago(isoTime: string | null, now: Date): string {
  if (isoTime === null) return 'never';
  const s = Math.round((now.getTime() - Date.parse(isoTime)) / 1000);
  if (s < 120) return `${isoTime} (${s} s ago)`;
  if (s < 7200) return `${isoTime} (${Math.round(s / 60)} min ago)`;
  if (s < 172_800) return `${isoTime} (${Math.round(s / 3600)} h ago)`;
  return `${isoTime} (${Math.round(s / 86_400)} days ago)`;
}

/** The status view as text for `xks-proxy status`. */
export function formatStatus(report: StatusReport): string {
  const now = new Date(report.generatedAt);
  const out: string[] = [];
  out.push(`xks-proxy ${report.version}, up since ${report.startedAt} (${Math.round(report.uptimeSeconds / 60)} min)`);
  if (report.workers !== undefined) {
    // Counts below are the sum over these workers (serve --workers N, read from the admin listener).
    const listed = report.workers.map((w) => `${w.worker}${w.error !== undefined ? ` (no view: ${w.error})` : ` (${w.requests ?? 0} requests)`}`).join(', ');
    out.push(`workers: ${report.workers.length}, totals over all of them: ${listed}`);
  }
  if (report.rateLimits !== undefined) {
    const shared =
      report.workers !== undefined && report.workers.length > 1 ? ` (for all ${report.workers.length} workers together; each admits its share)` : '';
    out.push(`rate limits: ${report.rateLimits.map((l) => `${l.scope} ${l.requestsPerSecond}/s burst ${l.burst}`).join(', ')}${shared}`);
  }
  const cert = report.certificate;
  if (cert === null) out.push('certificate: none (plain HTTP listener)');
  else if (cert.error !== undefined) out.push(`certificate: ${cert.file}: ${cert.error}`);
  else out.push(`certificate: ${cert.subject}, expires ${cert.notAfter} (${cert.daysLeft} days left)${(cert.daysLeft ?? 0) < 30 ? '  <-- renew soon' : ''}`);
  for (const ks of report.keyStores) {
    out.push('');
    out.push(`key store "${ks.prefix}"  ${ks.uriPath}  (${ks.region})`);
    out.push(`  verdict: ${ks.verdict}`);
    const h = ks.lastHealthCheck;
    out.push(
      `  last GetHealthStatus: ${h === null ? 'never' : `${ago(h.at, now)} HTTP ${h.status}${h.errorName ? ` ${h.errorName}` : ''}${h.kmsOperation ? ` [${h.kmsOperation}]` : ''}${h.reason ? `: ${h.reason}` : ''}`}`,
    );
    out.push(`  requests: ${ks.requests.ok} ok, ${ks.requests.error} refused or failed; last success ${ago(ks.lastSuccessAt, now)}`);
    if (ks.errors.length > 0) {
      out.push('  last error of each kind:');
      for (const e of ks.errors) {
        out.push(`    ${e.errorName} x${e.count}, last ${ago(e.lastAt, now)}${e.operation ? ` on ${e.operation}` : ''}${e.reason ? `: ${e.reason}` : ''}`);
      }
    }
    out.push('  credentials:');
    for (const c of ks.credentials) {
      const age = c.ageDays !== undefined ? `created ${c.createdAt} (${c.ageDays} days)` : 'age unknown';
      out.push(`    ${c.accessKeyId}  ${age}, last used ${ago(c.lastUsedAt, now)}, ${c.requests} request(s)`);
    }
    out.push('  key managers:');
    for (const e of ks.ekmFleet) out.push(`    ${e.id}  ${e.model}  ${e.healthStatus}${e.detail ? `: ${e.detail}` : ''}`);
  }
  if (report.unknownPrefixes.length > 0) {
    out.push('');
    out.push('requests for prefixes this proxy does not serve (check XksProxyUriPath in KMS):');
    for (const u of report.unknownPrefixes) out.push(`  "${u.prefix}" x${u.count}, last ${ago(u.lastAt, now)}`);
  }
  if (report.otherPaths.count > 0) {
    out.push('');
    out.push(
      `requests outside /kms/xks/v1: ${report.otherPaths.count}, last ${ago(report.otherPaths.lastAt, now)}${report.otherPaths.lastReason ? ` (${report.otherPaths.lastReason})` : ''}`,
    );
  }
  return `${out.join('\n')}\n`;
}

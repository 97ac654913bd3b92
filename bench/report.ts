/** The benchmark's results: one row per target, the table printed, the JSON written. */

/** One measured target (closed loop, ceiling, or fixed rate). */
export interface TargetRow {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  errors: number;
  peak_rss_mb: number | null;
  /** CPU use of the server process(es) in cores; null for in-process ceilings. */
  server_cpu_cores: number | null;
  /**
   * Server CPU time per request in microseconds: less sensitive to a busy machine than
   * requests/s (time the server waited for a core does not count).
   */
  server_cpu_us_per_req: number | null;
  client_cpu_cores: number | null;
  note?: string;
}

/** A target that could not run, and why (never a made-up number). */
export interface SkippedRow {
  skipped: string;
}

/** Any row of the table. */
export type Row = TargetRow | SkippedRow;

/** True when the row has numbers. */
export function measured(row: Row | undefined): row is TargetRow {
  return row !== undefined && !('skipped' in row);
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Rounds for the JSON: 3 decimals for ms and cores, whole requests/s. */
export function row(
  r: { rps: number; p50Ms: number; p99Ms: number; maxMs: number; errors: number; serverCpuCores?: number; clientCpuCores?: number },
  peakRssBytes: number | null,
  note?: string,
): TargetRow {
  const r3 = (n: number) => Math.round(n * 1000) / 1000;
  return {
    rps: Math.round(r.rps),
    p50_ms: r3(r.p50Ms),
    p99_ms: r3(r.p99Ms),
    max_ms: r3(r.maxMs),
    errors: r.errors,
    peak_rss_mb: peakRssBytes === null ? null : mb(peakRssBytes),
    server_cpu_cores: r.serverCpuCores === undefined ? null : r3(r.serverCpuCores),
    server_cpu_us_per_req: r.serverCpuCores === undefined || r.rps === 0 ? null : Math.round((r.serverCpuCores * 1e6) / r.rps),
    client_cpu_cores: r.clientCpuCores === undefined ? null : r3(r.clientCpuCores),
    ...(note === undefined ? {} : { note }),
  };
}

/** Formats rows as an aligned text table. */
export function formatTable(rows: [string, Row][]): string {
  const header = ['target', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'peak RSS MB', 'server CPU', 'us CPU/req', 'client CPU'];
  const lines = rows.map(([name, r]) => {
    if (!measured(r)) return [name, `skipped: ${r.skipped}`];
    const cores = (n: number | null) => (n === null ? '-' : n.toFixed(2));
    return [
      name,
      String(r.rps),
      r.p50_ms.toFixed(3),
      r.p99_ms.toFixed(3),
      r.max_ms.toFixed(3),
      String(r.errors),
      r.peak_rss_mb === null ? '-' : r.peak_rss_mb.toFixed(1),
      cores(r.server_cpu_cores),
      r.server_cpu_us_per_req === null ? '-' : String(r.server_cpu_us_per_req),
      cores(r.client_cpu_cores),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.filter((l) => l.length > 2).map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.length === 2
      ? `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]}`
      : cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), fmt(header.map((_, i) => '-'.repeat(widths[i]!))), ...lines.map(fmt)].join('\n');
}

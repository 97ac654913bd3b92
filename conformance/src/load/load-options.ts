/** Options of load mode and parsing of durations such as "30s". */
import type { ConformanceOptionsInput } from '../options.ts';

/** Load mode: a fixed request rate for a fixed time. */
export interface LoadOptions extends ConformanceOptionsInput {
  /** Requests per second to send, whatever the server does (open loop). */
  rate: number;
  /** How long to send, ms. */
  durationMs: number;
  /** HTTP connections in the pool. */
  connections?: number;
}

/** Load mode defaults: the KMS default quota of 1,800 requests/s per key store (spec GetHealthStatus). */
export const LOAD_DEFAULTS = { rate: 1800, durationMs: 30_000, connections: 64 };

/** Parses "30s", "2m", "500ms" or a bare number of seconds into ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`cannot read duration ${JSON.stringify(text)} (use e.g. 30s, 2m, 500ms)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n : unit === 'm' ? n * 60_000 : n * 1000;
}

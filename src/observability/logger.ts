import { pino, type Logger, type DestinationStream } from 'pino';
import { BatchedLogDestination } from './batched-destination.ts';

/** Options for the proxy's logger. */
export interface LoggerOptions {
  level: string;
  /** Human-readable lines; default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go (tests capture them); default stdout. */
  destination?: DestinationStream;
}

/**
 * Paths that must never reach a log even if some code puts them in a log object by
 * mistake (spec "Logging": no plaintext; no secrets or key material either). Top-level
 * and request-header paths only: the request log line is flat, and pino's `*.x` wildcard
 * paths are costly on the hot path (docs/performance.md).
 * The first line of defence is that such values are never put into log objects at all.
 */
const REDACTED_PATHS = [
  'plaintext',
  'additionalAuthenticatedData',
  'secret',
  'secretAccessKey',
  'passphrase',
  'pin',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
];

/**
 * pino-pretty's options for `logging.pretty`: one line per event (a request line has a
 * dozen fields; pino-pretty's default puts each on a line of its own) and the date with
 * the time, so a pasted line says when it happened.
 */
export const PRETTY_OPTIONS = {
  colorize: true,
  singleLine: true,
  translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
  ignore: 'pid,hostname,service',
} as const;

/** Creates the pino logger used across the proxy. */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    base: { service: 'xks-proxy' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: isoTime,
  };
  if (options.destination !== undefined) return pino(base, options.destination);
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  if (pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: PRETTY_OPTIONS },
    });
  }
  // Asynchronous, batched writes keep logging off the request's critical path.
  return pino(base, new BatchedLogDestination());
}

let cachedSecond = Number.NaN;
let cachedSecondPrefix = '';

/**
 * pino's `"time"` field as ISO 8601 UTC with milliseconds, like pino.stdTimeFunctions.isoTime,
 * but formatting the date only once per second: Date#toISOString per line is costly on the
 * hot path (docs/performance.md).
 */
export function isoTime(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedSecondPrefix = new Date(second * 1000).toISOString().slice(0, 20); // "2026-11-26T12:00:00."
  }
  const ms = now - second * 1000;
  return `,"time":"${cachedSecondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}

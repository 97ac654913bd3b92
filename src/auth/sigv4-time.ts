/** The SigV4 timestamp format `YYYYMMDDTHHMMSSZ` (x-amz-date), parsed and formatted. */

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Parses an x-amz-date value to epoch milliseconds; undefined when it is not a real UTC time. */
export function parseAmzDate(value: string): number | undefined {
  const m = AMZ_DATE.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls over (month 13, 25:00, Feb 30); a value that changes on the way back is invalid.
  return formatAmzDate(new Date(ms)) === value ? ms : undefined;
}

/** Formats a time as x-amz-date (`20150830T123600Z`), whole seconds, UTC. */
export function formatAmzDate(time: Date): string {
  return time.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

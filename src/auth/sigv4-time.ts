/** The SigV4 timestamp format `YYYYMMDDTHHMMSSZ` (x-amz-date), parsed and formatted. */

const DIGIT_0 = 48;

/** The number written by `count` ASCII digits at `start`, or -1 if any is not a digit. */
function digits(value: string, start: number, count: number): number {
  let n = 0;
  for (let i = start; i < start + count; i++) {
    const d = value.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Parses an x-amz-date value to epoch milliseconds; undefined when it is not a real UTC
 * time. Runs on every request, so it reads the digits directly instead of a regex and a
 * formatting round trip (docs/performance.md).
 */
export function parseAmzDate(value: string): number | undefined {
  if (value.length !== 16 || value[8] !== 'T' || value[15] !== 'Z') return undefined;
  const year = digits(value, 0, 4);
  const month = digits(value, 4, 2);
  const day = digits(value, 6, 2);
  const hour = digits(value, 9, 2);
  const minute = digits(value, 11, 2);
  const second = digits(value, 13, 2);
  // Date.UTC reads years 0-99 as 1900-1999, so those could not round-trip.
  if (year < 100 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return undefined;
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls a day past the month's end (Feb 30) into the next month: refuse those.
  return new Date(ms).getUTCDate() === day ? ms : undefined;
}

/** Formats a time as x-amz-date (`20150830T123600Z`), whole seconds, UTC. */
export function formatAmzDate(time: Date): string {
  return time
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

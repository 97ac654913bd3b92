/**
 * The result model of `xks-proxy doctor`: one line per check, each with a level and, when
 * something is wrong, the fix in one sentence.
 */

/** How a check ended: `skip` means it could not run here (and says why), not a failure. */
export type CheckLevel = 'ok' | 'warn' | 'fail' | 'skip';

/** The groups of checks, in the order the doctor runs them. */
export type CheckGroup = 'config' | 'tls' | 'credentials' | 'keys' | 'latency' | 'end-to-end' | 'clock';

/** One doctor line. `kmsState` names the KMS connection error this problem shows up as. */
export interface CheckResult {
  group: CheckGroup;
  /** Stable dotted id, e.g. `tls.expiry`; tests and --json consumers key on it. */
  id: string;
  /** What was checked, e.g. the key store prefix or the endpoint. */
  subject: string;
  level: CheckLevel;
  /** What was found. */
  message: string;
  /** The fix in one sentence (present for warn and fail). */
  fix?: string;
  /** The KMS ConnectionErrorCode (or exception) this problem causes, for docs/troubleshooting.md. */
  kmsState?: string;
  /** Measured values for --json (days left, latencies...). */
  data?: Record<string, unknown>;
}

/** Fields every constructor takes. */
type CheckFields = Omit<CheckResult, 'level'>;

/** An ok line. */
export function ok(fields: Omit<CheckFields, 'fix'>): CheckResult {
  return { ...fields, level: 'ok' };
}

/** A warning: KMS may work, but something will bite later. */
export function warn(fields: CheckFields & { fix: string }): CheckResult {
  return { ...fields, level: 'warn' };
}

/** A failure: KMS calls will fail (or already do). */
export function fail(fields: CheckFields & { fix: string }): CheckResult {
  return { ...fields, level: 'fail' };
}

/** A check that could not run in this setup; the message says what would make it run. */
export function skip(fields: Omit<CheckFields, 'fix'>): CheckResult {
  return { ...fields, level: 'skip' };
}

/** Short message of any thrown value (never a stack). */
export function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code !== undefined && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
  }
  return String(e);
}

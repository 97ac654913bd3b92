import { execFile } from 'node:child_process';
import { Agent, request } from 'undici';
import { errorText, fail, ok, skip, warn, type CheckResult } from './check-result.ts';

/** SigV4's replay window (spec "Authentication"): beyond it every KMS call is refused. */
const SIGV4_WINDOW_S = 300;
/** A Date header has one-second resolution and the request takes time: allow some slack. */
const WARN_SKEW_S = 30;

/** A clock to compare with: another server's Date header, seen at a local time. */
export interface ClockSample {
  source: string;
  remote: Date;
  /** Local time halfway through the exchange. */
  local: Date;
}

/** Inputs of the clock check; the two probes can be replaced in tests. */
export interface ClockCheckOptions {
  /** `timedatectl show -p NTPSynchronized --value`: 'yes', 'no', or undefined when unavailable. */
  ntpSynchronized?: () => Promise<string | undefined>;
  /** URL whose Date header is a trusted clock, e.g. https://kms.us-east-1.amazonaws.com */
  reference?: string;
  referenceAgent?: Agent;
}

/** Asks systemd-timesyncd / chrony through timedatectl whether the clock is NTP-synchronised. */
export function timedatectlSynchronized(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 2000 }, (error, stdout) => {
      resolve(error ? undefined : stdout.trim());
    });
  });
}

/** Reads the Date header of a URL with a HEAD request. */
export async function sampleClock(url: string, agent?: Agent): Promise<ClockSample> {
  const before = Date.now();
  const res = await request(url, { method: 'HEAD', signal: AbortSignal.timeout(5000), ...(agent ? { dispatcher: agent } : {}) });
  await res.body.dump();
  const after = Date.now();
  const header = res.headers.date;
  const value = Array.isArray(header) ? header[0] : header;
  const remote = value === undefined ? NaN : Date.parse(value);
  if (Number.isNaN(remote)) throw new Error(`${url} sent no usable Date header`);
  return { source: url, remote: new Date(remote), local: new Date((before + after) / 2) };
}

/**
 * Warns when the clock is not synchronised: a proxy clock more than five minutes off makes
 * every KMS call fail SigV4 (spec "Authentication"). It asks timedatectl when it can, and
 * compares with the Date header of --time-reference (an independent clock) when given.
 */
export async function checkClock(opts: ClockCheckOptions = {}): Promise<CheckResult[]> {
  const subject = 'system clock';
  const results: CheckResult[] = [];
  const ntp = await (opts.ntpSynchronized ?? timedatectlSynchronized)();
  if (ntp === 'yes') {
    results.push(ok({ group: 'clock', id: 'clock.ntp', subject, message: 'NTP-synchronised (timedatectl NTPSynchronized=yes)' }));
  } else if (ntp === 'no') {
    results.push(
      warn({
        group: 'clock',
        id: 'clock.ntp',
        subject,
        message: 'not NTP-synchronised (timedatectl NTPSynchronized=no): a drift past 5 minutes makes every KMS call fail authentication',
        fix: 'enable time sync (timedatectl set-ntp true, or chrony pointed at 169.254.169.123 on AWS)',
        kmsState: 'INVALID_CREDENTIALS',
      }),
    );
  } else {
    results.push(skip({ group: 'clock', id: 'clock.ntp', subject, message: 'NTP state unknown: timedatectl is not available here' }));
  }
  if (opts.reference !== undefined) {
    try {
      results.push(judgeSkew(await sampleClock(opts.reference, opts.referenceAgent)));
    } catch (e) {
      results.push(skip({ group: 'clock', id: 'clock.skew', subject, message: `not checked: cannot read the time of ${opts.reference}: ${errorText(e)}` }));
    }
  } else {
    // The endpoint's Date header is written by the proxy's own clock (usually this machine):
    // comparing with it would compare the clock with itself.
    results.push(
      skip({
        group: 'clock',
        id: 'clock.skew',
        subject,
        message:
          "not checked: no independent time reference (the endpoint's Date header comes from the proxy's own clock); pass --time-reference https://kms.<region>.amazonaws.com",
      }),
    );
  }
  return results;
}

function judgeSkew(sample: ClockSample): CheckResult {
  const skewS = Math.round((sample.local.getTime() - sample.remote.getTime()) / 1000);
  const direction = skewS > 0 ? 'ahead of' : 'behind';
  const subject = 'system clock';
  const data = { source: sample.source, skewSeconds: skewS };
  const text = `this machine's clock is ${Math.abs(skewS)} s ${direction} the Date header of ${sample.source}`;
  if (Math.abs(skewS) > SIGV4_WINDOW_S) {
    return fail({
      group: 'clock',
      id: 'clock.skew',
      subject,
      message: `${text}: beyond SigV4's 5-minute window`,
      fix: 'synchronise the clock with NTP on every proxy host (and the host of the other side)',
      kmsState: 'INVALID_CREDENTIALS',
      data,
    });
  }
  if (Math.abs(skewS) > WARN_SKEW_S) {
    return warn({
      group: 'clock',
      id: 'clock.skew',
      subject,
      message: text,
      fix: 'enable NTP before the drift reaches 5 minutes',
      kmsState: 'INVALID_CREDENTIALS',
      data,
    });
  }
  return ok({ group: 'clock', id: 'clock.skew', subject, message: `within ${Math.abs(skewS)} s of the Date header of ${sample.source}`, data });
}

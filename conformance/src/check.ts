/** What a conformance check is, and how it reports. */
import type { ConformanceOptions } from './options.ts';
import type { XksClient } from './xks-client.ts';

/** RFC 2119 level of the rule a check tests: SHOULD failures are warnings. */
export type CheckLevel = 'MUST' | 'SHOULD';

/** Outcome of one check. `warn` is a failed SHOULD check. */
export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

/** What a check gets to work with. */
export interface CheckContext {
  options: ConformanceOptions;
  client: XksClient;
}

/** One check: an id, the rule it tests, and the test itself. */
export interface CheckDefinition {
  /** `<group>.<name>`, stable, used by --only. */
  id: string;
  group: string;
  /** One line: the behaviour a conforming proxy shows. */
  title: string;
  /** The section of the XKS Proxy API specification the rule comes from. */
  spec: string;
  level: CheckLevel;
  /**
   * Resolves (optionally with a detail line) when the proxy behaves; throws CheckFailure
   * when it does not, CheckSkip when the check does not apply.
   */
  run(ctx: CheckContext): Promise<string | void>;
}

/** The result of running one check. */
export interface CheckResult {
  id: string;
  group: string;
  title: string;
  spec: string;
  level: CheckLevel;
  status: CheckStatus;
  /** Why it failed or was skipped, or a detail of the pass. */
  detail?: string;
  durationMs: number;
}

/** Thrown by a check when the proxy breaks the rule. */
export class CheckFailure extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CheckFailure';
  }
}

/** Thrown by a check that does not apply to this run (e.g. TLS checks over http). */
export class CheckSkip extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CheckSkip';
  }
}

/** Throws a CheckFailure: the one way checks say "the proxy is wrong". */
export function fail(reason: string): never {
  throw new CheckFailure(reason);
}

/** Throws a CheckSkip. */
export function skip(reason: string): never {
  throw new CheckSkip(reason);
}

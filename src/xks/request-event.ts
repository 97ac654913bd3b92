/**
 * The vocabulary of a finished XKS request, shared by the app that produces it
 * (src/server/app.ts) and the observers that consume it (metrics, audit, status view). It
 * lives below both so that neither imports the other (docs/architecture.md "Layers").
 */

/** The four XKS operations. */
export type XksOperation = 'health' | 'metadata' | 'encrypt' | 'decrypt';

/** A finished XKS request as observers see it (no plaintext, AAD or secrets). */
export interface RequestEvent extends RequestLog {
  method: string;
  status: number;
  latencyMs: number;
  /** 'aborted': the client left before its request arrived (status 499, never sent). */
  outcome: 'ok' | 'error' | 'aborted';
  /** When the request arrived (epoch ms). */
  at: number;
}

/**
 * Fields of the one log line written per XKS request. Plain strings only, none of them
 * secret: the line is written without pino's redaction (src/observability/request-log-line.ts).
 */
export interface RequestLog {
  operation?: XksOperation;
  prefix?: string;
  keyId?: string;
  kmsRequestId?: string;
  kmsOperation?: string;
  accessKeyId?: string;
  awsPrincipalArn?: string;
  kmsKeyArn?: string;
  errorName?: string;
  reason?: string;
}

/**
 * The record the app fills in while it handles one request, then finishes into the
 * RequestEvent. Every field exists from the start (undefined until set), so each record
 * has one shape and is allocated once: an object literal that gains a dozen fields one by
 * one outgrows its property store several times (docs/performance.md, "Allocation per
 * request"). JSON.stringify leaves undefined fields out, so the log line holds only what
 * was set; the fields are declared in the order the line has always had them.
 */
export class RequestRecord implements RequestLog {
  prefix: string | undefined = undefined;
  operation: XksOperation | undefined = undefined;
  keyId: string | undefined = undefined;
  accessKeyId: string | undefined = undefined;
  kmsRequestId: string | undefined = undefined;
  kmsOperation: string | undefined = undefined;
  awsPrincipalArn: string | undefined = undefined;
  kmsKeyArn: string | undefined = undefined;
  errorName: string | undefined = undefined;
  reason: string | undefined = undefined;
  method: string | undefined = undefined;
  status: number | undefined = undefined;
  latencyMs: number | undefined = undefined;
  outcome: RequestEvent['outcome'] | undefined = undefined;
  /** Set after the log line is written: the line has pino's `time`. */
  at: number | undefined = undefined;

  /**
   * The set fields as JSON object members, each after a comma (`,"prefix":"a","status":200`):
   * exactly what JSON.stringify(this) holds between its braces, written field by field
   * instead of stringifying the whole record and slicing off the braces (the log line is
   * the largest single cost of a request, docs/performance.md). A new field must be added
   * here too; the unit test compares the two for every field.
   */
  jsonMembers(): string {
    return (
      stringMember('prefix', this.prefix) +
      stringMember('operation', this.operation) +
      stringMember('keyId', this.keyId) +
      stringMember('accessKeyId', this.accessKeyId) +
      stringMember('kmsRequestId', this.kmsRequestId) +
      stringMember('kmsOperation', this.kmsOperation) +
      stringMember('awsPrincipalArn', this.awsPrincipalArn) +
      stringMember('kmsKeyArn', this.kmsKeyArn) +
      stringMember('errorName', this.errorName) +
      stringMember('reason', this.reason) +
      stringMember('method', this.method) +
      numberMember('status', this.status) +
      numberMember('latencyMs', this.latencyMs) +
      stringMember('outcome', this.outcome) +
      numberMember('at', this.at)
    );
  }
}

/** Characters JSON.stringify writes escaped: quote, backslash, controls, and (lone) surrogates. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `,"name":"value"`, or '' for undefined; a value needing escapes goes through JSON.stringify. */
function stringMember(name: string, value: string | undefined): string {
  if (value === undefined) return '';
  return NEEDS_JSON_ESCAPE.test(value) ? `,"${name}":${JSON.stringify(value)}` : `,"${name}":"${value}"`;
}

/** `,"name":number` as JSON.stringify writes it (null when not finite), or '' for undefined. */
function numberMember(name: string, value: number | undefined): string {
  if (value === undefined) return '';
  return Number.isFinite(value) ? `,"${name}":${value}` : `,"${name}":null`;
}

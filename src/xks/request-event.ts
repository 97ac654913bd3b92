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
}

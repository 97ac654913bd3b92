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

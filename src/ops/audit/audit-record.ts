import type { RequestEvent } from '../../xks/request-event.ts';

/**
 * One audited XKS request: who asked for what on which key and how it ended. Built only
 * from the request's log fields, which never hold plaintext, AAD or secrets.
 */
export interface AuditRecord {
  /** When the request arrived, ISO 8601. */
  time: string;
  kmsRequestId?: string | undefined;
  prefix?: string | undefined;
  /** awsPrincipalArn from requestMetadata: the AWS principal behind the KMS call. */
  principal?: string | undefined;
  /** The SigV4 access key id KMS signed with (after authentication). */
  accessKeyId?: string | undefined;
  /** XKS operation: health, metadata, encrypt or decrypt. */
  operation?: string | undefined;
  kmsOperation?: string | undefined;
  keyId?: string | undefined;
  /** "ok", "error", or "aborted" (the client left before its request arrived). */
  outcome: 'ok' | 'error' | 'aborted';
  status: number;
  errorName?: string | undefined;
  /** Why the proxy refused (failed SigV4 check, policy rule, rate limit). */
  reason?: string | undefined;
  latencyMs: number;
}

/** The audit record of a finished request (fields absent from the request are left out). */
export function auditRecordFrom(event: RequestEvent): AuditRecord {
  const record: AuditRecord = {
    time: new Date(event.at).toISOString(),
    kmsRequestId: event.kmsRequestId,
    prefix: event.prefix,
    principal: event.awsPrincipalArn,
    accessKeyId: event.accessKeyId,
    operation: event.operation,
    kmsOperation: event.kmsOperation,
    keyId: event.keyId,
    outcome: event.outcome,
    status: event.status,
    errorName: event.errorName,
    reason: event.reason,
    latencyMs: event.latencyMs,
  };
  for (const k of Object.keys(record) as Array<keyof AuditRecord>) if (record[k] === undefined) delete record[k];
  return record;
}

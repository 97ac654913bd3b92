/** The ways a test XKS server can be told to break one rule of the spec. */

/** One deliberate defect of the reference server. */
export type Breakage =
  /** Every encryption uses the same IV. */
  | 'reuse-iv'
  /** A body that is not JSON crashes the handler: 500 instead of 400. */
  | 'malformed-json-500'
  /** GET is handled like POST instead of 405. */
  | 'no-405'
  /** X-Amz-Date is not checked at all. */
  | 'lax-date-window'
  /** The replay window is 10 minutes instead of 5. */
  | 'wide-date-window'
  /** The request's AAD is not given to AES-GCM. */
  | 'ignore-aad'
  /** KeyNotFoundException is sent with HTTP 400. */
  | 'wrong-error-status'
  /** InvalidCiphertextException carries the exception's stack trace. */
  | 'stack-trace-in-body'
  /** ciphertextMetadata is returned but not authenticated. */
  | 'metadata-unauthenticated'
  /** GCM AAD is aad || metadata, without the lengths. */
  | 'aad-without-lengths'
  /** The CDIV is computed without the AAD. */
  | 'cdiv-without-aad'
  /** Key usages are not enforced. */
  | 'ignore-key-usage'
  /** kmsOperation values outside a fixed list are refused. */
  | 'reject-unknown-kms-operation'
  /** requestMetadata fields outside the known ones are refused. */
  | 'reject-unknown-metadata-fields'
  /** kmsRequestId must look like a UUID. */
  | 'uuid-request-id'
  /** Plaintexts above 4096 bytes are refused. */
  | 'plaintext-limit-4096'
  /** An AAD above 8192 bytes crashes the handler (500). */
  | 'crash-on-big-aad'
  /** The payload hash is read from X-Amz-Content-Sha256 instead of computed from the body. */
  | 'trust-content-sha-header'
  /** Any SigV4 service name is accepted. */
  | 'ignore-service'
  /** Errors are plain text, not JSON. */
  | 'plain-text-errors'
  /** errorMessage is 600 characters long. */
  | 'long-error-message'
  /** ekmFleetDetails reports healthStatus "OK". */
  | 'health-bad-status'
  /** All keys share one key material and decrypt ignores which key was named. */
  | 'key-confusion'
  /** The tag stays appended to the ciphertext. */
  | 'tag-appended'
  /** Decrypt does not verify the tag. */
  | 'ignore-tag'
  /** An unknown key is a 500. */
  | 'unknown-key-500'
  /** An unknown prefix is 401 (no credentials for it) instead of 404 InvalidUriPathException. */
  | 'no-invalid-uri-path'
  /** TLS 1.0 and 1.1 are accepted. */
  | 'tls-legacy'
  /** A client certificate is requested but not required. */
  | 'mtls-optional'
  /** HTTP/2 only, no HTTP/1.1 fallback. */
  | 'h2-only'
  /** The first three requests answer 503 DependencyTimeoutException (a key manager still starting). */
  | 'slow-start';

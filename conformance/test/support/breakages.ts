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
  /** A client certificate of the trusted CA is accepted even when it has expired. */
  | 'mtls-accepts-expired'
  /** HTTP/2 only, no HTTP/1.1 fallback. */
  | 'h2-only'
  /** The first three requests answer 503 DependencyTimeoutException (a key manager still starting). */
  | 'slow-start'
  /** A signature of the wrong length reaches timingSafeEqual, which throws: 500. */
  | 'signature-length-500'
  /** A signature of the wrong length takes the whole server down (listener closed, connection dropped). */
  | 'crash-on-bad-signature-length'
  /** Signature hex is compared as bytes, so upper-case hex passes. */
  | 'signature-case-insensitive'
  /** Credential/SignedHeaders/Signature may repeat (last wins); SignedHeaders defaults to host;x-amz-date. */
  | 'lenient-auth-components'
  /** Components are read by position: any other order is a 500. */
  | 'positional-auth-components-500'
  /** The credential scope date is not compared with X-Amz-Date. */
  | 'ignore-scope-date'
  /** The credential scope region is not checked. */
  | 'ignore-region'
  /** The scope's terminator is not checked; the key is derived from whatever scope came. */
  | 'ignore-terminator'
  /** host and x-amz-date need not be among the SignedHeaders. */
  | 'no-required-signed-headers'
  /** X-Amz-Date falls back to Date.parse, so ISO dates with separators pass. */
  | 'lax-amz-date-format'
  /** The algorithm name before Credential= is not checked. */
  | 'any-algorithm'
  /** With two Authorization headers the first one is used (node:http's headers object). */
  | 'first-authorization-wins'
  /** An access key id outside A-Z2-7 is a 400 ValidationException instead of 401. */
  | 'akid-format-400'
  /** GetHealthStatus is not authenticated. */
  | 'health-unauthenticated'
  /** Encrypt and decrypt are routed by the path's tail, whatever prefix comes before it. */
  | 'crypto-ignores-prefix'
  /** requestMetadata may be missing or empty. */
  | 'lenient-request-metadata'
  /** A key without DECRYPT still returns a CDIV (no verification decrypt). */
  | 'cdiv-without-decrypt-usage'
  /** Key usages are reported as "Encrypt" / "Decrypt". */
  | 'key-usage-misspelled'
  /** keySpec is "RSA_0" (a proxy did this; the AWS client did not notice). */
  | 'key-spec-rsa'
  /** keyStatus is "Enabled". */
  | 'key-status-title-case'
  /** ekmFleetDetails is empty and xksProxyFleetSize is 0. */
  | 'health-empty-fleet'
  /** ekmFleetDetails entries have no model. */
  | 'health-entry-no-model'
  /** 8-byte IVs. */
  | 'short-iv'
  /** ciphertextMetadata of 24 bytes. */
  | 'long-ciphertext-metadata';

/**
 * What a failed connection of an external key store means and what to do about it, for each
 * ConnectionErrorCode KMS reports (DescribeCustomKeyStores). The sentences are the ones in
 * docs/troubleshooting.md (a test checks that each one still appears there word for word),
 * so the message a failed deployment shows and the page it points to never disagree.
 */

/** A failure KMS may clear by itself (a retry inside the connect deadline can succeed). */
export interface ConnectionAdvice {
  /** Sentences quoted from docs/troubleshooting.md. */
  readonly quoted: readonly string[];
  /** Anchor of the section in docs/troubleshooting.md. */
  readonly anchor: string;
  /**
   * True when KMS can clear the condition by itself while we wait: the endpoint service's
   * private DNS name still being verified, or KMS's own transient errors.
   */
  readonly transient: boolean;
}

const DOCTOR = 'Run `xks-proxy doctor --config xks-proxy.yaml --endpoint https://<private DNS name>` from inside the VPC.';

const ADVICE = new Map<string, ConnectionAdvice>([
  [
    'XKS_PROXY_INVALID_TLS_CONFIGURATION',
    {
      quoted: ['KMS connected to the endpoint but refused the TLS session.', 'a private CA cannot be used.'],
      anchor: 'xks_proxy_invalid_tls_configuration',
      transient: false,
    },
  ],
  [
    'INVALID_CREDENTIALS',
    {
      quoted: [
        'The proxy answered `401 AuthenticationFailedException`: SigV4 verification failed.',
        'the proxy log does, in the `reason` of the `xks request` line',
      ],
      anchor: 'invalid_credentials',
      transient: false,
    },
  ],
  [
    'XKS_PROXY_INVALID_CONFIGURATION',
    {
      quoted: ['Usually a wrong `XksProxyUriPath`', 'give KMS exactly `/<prefix>/kms/xks/v1` for the configured prefix'],
      anchor: 'xks_proxy_invalid_configuration',
      transient: false,
    },
  ],
  [
    'XKS_PROXY_NOT_REACHABLE',
    {
      quoted: ['KMS cannot get an answer — or the proxy told KMS that every key manager is `UNAVAILABLE`, which KMS treats the same way.'],
      anchor: 'xks_proxy_not_reachable',
      transient: false,
    },
  ],
  [
    'XKS_PROXY_TIMED_OUT',
    {
      quoted: ['KMS gives each call 250 ms, network and TLS handshake included.'],
      anchor: 'xks_proxy_timed_out',
      transient: false,
    },
  ],
  [
    'XKS_PROXY_INVALID_RESPONSE',
    {
      quoted: ['KMS got an answer it cannot interpret.', 'Fix: route the XKS path to xks-proxy unchanged.'],
      anchor: 'xks_proxy_invalid_response',
      transient: false,
    },
  ],
  [
    'XKS_PROXY_ACCESS_DENIED',
    {
      quoted: ["The proxy's secondary authorization denied KMS (`403 AccessDeniedException`); the proxy log names the denying statement."],
      anchor: 'xks_proxy_access_denied',
      transient: false,
    },
  ],
  [
    'XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND',
    {
      quoted: ['AWS-side settings of the VPC endpoint service (allowed principal, private DNS name verification, acceptance).'],
      anchor: 'xks_vpc_endpoint_service_not_found-xks_vpc_endpoint_service_invalid_configuration',
      transient: false,
    },
  ],
  // Also what KMS reports while the private DNS name's TXT record is still being verified,
  // which takes minutes after the record is created in the same deployment.
  [
    'XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION',
    {
      quoted: ['AWS-side settings of the VPC endpoint service (allowed principal, private DNS name verification, acceptance).'],
      anchor: 'xks_vpc_endpoint_service_not_found-xks_vpc_endpoint_service_invalid_configuration',
      transient: true,
    },
  ],
  [
    'NETWORK_ERRORS',
    {
      quoted: ['Reported by KMS for its own side; retry.'],
      anchor: 'network_errors-internal_error',
      transient: true,
    },
  ],
  [
    'INTERNAL_ERROR',
    {
      quoted: ['Reported by KMS for its own side; retry.'],
      anchor: 'network_errors-internal_error',
      transient: true,
    },
  ],
]);

/** The advice for a code, or undefined for codes that only CloudHSM key stores report. */
export function adviceFor(code: string): ConnectionAdvice | undefined {
  return ADVICE.get(code);
}

/** Every code with advice (for the test that checks the quotes against the docs). */
export function adviceCodes(): string[] {
  return [...ADVICE.keys()];
}

/** True when waiting and reconnecting may clear this failure. */
export function isTransient(code: string | undefined): boolean {
  return code !== undefined && ADVICE.get(code)?.transient === true;
}

/** The sentence a failed deployment shows: code, meaning, the doctor command, the page. */
export function describeConnectionError(storeId: string, code: string | undefined): string {
  const what = `external key store ${storeId} is FAILED with ConnectionErrorCode ${code ?? '(none given)'}`;
  const advice = code === undefined ? undefined : ADVICE.get(code);
  if (advice === undefined) {
    return `${what}. This code is not one KMS documents for external key stores (CloudHSM key stores report it); see DescribeCustomKeyStores and the KMS developer guide.`;
  }
  return `${what}: ${advice.quoted.join(' … ')} ${DOCTOR} See docs/troubleshooting.md#${advice.anchor}.`;
}

/** Options of a conformance run: what to test and how to reach it. */

/** Key ids the harness exercises; an empty string for an optional key skips its checks. */
export interface ConformanceKeys {
  /** A key allowed to ENCRYPT and DECRYPT (required). */
  main: string;
  /** A key allowed to ENCRYPT only. */
  encryptOnly: string;
  /** A key allowed to DECRYPT only. */
  decryptOnly: string;
  /** A key allowed neither ENCRYPT nor DECRYPT. */
  impotent: string;
}

/** TLS material for https endpoints: PEM contents, not file names. */
export interface ConformanceTls {
  /** CA certificate(s) that issued the proxy's server certificate. */
  ca?: string | Buffer;
  /** Client certificate for mTLS. */
  cert?: string | Buffer;
  /** Private key of the client certificate. */
  key?: string | Buffer;
  /** Skip server certificate verification (self-signed test setups only). */
  insecure?: boolean;
  /**
   * An expired client certificate (and its key) issued by the CA the proxy trusts, for the
   * expired-certificate check; without it the harness makes an expired one of its own
   * under a throwaway CA, as the AWS test client's bogus-mtls/expired_cert.pem is.
   */
  expiredCert?: string | Buffer;
  expiredKey?: string | Buffer;
}

/** Everything a conformance run needs; every field has the demo's default. */
export interface ConformanceOptions {
  /** Scheme, host and port of the proxy, e.g. https://xks.example.com. */
  endpoint: string;
  /** URI path prefix before /kms/xks/v1, without leading or trailing slash ('' for none). */
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Region KMS puts into the SigV4 credential scope. */
  region: string;
  keys: ConformanceKeys;
  tls: ConformanceTls;
  /** Comma-separated check selectors (see selectChecks); empty runs every check. */
  only: string;
  /** Per-request timeout in ms. */
  requestTimeoutMs: number;
  /** How many encrypt calls the IV uniqueness check makes. */
  ivSamples: number;
}

/** Options as a caller may give them: anything left out takes the demo's default. */
export type ConformanceOptionsInput = Partial<Omit<ConformanceOptions, 'keys' | 'tls'>> & {
  keys?: Partial<ConformanceKeys>;
  tls?: ConformanceTls;
};

/** The demo's values (npm start), which are also the AWS test client's defaults. */
export const DEFAULT_OPTIONS: ConformanceOptions = {
  endpoint: 'http://127.0.0.1:8080',
  prefix: 'example/uri/path/prefix',
  accessKeyId: 'BETWEEN2TENAND3TENCHARACTERS',
  secretAccessKey: 'PleaseReplaceThisWithSomeSecretOfLength43To64',
  region: 'us-east-1',
  keys: { main: 'foo', encryptOnly: 'encrypt_only_key', decryptOnly: 'decrypt_only_key', impotent: 'impotent_key' },
  tls: {},
  only: '',
  requestTimeoutMs: 5000,
  ivSamples: 256,
};

/** Fills in defaults and normalises the endpoint and prefix. */
export function resolveOptions(input: ConformanceOptionsInput = {}): ConformanceOptions {
  const endpoint = new URL(input.endpoint ?? DEFAULT_OPTIONS.endpoint);
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new Error(`endpoint must be http:// or https://, got ${endpoint.protocol}`);
  }
  return {
    ...DEFAULT_OPTIONS,
    ...stripUndefined(input),
    endpoint: endpoint.origin,
    prefix: (input.prefix ?? DEFAULT_OPTIONS.prefix).replace(/^\/+|\/+$/g, ''),
    keys: { ...DEFAULT_OPTIONS.keys, ...stripUndefined(input.keys ?? {}) },
    tls: { ...(input.tls ?? {}) },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

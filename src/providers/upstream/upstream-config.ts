import { z } from 'zod';
import { configMapSchema } from '../../config-values/config-map.ts';

// Not imported from config/schema.ts: that module imports this one (through the provider
// schema union), and the cycle would leave the constant undefined at load time.
/** Spec format of a SigV4 access key id (20-30 chars of A-Z2-7). */
const ACCESS_KEY_ID_PATTERN = /^[A-Z2-7]{20,30}$/;
/** externalKeyId rule of the spec ("API operations"), for both sides of the key id map. */
const KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;
const KEY_ID_MESSAGE = 'must be 1-128 characters of A-Z, a-z, 0-9, period, hyphen and underscore (spec externalKeyId)';

const endpointSchema = z
  .object({
    /** Base URL of one upstream proxy node: scheme, host and port only (e.g. https://xks.vendor.example). */
    url: z
      .string()
      .url()
      .refine((u) => {
        const url = new URL(u);
        return (
          (url.protocol === 'https:' || url.protocol === 'http:') &&
          (url.pathname === '/' || url.pathname === '') &&
          url.search === '' &&
          url.hash === '' &&
          url.username === '' &&
          url.password === ''
        );
      }, 'must be http(s)://host[:port] without path, query or user info; put the upstream path prefix in uriPrefix'),
    /** Id in health (`ekmFleetDetails[].id`) and logs; default `host:port`. */
    id: z.string().min(1).max(64).optional(),
    /** Name expected in the server certificate when it differs from the URL's host. */
    serverName: z.string().min(1).optional(),
  })
  .strict();

const credentialSchema = z
  .object({
    /** The upstream's access key id (spec format). */
    accessKeyId: z.string().regex(ACCESS_KEY_ID_PATTERN, 'must be 20-30 characters of A-Z and 2-7 (spec format)'),
    /** Secret reference: env:NAME, file:PATH, or the literal secret (discouraged). */
    secretAccessKey: z.string().min(1),
  })
  .strict();

const tlsSchema = z
  .object({
    /** PEM file of the CA(s) that issued the upstream's server certificate; default: Node's public CAs. */
    ca: z.string().min(1).optional(),
    /** PEM file of this proxy's client certificate, when the upstream requires mTLS. */
    cert: z.string().min(1).optional(),
    /** PEM file of the client certificate's private key. */
    key: z.string().min(1).optional(),
    /** Secret reference to the key's passphrase, if it is encrypted. */
    keyPassphrase: z.string().min(1).optional(),
    /** Lowest TLS version offered; the XKS spec requires TLS 1.2 or later. */
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  })
  .strict()
  .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'set both cert and key for a client certificate, or neither' });

const poolSchema = z
  .object({
    /** Most keep-alive connections per upstream node; each carries one request at a time (HTTP/1.1). */
    connectionsPerEndpoint: z.number().int().min(1).max(1024).default(32),
    /** An idle connection is closed after this long (the upstream's keep-alive hint may shorten it). */
    keepAliveTimeoutMs: z.number().int().min(1_000).max(600_000).default(60_000),
    /** Upper bound of a TCP + TLS connect; the request's own deadline usually ends it sooner. */
    connectTimeoutMs: z.number().int().min(10).max(60_000).default(1_000),
  })
  .strict();

/**
 * Config of the upstream key store: this proxy's key store forwards the four XKS operations
 * to another XKS proxy (a vendor's endpoint), re-signed with the upstream's credentials.
 */
export const upstreamProviderConfigSchema = z
  .object({
    type: z.literal('upstream'),
    /** Nodes of the upstream proxy that serve the same keys, in order of preference; at most 10 (ekmFleetDetails limit). */
    endpoints: z.array(endpointSchema).min(1).max(10),
    /** The upstream's URI path prefix (its XksProxyUriPath without /kms/xks/v1), no leading or trailing slash. */
    uriPrefix: z
      .string()
      .max(116)
      .regex(/^([a-zA-Z0-9_-]+(\/[a-zA-Z0-9_-]+)*)?$/, 'must be segments of a-zA-Z0-9_- separated by single slashes, without leading or trailing slash'),
    /** Region in the SigV4 credential scope the upstream expects. */
    region: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'must be an AWS region name such as us-east-1')
      .default('us-east-1'),
    /** The SigV4 credential the upstream issued to this proxy. */
    credential: credentialSchema,
    tls: tlsSchema.optional(),
    /** Our externalKeyId -> the upstream's key id. */
    keyIdMap: configMapSchema(KEY_ID, KEY_ID_MESSAGE, z.string().regex(KEY_ID, KEY_ID_MESSAGE)).default({}),
    /** What to do with a key id missing from keyIdMap: send it unchanged, or answer KeyNotFoundException. */
    unmappedKeyIds: z.enum(['forward', 'reject']).default('forward'),
    pool: poolSchema.default(() => poolSchema.parse({})),
    /** With several endpoints, the most one endpoint may take before the next one is tried. */
    attemptTimeoutMs: z.number().int().min(10).max(10_000).default(150),
    /**
     * Budget of one round of GetHealthStatus calls to the upstreams (run in parallel, cached
     * like any deep check); below KMS's 250 ms so a hung upstream still gets its own entry.
     */
    healthCheckTimeoutMs: z.number().int().min(10).max(10_000).default(200),
    /** An endpoint that failed is tried after the others for this long. */
    downBackoffMs: z.number().int().min(0).max(600_000).default(5_000),
    /** Largest response body accepted from an upstream, in bytes. */
    maxResponseBytes: z
      .number()
      .int()
      .min(16 * 1024)
      .max(16 * 1024 * 1024)
      .default(64 * 1024),
    /** ekmVendor reported to KMS; default: what the first answering upstream reports. */
    ekmVendor: z.string().min(1).max(128).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const ids = new Set<string>();
    c.endpoints.forEach((e, i) => {
      const id = upstreamEndpointId(e);
      if (ids.has(id)) ctx.addIssue({ code: 'custom', path: ['endpoints', i], message: `duplicate endpoint id "${id}"` });
      ids.add(id);
    });
  });

/** Parsed upstream provider config. */
export type UpstreamProviderConfig = z.infer<typeof upstreamProviderConfigSchema>;
/** One upstream endpoint's parsed config. */
export type UpstreamEndpointConfig = UpstreamProviderConfig['endpoints'][number];

/** An endpoint's id in health and logs: its configured id, else host:port. */
export function upstreamEndpointId(e: { url: string; id?: string | undefined }): string {
  if (e.id !== undefined) return e.id;
  const url = new URL(e.url);
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

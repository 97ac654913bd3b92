import { z } from 'zod';
import { opsKeyStoreShape, opsTopLevelShape } from './ops-config.ts';
import { providerConfigSchema } from '../providers/provider-config.ts';

/**
 * XksProxyUriPath is `/<prefix>/kms/xks/v1`, at most 128 chars of a-zA-Z0-9/_- (spec
 * "URI path prefix"), so the prefix itself may use at most 128 - "/kms/xks/v1".length - 1.
 */
const MAX_PREFIX_LENGTH = 128 - '/kms/xks/v1'.length - 1;

/** Spec formats of the SigV4 access key id (20-30 chars of A-Z2-7). */
export const ACCESS_KEY_ID_PATTERN = /^[A-Z2-7]{20,30}$/;

const credentialSchema = z
  .object({
    accessKeyId: z.string().regex(ACCESS_KEY_ID_PATTERN, 'must be 20-30 characters of A-Z and 2-7 (spec format)'),
    /** Secret reference: env:NAME, file:PATH, or the literal secret (discouraged). */
    secretAccessKey: z.string().min(1),
    /**
     * When this credential was issued (ISO date); shown as credential age. A date in the
     * future is refused (a day's slack for time zones): it would make a stale credential
     * look new to `credentials list --max-age-days`.
     */
    createdAt: z
      .string()
      .refine((v) => !Number.isNaN(Date.parse(v)), 'must be an ISO date such as 2026-11-01')
      .refine((v) => Date.parse(v) <= Date.now() + 24 * 3600_000, 'is in the future')
      .optional(),
  })
  .strict();

const keyStoreSchema = z
  .object({
    /** URI path prefix without leading/trailing slash; empty string allowed. */
    prefix: z
      .string()
      .max(MAX_PREFIX_LENGTH)
      .regex(/^([a-zA-Z0-9_-]+(\/[a-zA-Z0-9_-]+)*)?$/, 'must be segments of a-zA-Z0-9_- separated by single slashes, without leading or trailing slash'),
    region: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'must be an AWS region name such as us-east-1')
      .default('us-east-1'),
    credentials: z.array(credentialSchema).min(1, 'at least one credential is required'),
    /**
     * How to build the GCM AAD for ciphertexts that do not carry this proxy's
     * ciphertextMetadata, i.e. ones made by the proxy this one replaced (spec "AAD"):
     * `spec` uses the request AAD itself; `aws-sample-sha256` uses SHA-256(AAD) as the AWS
     * sample proxy did, so keys migrated from it still decrypt what KMS encrypted before.
     * New encryptions always use the spec construction and record it in the metadata.
     */
    foreignCiphertextAad: z.enum(['spec', 'aws-sample-sha256']).default('spec'),
    provider: providerConfigSchema,
    ...opsKeyStoreShape,
  })
  .strict();

const mtlsSchema = z
  .object({
    /** PEM file of the CA(s) that issue client certificates. */
    clientCa: z.string().min(1),
    /** Required client certificate subject CN, e.g. cks.kms.us-east-1.amazonaws.com. */
    clientSubjectCn: z.string().min(1),
  })
  .strict();

const tlsSchema = z
  .object({
    cert: z.string().min(1),
    key: z.string().min(1),
    mtls: mtlsSchema.optional(),
  })
  .strict();

/**
 * What one client may hold of the listener. KMS sends small requests over kept-alive
 * connections and gives each call 250 ms, so a request whose headers take seconds is not
 * KMS; the defaults cut such clients off long before they tie up sockets or memory.
 * Limits are per process (with `--workers N`, each worker has its own).
 */
const limitsSchema = z
  .object({
    /** Connections open at once; more are closed as they arrive (Node's server.maxConnections). */
    maxConnections: z.number().int().min(1).max(1_000_000).default(4096),
    /**
     * Connections open at once from one client address; 0 turns the per-address limit off.
     * Behind an NLB every KMS connection comes from the NLB's few addresses: keep it above
     * the connections KMS opens, or 0.
     */
    maxConnectionsPerPeer: z.number().int().min(0).max(1_000_000).default(1024),
    /** HTTP/2 streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS). */
    http2MaxConcurrentStreams: z.number().int().min(1).max(10_000).default(128),
    /** Largest request header block in bytes (HTTP/1.1 request line + headers; HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE). */
    maxHeaderBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(16 * 1024),
    /** Most header fields in one request (HTTP/2 refuses the stream; HTTP/1.1 ignores the rest). */
    maxHeaderCount: z.number().int().min(16).max(2000).default(100),
    /** A TLS handshake must complete within this many ms. */
    handshakeTimeoutMs: z.number().int().min(100).max(120_000).default(5_000),
    /** HTTP/1.1: the request line and headers must arrive within this many ms. */
    headersTimeoutMs: z.number().int().min(100).max(300_000).default(5_000),
    /** The whole request, body included, must arrive within this many ms (HTTP/1.1 and HTTP/2). */
    requestReceiveTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    /** A connection (HTTP/1.1 keep-alive or HTTP/2 session) with no request for this many ms is closed. */
    idleTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
  })
  .strict()
  .refine((l) => l.headersTimeoutMs <= l.requestReceiveTimeoutMs, {
    message: 'headersTimeoutMs must not exceed requestReceiveTimeoutMs',
    path: ['headersTimeoutMs'],
  });

/** Connection and request limits of the listener (`server.limits`). */
export type ServerLimits = z.infer<typeof limitsSchema>;

const serverSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    tls: tlsSchema.optional(),
    /** Serve HTTP/2 with HTTP/1.1 fallback on the TLS port (ignored without TLS). */
    http2: z.boolean().default(true),
    /** Largest request body accepted, in bytes. */
    bodyLimitBytes: z
      .number()
      .int()
      .min(16 * 1024)
      .max(1024 * 1024)
      .default(64 * 1024),
    /** Budget for one call in ms (KMS gives up after 250 ms, network included). */
    requestTimeoutMs: z.number().int().min(10).max(10_000).default(240),
    /** Serve GET /status (see docs/troubleshooting.md) to loopback clients, or to holders of statusToken. */
    statusEndpoint: z.boolean().default(false),
    /** Secret reference to a bearer token that also admits non-loopback clients to /status. */
    statusToken: z.string().min(1).optional(),
    /** Connection, header and timeout limits of the listener. */
    limits: limitsSchema.default(() => limitsSchema.parse({})),
  })
  .strict();

const healthSchema = z
  .object({
    /** How long a deep health result is reused; the spec allows at most 60 s. */
    cacheSeconds: z.number().min(0).max(60).default(30),
    /**
     * xksProxyFleetSize reported to KMS, fixed. Unset: the number of live proxies when the
     * key store counts them (software keystore on PostgreSQL), else fleetSizeFloor.
     */
    fleetSize: z.number().int().min(1).optional(),
    /** The least xksProxyFleetSize reported when it is counted (e.g. the planned fleet size). */
    fleetSizeFloor: z.number().int().min(1).default(1),
  })
  .strict();

const loggingSchema = z
  .object({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** Human-readable output; default: when stdout is a terminal. */
    pretty: z.boolean().optional(),
    /**
     * Level of the request line of a refused request (any 4xx: 400, 401, 403, 404, 405,
     * 429). `warn` (default) keeps refusals and their reasons visible at `level: warn`;
     * `info` files them with served requests. 5xx lines are always `error`.
     */
    refusalLevel: z.enum(['info', 'warn']).default('warn'),
  })
  .strict();

/** The whole proxy config file. */
export const proxyConfigSchema = z
  .object({
    server: serverSchema.default(() => serverSchema.parse({})),
    logging: loggingSchema.default(() => loggingSchema.parse({})),
    health: healthSchema.default(() => healthSchema.parse({})),
    keyStores: z.array(keyStoreSchema).min(1, 'at least one key store is required'),
    ...opsTopLevelShape,
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.keyStores.forEach((ks, i) => {
      if (seen.has(ks.prefix)) {
        ctx.addIssue({ code: 'custom', path: ['keyStores', i, 'prefix'], message: `duplicate prefix "${ks.prefix}"` });
      }
      seen.add(ks.prefix);
    });
  });

/** Parsed config. */
export type ProxyConfig = z.infer<typeof proxyConfigSchema>;
/** One key store's parsed config. */
export type KeyStoreConfig = ProxyConfig['keyStores'][number];
/** One credential's parsed config. */
export type CredentialConfig = KeyStoreConfig['credentials'][number];

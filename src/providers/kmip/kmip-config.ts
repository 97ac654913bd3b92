import { z } from 'zod';

const kmipServerSchema = z
  .object({
    /** Id in health (`ekmFleetDetails[].id`) and logs; default `host:port`. */
    id: z.string().min(1).max(64).optional(),
    host: z.string().min(1),
    /** 5696 is the IANA port for KMIP over TLS. */
    port: z.number().int().min(1).max(65535).default(5696),
    /** Name expected in the server certificate when it differs from `host` (e.g. host is an IP). */
    serverName: z.string().min(1).optional(),
  })
  .strict();

const kmipTlsSchema = z
  .object({
    /** PEM file of the CA(s) that issued the KMIP servers' certificates. */
    ca: z.string().min(1),
    /** PEM file of the proxy's client certificate (needs extendedKeyUsage clientAuth for PyKMIP). */
    cert: z.string().min(1),
    /** PEM file of the client certificate's private key. */
    key: z.string().min(1),
    /** Secret reference (env:NAME, file:PATH) to the key's passphrase, if it is encrypted. */
    keyPassphrase: z.string().min(1).optional(),
    /** Lowest TLS version offered; KMIP profiles require TLS 1.2 or later. */
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
  })
  .strict();

const kmipPoolSchema = z
  .object({
    /** Persistent connections per server; each carries one request at a time. */
    maxConnectionsPerServer: z.number().int().min(1).max(64).default(4),
    /** An idle connection is closed after this long (measured: PyKMIP keeps idle sessions open). */
    idleTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
  })
  .strict();

/** Config of the KMIP provider: keys live in one KMIP 1.4 server or a cluster of them. */
export const kmipProviderConfigSchema = z
  .object({
    type: z.literal('kmip'),
    /** Servers holding the same keys, in order of preference; at most 10 (the spec's ekmFleetDetails limit). */
    servers: z.array(kmipServerSchema).min(1).max(10),
    tls: kmipTlsSchema,
    /** KMIP Name of an external key = this prefix + the XKS externalKeyId. */
    keyNamePrefix: z.string().max(128).default(''),
    /** Key id (KMIP Name = keyNamePrefix + this) of the AES-256 key used only by the deep health check. */
    healthCheckKeyName: z.string().min(1).max(128).default('xks-proxy-health-canary'),
    pool: kmipPoolSchema.default(() => kmipPoolSchema.parse({})),
    /** With several servers, the most one server may take before the next is tried. */
    attemptTimeoutMs: z.number().int().min(10).max(10_000).default(150),
    /** A server that failed is tried after the others for this long. */
    downBackoffMs: z.number().int().min(0).max(600_000).default(5_000),
    /** How long a key's attributes (state, usage) are reused; 0 reads them on every call. */
    attributeCacheMs: z.number().int().min(0).max(60_000).default(1_000),
    /** Largest response accepted from a server, in bytes. */
    maxResponseBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
  })
  .strict()
  .superRefine((c, ctx) => {
    const ids = new Set<string>();
    c.servers.forEach((s, i) => {
      const id = s.id ?? `${s.host}:${s.port}`;
      if (ids.has(id)) ctx.addIssue({ code: 'custom', path: ['servers', i], message: `duplicate server id "${id}"` });
      ids.add(id);
    });
  });

/** Parsed KMIP provider config. */
export type KmipProviderConfig = z.infer<typeof kmipProviderConfigSchema>;

import { z } from 'zod';
import { policySchema } from './policy-schema.ts';

/** A token-bucket rate limit: steady requests per second and the burst allowed at once. */
export const rateLimitSchema = z
  .object({
    requestsPerSecond: z.number().positive(),
    /** Bucket size; default one second's worth (requestsPerSecond, rounded up). */
    burst: z.number().int().min(1).optional(),
  })
  .strict();

/** The Prometheus listener, separate from the XKS listener. */
export const metricsConfigSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9464),
    path: z
      .string()
      .regex(/^\/[^?#]*$/, 'must be an absolute path such as /metrics')
      .default('/metrics'),
  })
  .strict();

/**
 * The admin listener: plain HTTP, never behind the XKS listener's mTLS, serving GET /ping,
 * /ready and /status for health checks and `xks-proxy status`. With `serve --workers N`
 * the primary serves it and answers for all workers together (src/server/admin-views.ts).
 */
export const adminConfigSchema = z
  .object({
    /** Loopback by default; a container's HEALTHCHECK runs inside the container. */
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9480),
    /**
     * Secret reference (env:NAME or file:PATH): a bearer token that lets non-loopback
     * clients read /status. /ping and /ready name no secret and need none.
     */
    token: z.string().min(1).optional(),
  })
  .strict();

/** The hash-chained audit log. */
export const auditConfigSchema = z
  .object({
    /** JSON lines file, appended to (mode 0600); relative to the config file. */
    file: z.string().min(1),
    /**
     * Secret reference (env:NAME or file:PATH) to a key of at least 32 characters: the
     * chain becomes HMAC-SHA256 under it, which whoever can rewrite the file cannot forge.
     */
    hmacKey: z.string().min(1).optional(),
  })
  .strict();

/** Reloading config without a restart. */
export const reloadConfigSchema = z
  .object({
    /** Also reload when the config file changes (SIGHUP always reloads). */
    watch: z.boolean().default(false),
    /** How often the file is checked when watching. */
    watchIntervalMs: z.number().int().min(100).max(60_000).default(2_000),
  })
  .strict();

/** Graceful shutdown on SIGTERM / SIGINT. */
export const shutdownConfigSchema = z
  .object({
    /** How long requests in flight get to finish before the process exits anyway. */
    drainTimeoutMs: z.number().int().min(0).max(600_000).default(5_000),
  })
  .strict();

/** Operational sections of the config file's top level. */
export const opsTopLevelShape = {
  rateLimit: rateLimitSchema.optional(),
  metrics: metricsConfigSchema.optional(),
  admin: adminConfigSchema.optional(),
  audit: auditConfigSchema.optional(),
  reload: reloadConfigSchema.default(() => reloadConfigSchema.parse({})),
  shutdown: shutdownConfigSchema.default(() => shutdownConfigSchema.parse({})),
};

/** Operational fields of each key store. */
export const opsKeyStoreShape = {
  /** This prefix's own quota (spec "URI path prefix": independent quotas per prefix). */
  rateLimit: rateLimitSchema.optional(),
  /** Secondary authorization over requestMetadata (spec "Authorization"). */
  policy: policySchema.optional(),
};

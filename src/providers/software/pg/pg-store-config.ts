import { z } from 'zod';

/**
 * Config of the PostgreSQL store of the software keystore
 * (`provider: { type: software, store: { postgres: {...} } }`). Several proxies share one
 * store; each holds the keys in memory and hears about changes through LISTEN/NOTIFY.
 */
export const pgStoreConfigSchema = z
  .object({
    /**
     * Secret reference (env:NAME, file:PATH, or inline) to a connection URL,
     * postgres://user:password@host:port/database. The password belongs in the reference.
     */
    url: z.string().min(1),
    /** Schema holding the keystore tables; several key stores can share a database with one schema each. */
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,47}$/, 'must be 1-48 characters of a-z, 0-9 and _, starting with a letter or _')
      .default('xks_proxy'),
    /** TLS to the server. Off unless set; with RDS/Aurora give the region's CA bundle as `ca`. */
    tls: z
      .object({
        /** PEM file of the CA(s) that issue the server certificate (default: the system's). */
        ca: z.string().min(1).optional(),
        /** Client certificate and key (PEM files) for servers that require one. */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        /** Verify the server certificate and host name; only turn off for a local test server. */
        verify: z.boolean().default(true),
      })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'set both cert and key, or neither' })
      .optional(),
    /** Connections for reads and writes (the LISTEN connection is one more). */
    poolSize: z.number().int().min(1).max(50).default(4),
    /** Give up connecting after this long. */
    connectTimeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** Server-side limit for one statement. */
    statementTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** Full re-read of every key this often, a backstop for a lost notification. */
    reloadIntervalSeconds: z.number().int().min(5).max(86_400).default(60),
    /** How often the proxy writes its heartbeat row. */
    heartbeatSeconds: z.number().int().min(1).max(300).default(10),
    /** A proxy whose heartbeat is older than this no longer counts as live. */
    liveSeconds: z.number().int().min(2).max(3_600).default(30),
  })
  .strict()
  .refine((c) => c.liveSeconds > c.heartbeatSeconds, { message: 'liveSeconds must be greater than heartbeatSeconds', path: ['liveSeconds'] });

/** Parsed PostgreSQL store config. */
export type PgStoreConfig = z.infer<typeof pgStoreConfigSchema>;

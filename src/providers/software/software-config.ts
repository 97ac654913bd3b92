import { z } from 'zod';
import { CEILING_SCRYPT_N, isPowerOfTwo } from './software-keystore-kek.ts';
import { pgStoreConfigSchema } from './pg/pg-store-config.ts';

/** Config of the software keystore provider (the embedded default). */
export const softwareProviderConfigSchema = z
  .object({
    type: z.literal('software'),
    /** Keystore file (the default store); relative paths are resolved against the config file's directory. */
    path: z.string().min(1).optional(),
    /** Where the keys live instead of a file: a PostgreSQL database shared by a fleet of proxies (docs/fleet.md). */
    store: z.object({ postgres: pgStoreConfigSchema }).strict().optional(),
    /** Secret reference (env:NAME, file:PATH or inline) to a passphrase; the KEK is derived with scrypt. */
    passphrase: z.string().min(1).optional(),
    /** Secret reference to a raw 32-byte KEK, base64 or hex encoded; an alternative to `passphrase`. */
    kek: z.string().min(1).optional(),
    /**
     * Highest scrypt N the proxy accepts from the file's header (default 2^17). The header
     * is checked before the derivation, so a tampered header cannot cost seconds and GiBs.
     */
    maxScryptN: z
      .number()
      .int()
      .refine((n) => isPowerOfTwo(n) && n >= 2 ** 10 && n <= CEILING_SCRYPT_N, {
        message: 'maxScryptN must be a power of two from 1024 (2^10) to 1048576 (2^20)',
      })
      .optional(),
  })
  .strict()
  .refine((c) => (c.passphrase === undefined) !== (c.kek === undefined), {
    message: 'set exactly one of passphrase or kek',
  })
  .refine((c) => (c.path === undefined) !== (c.store === undefined), {
    message: 'set exactly one of path (a keystore file) or store.postgres (a shared database)',
  });

/** Parsed software provider config. */
export type SoftwareProviderConfig = z.infer<typeof softwareProviderConfigSchema>;

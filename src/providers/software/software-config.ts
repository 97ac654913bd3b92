import { z } from 'zod';

/** Config of the software keystore provider (the embedded default). */
export const softwareProviderConfigSchema = z
  .object({
    type: z.literal('software'),
    /** Keystore file; relative paths are resolved against the config file's directory. */
    path: z.string().min(1),
    /** Secret reference (env:NAME, file:PATH or inline) to a passphrase; the KEK is derived with scrypt. */
    passphrase: z.string().min(1).optional(),
    /** Secret reference to a raw 32-byte KEK, base64 or hex encoded; an alternative to `passphrase`. */
    kek: z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => (c.passphrase === undefined) !== (c.kek === undefined), {
    message: 'set exactly one of passphrase or kek',
  });

/** Parsed software provider config. */
export type SoftwareProviderConfig = z.infer<typeof softwareProviderConfigSchema>;

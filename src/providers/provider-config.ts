import { z } from 'zod';
import { softwareProviderConfigSchema } from './software/software-config.ts';

/**
 * Config schema of every provider, keyed by `type`. Adding a provider: one folder under
 * src/providers/, its schema here, its factory in registry.ts.
 */
export const providerConfigSchema = z.union([softwareProviderConfigSchema]);

/** Parsed config of any provider. */
export type ProviderConfig = z.infer<typeof providerConfigSchema>;

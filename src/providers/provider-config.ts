import { z } from 'zod';
import { kmipProviderConfigSchema } from './kmip/kmip-config.ts';
import { pkcs11ProviderConfigSchema } from './pkcs11/pkcs11-config.ts';
import { softwareProviderConfigSchema } from './software/software-config.ts';
import { upstreamProviderConfigSchema } from './upstream/upstream-config.ts';

/**
 * Config schema of every provider, keyed by `type`. Adding a provider: one folder under
 * src/providers/, its schema here, its factory in registry.ts. A discriminated union, so
 * a config error names the fields of the provider the `type` chose.
 */
export const providerConfigSchema = z.discriminatedUnion('type', [
  softwareProviderConfigSchema,
  pkcs11ProviderConfigSchema,
  kmipProviderConfigSchema,
  upstreamProviderConfigSchema,
]);

/** Parsed config of any provider. */
export type ProviderConfig = z.infer<typeof providerConfigSchema>;

/**
 * Providers that are KeyProviders (raw AES-GCM behind LocalKeyStore). `upstream` is not:
 * it forwards whole XKS calls, so it is a KeyStore of its own (see build-tenants.ts).
 */
export type KeyProviderConfig = Exclude<ProviderConfig, { type: 'upstream' }>;

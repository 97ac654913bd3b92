import type { KeyProvider } from '../xks/key-provider-port.ts';
import type { KeyProviderConfig } from './provider-config.ts';
import type { ProviderDeps } from './provider-deps.ts';
import { createKmipProvider } from './kmip/kmip-provider.ts';
import { createPkcs11Provider } from './pkcs11/pkcs11-provider.ts';
import { createSoftwareProvider } from './software/software-provider.ts';

type FactoryFor<T extends KeyProviderConfig['type']> = (config: Extract<KeyProviderConfig, { type: T }>, deps: ProviderDeps) => KeyProvider;

/** One factory per provider type; a provider type without a factory is a compile error. */
const PROVIDER_FACTORIES: { [T in KeyProviderConfig['type']]: FactoryFor<T> } = {
  software: createSoftwareProvider,
  pkcs11: createPkcs11Provider,
  kmip: createKmipProvider,
};

/** Builds the provider a key store's config names. */
export function createProvider(config: KeyProviderConfig, deps: ProviderDeps): KeyProvider {
  const factory = PROVIDER_FACTORIES[config.type] as FactoryFor<typeof config.type>;
  return factory(config, deps);
}

import type { CallContext, EkmHealth, KeyUsage, ProviderStats } from './key-provider-port.ts';
import type { DecryptRequest, EncryptRequest, HealthRequest, KeyMetadataRequest } from './requests.ts';

/** GetKeyMetadata response (spec). */
export interface KeyMetadataResponse {
  keySpec: 'AES_256';
  keyUsage: KeyUsage[];
  keyStatus: 'ENABLED' | 'DISABLED';
}

/** Encrypt response (spec), Base64 fields. */
export interface EncryptResponse {
  ciphertext: string;
  ciphertextMetadata?: string;
  initializationVector: string;
  authenticationTag: string;
  ciphertextDataIntegrityValue?: string;
}

/** Decrypt response (spec). */
export interface DecryptResponse {
  plaintext: string;
}

/** GetHealthStatus response (spec). */
export interface HealthResponse {
  xksProxyFleetSize: number;
  xksProxyVendor: string;
  xksProxyModel: string;
  ekmVendor: string;
  ekmFleetDetails: Array<Pick<EkmHealth, 'id' | 'model' | 'healthStatus'>>;
}

/** One logical key store (one URI prefix): the four XKS operations on typed requests. */
export interface KeyStore {
  /** The URI prefix this key store serves ("" for none). */
  readonly prefix: string;
  health(req: HealthRequest, ctx: CallContext): Promise<HealthResponse>;
  getKeyMetadata(keyId: string, req: KeyMetadataRequest, ctx: CallContext): Promise<KeyMetadataResponse>;
  encrypt(keyId: string, req: EncryptRequest, ctx: CallContext): Promise<EncryptResponse>;
  decrypt(keyId: string, req: DecryptRequest, ctx: CallContext): Promise<DecryptResponse>;
  /** The latest deep health, for readiness probes; runs a check if none is cached. */
  readiness(ctx: CallContext): Promise<EkmHealth[]>;
  /** Its provider's counters (session pools) for metrics; optional: a store without a provider has none. */
  stats?(): ProviderStats;
  close(): Promise<void>;
}

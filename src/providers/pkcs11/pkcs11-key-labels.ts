import { configMap } from '../../config-values/config-map.ts';
import { XksError } from '../../xks/errors.ts';
import type { Pkcs11ProviderConfig } from './pkcs11-config.ts';

/** Which HSM key (CKA_LABEL) an externalKeyId names: config `keyLabels`, `unmappedKeys`, the health key. */
export class Pkcs11KeyLabels {
  /**
   * A Map, not the parsed object: key ids come from requests, and `constructor` or
   * `toString` would find an inherited function there and hand it to pkcs11js (issue 15).
   */
  readonly #mapped: ReadonlyMap<string, string>;
  readonly #mappedOnly: boolean;
  readonly #healthKeyLabel: string;

  constructor(config: Pick<Pkcs11ProviderConfig, 'keyLabels' | 'unmappedKeys' | 'healthKeyLabel'>) {
    this.#mapped = configMap(config.keyLabels);
    this.#mappedOnly = config.unmappedKeys === 'mapped-only';
    this.#healthKeyLabel = config.healthKeyLabel;
  }

  /** The CKA_LABEL an externalKeyId maps to (config keyLabels, else the id itself); KeyNotFoundException when none. */
  labelFor(keyId: string): string {
    const mapped = this.#mapped.get(keyId);
    if (mapped !== undefined) return mapped;
    if (this.#mappedOnly) throw new XksError('KeyNotFoundException', `Key ${keyId} is not mapped to an HSM key.`);
    // The canary is for health checks only (spec: use a dedicated key so logs show no phantom customer operations).
    if (keyId === this.#healthKeyLabel) throw new XksError('KeyNotFoundException', `Key ${keyId} is reserved for health checks.`);
    return keyId;
  }
}

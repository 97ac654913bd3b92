/**
 * KMIP key attributes -> the XKS view of a key (KeyInfo). The KMIP State (spec 1.4
 * section 3.22 and the life cycle in 3.22 figure 1) decides the status:
 * - Active: ENABLED, the only state in which KMIP allows protecting data.
 * - Pre-Active, Deactivated, Compromised: the key exists but KMS must not use it:
 *   DISABLED (the key store answers its encrypt/decrypt with InvalidStateException).
 *   KMIP lets a Deactivated key still decrypt, but XKS keyStatus is one flag for both
 *   directions and PyKMIP refuses any use outside Active, so DISABLED is the honest answer.
 * - Destroyed, Destroyed Compromised: the key material is gone for good:
 *   KeyNotFoundException, as for a key that never existed.
 * Only AES-256 keys are XKS keys (spec GetKeyMetadata keySpec AES_256); a key of any other
 * algorithm or length exists but cannot serve KMS: InvalidStateException with the reason
 * (KMS shows it as an invalid key configuration), the same answer as the PKCS#11 provider.
 */
import { XksError } from '../../xks/errors.ts';
import type { KeyInfo, KeyUsage } from '../../xks/key-provider-port.ts';
import { constantName, CryptographicAlgorithm, KeyState, UsageMask } from './kmip-constants.ts';
import type { KmipKeyAttributes } from './kmip-operations.ts';

/** XKS usages granted by a KMIP Cryptographic Usage Mask (spec 9.1.3.3.1: Encrypt 0x4, Decrypt 0x8). */
export function usagesFromMask(mask: number | undefined): KeyUsage[] {
  const usages: KeyUsage[] = [];
  if (mask === undefined) return usages;
  if ((mask & UsageMask.Encrypt) !== 0) usages.push('ENCRYPT');
  if ((mask & UsageMask.Decrypt) !== 0) usages.push('DECRYPT');
  return usages;
}

/** The KMIP usage mask for a list of XKS usages. */
export function maskFromUsages(usages: readonly KeyUsage[]): number {
  return (usages.includes('ENCRYPT') ? UsageMask.Encrypt : 0) | (usages.includes('DECRYPT') ? UsageMask.Decrypt : 0);
}

/** Builds the KeyInfo of `keyId` from its KMIP attributes, or throws the spec's error. */
export function keyInfoFromAttributes(keyId: string, attributes: KmipKeyAttributes): KeyInfo {
  const { state, algorithm, length } = attributes;
  if (state === undefined) {
    throw new XksError('InternalException', `The KMIP server did not report the State of key ${keyId}.`);
  }
  if (state === KeyState.Destroyed || state === KeyState.DestroyedCompromised) {
    throw new XksError('KeyNotFoundException', `Key ${keyId} is destroyed in the KMIP server.`);
  }
  if (algorithm !== CryptographicAlgorithm.AES || length !== 256) {
    const what = `algorithm ${algorithm === undefined ? 'unknown' : constantName(CryptographicAlgorithm, algorithm)}, length ${length ?? 'unknown'}`;
    throw new XksError('InvalidStateException', `KMIP key ${keyId} is not an AES-256 key (${what}); XKS keys must be AES_256.`);
  }
  return {
    keyId,
    usages: usagesFromMask(attributes.usageMask),
    enabled: state === KeyState.Active,
    currentVersion: 0,
  };
}

/** Human name of a KMIP state, for messages. */
export function stateName(state: number | undefined): string {
  return state === undefined ? 'unknown' : constantName(KeyState, state);
}

import { describe, expect, it } from 'vitest';
import { KeyState } from '../../../../src/providers/kmip/kmip-constants.ts';
import { keyInfoFromAttributes, maskFromUsages, usagesFromMask } from '../../../../src/providers/kmip/kmip-key-info.ts';
import type { KmipKeyAttributes } from '../../../../src/providers/kmip/kmip-operations.ts';

const aes256 = (state: number | undefined, usageMask = 0x0c): KmipKeyAttributes => ({ names: ['k'], algorithm: 3, length: 256, usageMask, state });

function errorName(run: () => unknown): string | undefined {
  try {
    run();
  } catch (e) {
    return (e as { errorName?: string }).errorName;
  }
  return undefined;
}

describe('KMIP key attributes -> XKS key info', () => {
  it('reports an Active key as enabled', () => {
    expect(keyInfoFromAttributes('k', aes256(KeyState.Active))).toEqual({ keyId: 'k', usages: ['ENCRYPT', 'DECRYPT'], enabled: true, currentVersion: 0 });
  });

  it('reports Pre-Active, Deactivated and Compromised keys as disabled', () => {
    for (const state of [KeyState.PreActive, KeyState.Deactivated, KeyState.Compromised]) {
      expect(keyInfoFromAttributes('k', aes256(state)).enabled).toBe(false);
    }
  });

  it('reports Destroyed and Destroyed Compromised keys as not found', () => {
    expect(errorName(() => keyInfoFromAttributes('k', aes256(KeyState.Destroyed)))).toBe('KeyNotFoundException');
    expect(errorName(() => keyInfoFromAttributes('k', aes256(KeyState.DestroyedCompromised)))).toBe('KeyNotFoundException');
  });

  it('refuses keys that are not AES-256 and keys without a State', () => {
    expect(errorName(() => keyInfoFromAttributes('k', { ...aes256(KeyState.Active), length: 128 }))).toBe('InvalidStateException');
    expect(errorName(() => keyInfoFromAttributes('k', { ...aes256(KeyState.Active), algorithm: 4 }))).toBe('InvalidStateException');
    expect(errorName(() => keyInfoFromAttributes('k', aes256(undefined)))).toBe('InternalException');
  });

  it('reads usages from the Encrypt (0x4) and Decrypt (0x8) bits and ignores the others', () => {
    expect(usagesFromMask(0x04)).toEqual(['ENCRYPT']);
    expect(usagesFromMask(0x08)).toEqual(['DECRYPT']);
    expect(usagesFromMask(0x0c | 0x01 | 0x10)).toEqual(['ENCRYPT', 'DECRYPT']);
    expect(usagesFromMask(0x03)).toEqual([]);
    expect(usagesFromMask(undefined)).toEqual([]);
  });

  it('builds usage masks for new keys', () => {
    expect(maskFromUsages(['ENCRYPT', 'DECRYPT'])).toBe(0x0c);
    expect(maskFromUsages(['DECRYPT'])).toBe(0x08);
    expect(maskFromUsages([])).toBe(0);
  });
});

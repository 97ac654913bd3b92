import { describe, expect, it } from 'vitest';
import { resolveSecretRef } from '../../../src/config-values/secret-ref.ts';

describe('resolveSecretRef env:NAME', () => {
  it('reads an own environment variable', () => {
    expect(resolveSecretRef('env:XKS_PIN', 'pin', { XKS_PIN: '1234' })).toBe('1234');
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'treats env:%s as unset, not as an inherited member of the environment object',
    (name) => {
      expect(() => resolveSecretRef(`env:${name}`, 'pin', {})).toThrow(`pin: environment variable ${name} is not set`);
      expect(() => resolveSecretRef(`env:${name}`, 'pin', process.env)).toThrow('is not set');
    },
  );
});

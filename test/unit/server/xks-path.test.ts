import { describe, expect, it } from 'vitest';
import { parseXksPath } from '../../../src/server/xks-path.ts';

describe('parseXksPath', () => {
  it('splits a multi-segment prefix, key id and operation', () => {
    expect(parseXksPath('/example/uri/path/prefix/kms/xks/v1/keys/foo/encrypt')).toEqual({
      kind: 'operation',
      prefix: 'example/uri/path/prefix',
      operation: 'encrypt',
      keyId: 'foo',
    });
  });

  it('accepts the empty prefix', () => {
    expect(parseXksPath('/kms/xks/v1/health')).toEqual({ kind: 'operation', prefix: '', operation: 'health', keyId: undefined });
  });

  it('reports unknown operations under the API root with their prefix', () => {
    expect(parseXksPath('/p/kms/xks/v1/keys/foo/sign')).toEqual({ kind: 'unknown-operation', prefix: 'p' });
    expect(parseXksPath('/p/kms/xks/v1')).toEqual({ kind: 'unknown-operation', prefix: 'p' });
    expect(parseXksPath('/p/kms/xks/v1/keys/a/b/encrypt')).toEqual({ kind: 'unknown-operation', prefix: 'p' });
  });

  it('reports paths outside the API as foreign', () => {
    expect(parseXksPath('/')).toEqual({ kind: 'foreign' });
    expect(parseXksPath('/kms/xks/v2/health')).toEqual({ kind: 'foreign' });
  });
});

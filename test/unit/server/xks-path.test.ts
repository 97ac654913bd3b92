import { describe, expect, it } from 'vitest';
import { parseWithRegex, parseXksPath } from '../../../src/server/xks-path.ts';

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

  it('gives the same answer as the grammar as regular expressions, for every path built from tricky segments', () => {
    const segments = ['', 'p', 'kms', 'xks', 'v1', 'kms/xks/v1', 'keys', 'foo', 'health', 'encrypt', 'decrypt', 'metadata', 'sign', 'a\nb', '\u2028', ' '];
    const paths = new Set<string>([
      '/',
      '//',
      '///kms/xks/v1',
      '//kms/xks/v1/health',
      '/kms/xks/v1',
      '/kms/xks/v1/',
      '/kms/xks/v1x/health',
      '/p/kms/xks/v11/health',
      'kms/xks/v1/health',
    ]);
    for (const a of segments) for (const b of segments) for (const c of segments) paths.add(`/${a}/${b}/${c}`);
    for (const a of segments)
      for (const b of segments) paths.add(`/${a}/kms/xks/v1/keys/${b}/encrypt`).add(`/${a}/kms/xks/v1/${b}`).add(`/kms/xks/v1/keys/${a}/${b}`);
    for (const path of paths) expect(parseXksPath(path), path).toEqual(parseWithRegex(path));
  });
});

import { describe, expect, it } from 'vitest';
import { buildCanonicalRequest, canonicalHeaderValue, canonicalQueryString, canonicalUri, sha256Hex, uriEncode } from '../../../src/auth/sigv4-canonical.ts';
import { loadAwsTestSuite, signedHeadersOf } from '../../support/sigv4-vectors/aws-test-suite.ts';

const suite = loadAwsTestSuite();

describe('canonical request against the published AWS SigV4 test suite', () => {
  it.each(suite.cases.map((c) => [c.name, c] as const))('%s', (_name, v) => {
    const creq = buildCanonicalRequest({
      method: v.request.method,
      canonicalUri: canonicalUri(v.request.path),
      canonicalQuery: canonicalQueryString(v.request.query),
      headers: v.request.headers,
      signedHeaders: signedHeadersOf(v),
      payloadHash: sha256Hex(v.request.body),
    });
    expect(creq).toBe(v.canonicalRequest);
  });
});

describe('canonical URI', () => {
  it('leaves an XKS path of unreserved characters unchanged', () => {
    expect(canonicalUri('/prod-1/kms/xks/v1/keys/key_A.1~x/encrypt')).toBe('/prod-1/kms/xks/v1/keys/key_A.1~x/encrypt');
  });

  it('encodes an already percent-encoded path once more instead of decoding it', () => {
    // The client encoded "a/b" as a%2Fb on the wire and encoded it again when signing.
    expect(canonicalUri('/keys/a%2Fb/encrypt')).toBe('/keys/a%252Fb/encrypt');
  });

  it('removes dot segments and doubled slashes but keeps a trailing slash', () => {
    expect(canonicalUri('/a/./b/../c/')).toBe('/a/c/');
    expect(canonicalUri('/a//b')).toBe('/a/b');
    expect(canonicalUri('/a/.')).toBe('/a/');
    expect(canonicalUri('/../..')).toBe('/');
  });

  it('treats an empty path as the root', () => {
    expect(canonicalUri('')).toBe('/');
  });
});

describe('URI encoding', () => {
  it('encodes reserved characters and UTF-8 bytes with upper-case hex', () => {
    expect(uriEncode("a b!'()*+=/:é")).toBe('a%20b%21%27%28%29%2A%2B%3D%2F%3A%C3%A9');
  });

  it('does not throw on a lone surrogate', () => {
    expect(uriEncode('\ud800')).toBe('%EF%BF%BD');
  });
});

describe('canonical query string', () => {
  it('is empty for XKS requests, which carry no query', () => {
    expect(canonicalQueryString('')).toBe('');
  });

  it('sorts by name then value and gives a bare name an empty value', () => {
    expect(canonicalQueryString('b=2&a=2&a=1&c')).toBe('a=1&a=2&b=2&c=');
  });

  it('decodes once and re-encodes, so equivalent encodings sign the same', () => {
    expect(canonicalQueryString('k=%7e%20x')).toBe(canonicalQueryString('k=~%20x'));
    expect(canonicalQueryString('k=a+b')).toBe('k=a%2Bb');
  });

  it('keeps a malformed escape literally instead of throwing', () => {
    expect(canonicalQueryString('k=%zz')).toBe('k=%25zz');
  });
});

describe('canonical header values', () => {
  it('trims and collapses runs of whitespace', () => {
    expect(canonicalHeaderValue('  a   b\t c  ')).toBe('a b c');
  });

  it('leaves a clean value untouched', () => {
    expect(canonicalHeaderValue('application/json')).toBe('application/json');
  });
});

describe('canonicalUri on plain paths', () => {
  it.each([
    ['/', '/'],
    ['/kms/xks/v1/keys/foo/encrypt', '/kms/xks/v1/keys/foo/encrypt'],
    ['/a/b/', '/a/b/'],
    ['/a.b/c~d_e-f', '/a.b/c~d_e-f'],
    ['/a//b', '/a/b'],
    ['/a/./b/../c', '/a/c'],
    ['/a/.hidden', '/a/.hidden'],
    ['/a/b%2Fc', '/a/b%252Fc'],
  ])('%s -> %s', (path, expected) => {
    expect(canonicalUri(path)).toBe(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { runConformance } from '../run.ts';
import type { CheckStatus } from '../run.ts';
import type { Breakage } from './support/breakages.ts';
import { startReferenceServer } from './support/reference-xks-server.ts';

/** Each broken server and the checks that must catch it (fail for MUST, warn for SHOULD). */
const MUTATIONS: Array<[Breakage, Record<string, CheckStatus>]> = [
  ['reuse-iv', { 'crypto.iv-unique': 'fail' }],
  ['malformed-json-500', { 'validation.malformed-json': 'fail' }],
  ['no-405', { 'routing.get-405': 'fail' }],
  ['lax-date-window', { 'sigv4.stale-date': 'fail', 'sigv4.future-date': 'fail' }],
  ['wide-date-window', { 'sigv4.replay-window-past': 'warn', 'sigv4.replay-window-future': 'warn', 'sigv4.stale-date': 'pass' }],
  ['ignore-aad', { 'tamper.aad-changed': 'fail', 'tamper.aad-removed': 'fail', 'tamper.aad-added': 'fail' }],
  ['wrong-error-status', { 'errors.status-matches-name': 'fail', 'routing.unknown-key': 'fail' }],
  ['stack-trace-in-body', { 'errors.message-format': 'fail', 'errors.no-internals': 'warn' }],
  ['metadata-unauthenticated', { 'tamper.metadata-changed': 'fail', 'tamper.metadata-removed': 'fail' }],
  ['aad-without-lengths', { 'tamper.aad-metadata-boundary': 'fail', 'tamper.metadata-as-aad': 'fail' }],
  // CDIV recomputed on every 200: the matrix and the size checks see it too.
  ['cdiv-without-aad', { 'cdiv.with-aad': 'fail', 'cdiv.without-aad': 'pass', 'key-usage.matrix-main': 'fail', 'limits.max-sizes-with-cdiv': 'fail' }],
  [
    'ignore-key-usage',
    {
      'key-usage.encrypt-only-cannot-decrypt': 'fail',
      'key-usage.decrypt-only-cannot-encrypt': 'fail',
      'key-usage.impotent-cannot-encrypt': 'fail',
      'key-usage.matrix-encrypt-only': 'fail',
      'key-usage.matrix-decrypt-only': 'fail',
      'key-usage.matrix-impotent': 'fail',
      'key-usage.matrix-main': 'pass',
    },
  ],
  ['reject-unknown-kms-operation', { 'request-metadata.unknown-kms-operation': 'fail' }],
  ['reject-unknown-metadata-fields', { 'request-metadata.unknown-fields': 'fail' }],
  ['uuid-request-id', { 'request-metadata.opaque-request-id': 'fail' }],
  ['plaintext-limit-4096', { 'limits.plaintext-4300': 'fail', 'limits.plaintext-4301': 'pass' }],
  ['crash-on-big-aad', { 'limits.aad-8193': 'fail', 'limits.aad-8192': 'pass' }],
  ['trust-content-sha-header', { 'sigv4.body-tampered': 'fail' }],
  ['ignore-service', { 'sigv4.wrong-service': 'fail' }],
  ['plain-text-errors', { 'errors.json-body': 'fail', 'errors.content-type': 'fail' }],
  ['long-error-message', { 'errors.message-format': 'fail' }],
  ['health-bad-status', { 'health.schema': 'fail', 'sigv4.valid-kms-style': 'fail' }],
  ['key-confusion', { 'crypto.key-binding': 'fail' }],
  ['tag-appended', { 'crypto.round-trip': 'fail' }],
  ['ignore-tag', { 'tamper.tag': 'fail', 'tamper.ciphertext': 'fail' }],
  ['unknown-key-500', { 'routing.unknown-key': 'fail' }],
  ['no-invalid-uri-path', { 'routing.unknown-prefix': 'fail' }],

  // Every shape of a bad signature (issue 16, item 2).
  ['signature-length-500', { 'sigv4.signature-length': 'fail', 'sigv4.signature-encoding': 'fail', 'sigv4.valid-kms-style': 'pass' }],
  ['crash-on-bad-signature-length', { 'sigv4.signature-length': 'fail' }],
  ['signature-case-insensitive', { 'sigv4.signature-encoding': 'fail', 'sigv4.signature-length': 'pass' }],
  ['lenient-auth-components', { 'sigv4.component-missing': 'fail', 'sigv4.component-repeated': 'fail', 'sigv4.component-order': 'pass' }],
  ['positional-auth-components-500', { 'sigv4.component-order': 'fail', 'sigv4.component-repeated': 'pass' }],
  ['ignore-scope-date', { 'sigv4.scope-date': 'fail', 'sigv4.stale-date': 'pass' }],
  ['ignore-region', { 'sigv4.wrong-region': 'fail', 'sigv4.wrong-service': 'pass' }],
  ['ignore-terminator', { 'sigv4.scope-terminator': 'fail' }],
  ['no-required-signed-headers', { 'sigv4.signed-headers-required': 'fail', 'sigv4.missing-date': 'pass' }],
  ['lax-amz-date-format', { 'sigv4.malformed-date': 'fail', 'sigv4.stale-date': 'pass' }],
  ['any-algorithm', { 'sigv4.algorithm': 'fail', 'sigv4.malformed-authorization': 'pass' }],
  ['first-authorization-wins', { 'sigv4.duplicate-authorization': 'fail' }],
  ['akid-format-400', { 'sigv4.unknown-access-key-id': 'fail', 'sigv4.every-operation': 'fail' }],
  ['health-unauthenticated', { 'sigv4.every-operation': 'fail', 'sigv4.wrong-secret': 'pass' }],

  // Behaviours the AWS test client asks for that the harness lacked (item 1).
  ['crypto-ignores-prefix', { 'routing.unknown-prefix': 'fail' }],
  [
    'lenient-request-metadata',
    {
      'validation.missing-request-metadata': 'fail',
      'validation.empty-request-metadata': 'fail',
      'validation.health-missing-request-metadata': 'fail',
      'validation.health-empty-request-metadata': 'fail',
      'validation.crypto-request-metadata': 'warn',
    },
  ],
  ['cdiv-without-decrypt-usage', { 'key-usage.matrix-encrypt-only': 'fail', 'key-usage.encrypt-only-cannot-decrypt': 'pass', 'key-usage.matrix-main': 'pass' }],

  // Values, not only shapes, on every 200 (item 3).
  ['key-spec-rsa', { 'key-metadata.schema': 'fail', 'sigv4.valid-kms-style': 'fail', 'request-metadata.known-kms-operations': 'fail' }],
  ['key-status-title-case', { 'key-metadata.schema': 'fail', 'key-metadata.values-every-key': 'fail' }],
  ['key-usage-misspelled', { 'key-metadata.values-every-key': 'fail', 'key-metadata.encrypt-only-key': 'fail', 'key-metadata.impotent-key': 'pass' }],
  ['health-empty-fleet', { 'health.schema': 'fail', 'health.kms-operations': 'fail' }],
  ['health-entry-no-model', { 'health.schema': 'fail' }],
  ['short-iv', { 'crypto.round-trip': 'fail', 'key-usage.matrix-main': 'fail' }],
  ['long-ciphertext-metadata', { 'crypto.round-trip': 'fail', 'limits.arn-2048': 'fail' }],
];

describe('the harness catches broken XKS servers', () => {
  it.each(MUTATIONS)('a server with the defect "%s" fails the matching checks', async (breakage, expected) => {
    const server = await startReferenceServer({ breakages: [breakage] });
    try {
      const report = await runConformance({ endpoint: server.endpoint, only: Object.keys(expected).join(','), ivSamples: 32 });
      const got = Object.fromEntries(report.results.map((r) => [r.id, r.status]));
      expect(got).toEqual(expected);
      const mustFailed = Object.values(expected).includes('fail');
      expect(report.summary.conformant).toBe(!mustFailed);
      for (const r of report.results.filter((x) => x.status === 'fail' || x.status === 'warn')) {
        expect(r.detail, `${r.id} explains its failure`).toMatch(/\S/);
      }
    } finally {
      await server.close();
    }
  });
});

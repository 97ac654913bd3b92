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
  ['cdiv-without-aad', { 'cdiv.with-aad': 'fail', 'cdiv.without-aad': 'pass' }],
  ['ignore-key-usage', { 'key-usage.encrypt-only-cannot-decrypt': 'fail', 'key-usage.decrypt-only-cannot-encrypt': 'fail', 'key-usage.impotent-cannot-encrypt': 'fail' }],
  ['reject-unknown-kms-operation', { 'request-metadata.unknown-kms-operation': 'fail' }],
  ['reject-unknown-metadata-fields', { 'request-metadata.unknown-fields': 'fail' }],
  ['uuid-request-id', { 'request-metadata.opaque-request-id': 'fail' }],
  ['plaintext-limit-4096', { 'limits.plaintext-4300': 'fail', 'limits.plaintext-4301': 'pass' }],
  ['crash-on-big-aad', { 'limits.aad-8193': 'fail', 'limits.aad-8192': 'pass' }],
  ['trust-content-sha-header', { 'sigv4.body-tampered': 'fail' }],
  ['ignore-service', { 'sigv4.wrong-service': 'fail' }],
  ['plain-text-errors', { 'errors.json-body': 'fail', 'errors.content-type': 'fail' }],
  ['long-error-message', { 'errors.message-format': 'fail' }],
  ['health-bad-status', { 'health.schema': 'fail' }],
  ['key-confusion', { 'crypto.key-binding': 'fail' }],
  ['tag-appended', { 'crypto.round-trip': 'fail' }],
  ['ignore-tag', { 'tamper.tag': 'fail', 'tamper.ciphertext': 'fail' }],
  ['unknown-key-500', { 'routing.unknown-key': 'fail' }],
  ['no-invalid-uri-path', { 'routing.unknown-prefix': 'fail' }],
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

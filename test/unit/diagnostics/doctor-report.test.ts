import { describe, expect, it } from 'vitest';
import { fail, ok, skip, warn } from '../../../src/diagnostics/check-result.ts';
import { buildReport, exitCodeOf, formatReport } from '../../../src/diagnostics/doctor-report.ts';
import { percentile, summarize } from '../../../src/diagnostics/latency-stats.ts';

const base = { group: 'tls' as const, subject: 'listener 127.0.0.1:8443' };

describe('doctor report', () => {
  it('exits 0 with warnings and skips only, 1 as soon as one check fails', () => {
    const fine = buildReport('c.yaml', [
      ok({ ...base, id: 'tls.handshake', message: 'fine' }),
      warn({ ...base, id: 'tls.expiry', message: 'soon', fix: 'renew' }),
      skip({ ...base, id: 'tls.hostname', message: 'no name' }),
    ]);
    expect(exitCodeOf(fine)).toBe(0);
    expect(fine.summary).toEqual({ ok: 1, warn: 1, fail: 0, skip: 1 });
    const broken = buildReport('c.yaml', [...fine.checks, fail({ ...base, id: 'tls.chain', message: 'incomplete', fix: 'serve the chain' })]);
    expect(exitCodeOf(broken)).toBe(1);
    expect(broken.ok).toBe(false);
  });

  it('prints one line per check with the fix and the KMS state on problem lines', () => {
    const report = buildReport('c.yaml', [
      ok({ ...base, id: 'tls.handshake', message: 'TLS handshake completed' }),
      fail({ ...base, id: 'tls.expiry', message: 'the certificate expired', fix: 'renew it', kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION' }),
    ]);
    const lines = formatReport(report).trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^ok\s+tls\.handshake\s+listener 127\.0\.0\.1:8443: TLS handshake completed$/);
    expect(lines[2]).toMatch(/^fail\s+tls\.expiry .*the certificate expired\. Fix: renew it \[KMS: XKS_PROXY_INVALID_TLS_CONFIGURATION\]$/);
    expect(lines[3]).toContain('1 failure(s)');
  });
});

describe('latency percentiles', () => {
  it('uses the nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([], 99)).toBe(0);
  });

  it('lets one slow call of forty set p99', () => {
    const samples = [...Array.from({ length: 39 }, () => 1), 200];
    expect(summarize(samples)).toEqual({ count: 40, p50: 1, p99: 200, max: 200 });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CHECKS, runConformance } from '../run.ts';
import type { ConformanceReport } from '../run.ts';
import { formatTextReport } from '../src/report/text-report.ts';
import { startReferenceServer } from './support/reference-xks-server.ts';
import type { ReferenceServer } from './support/reference-xks-server.ts';

describe('the harness against a correct XKS server', () => {
  let server: ReferenceServer;
  let report: ConformanceReport;

  beforeAll(async () => {
    server = await startReferenceServer();
    report = await runConformance({ endpoint: server.endpoint });
  });
  afterAll(() => server.close());

  it('passes every check that applies over http, MUST and SHOULD alike', () => {
    const notPassed = report.results.filter((r) => r.status !== 'pass' && r.group !== 'tls');
    expect(notPassed.map((r) => `${r.id}: ${r.status} ${r.detail ?? ''}`)).toEqual([]);
    expect(report.summary).toMatchObject({ failed: 0, warnings: 0, conformant: true });
  });

  it('runs every check and skips only the TLS ones, saying why', () => {
    expect(report.results.map((r) => r.id)).toEqual(ALL_CHECKS.map((c) => c.id));
    const skipped = report.results.filter((r) => r.status === 'skip');
    expect(skipped.every((r) => r.group === 'tls' && r.detail === 'endpoint is not https')).toBe(true);
    expect(skipped.length).toBe(ALL_CHECKS.filter((c) => c.group === 'tls').length);
  });

  it('gives every check a unique id within its group, a spec section and a level', () => {
    const ids = ALL_CHECKS.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of ALL_CHECKS) {
      expect(c.id.startsWith(`${c.group}.`)).toBe(true);
      expect(c.spec.length).toBeGreaterThan(0);
      expect(['MUST', 'SHOULD']).toContain(c.level);
    }
  });
});

describe('the preflight health calls', () => {
  it('wait for a proxy whose key manager is still starting, and the report says so', async () => {
    const server = await startReferenceServer({ breakages: ['slow-start'] });
    try {
      const report = await runConformance({ endpoint: server.endpoint, only: 'key-metadata.schema' });
      expect(report.preflight).toMatchObject({ attempts: 4, ok: true });
      expect(report.results[0]?.status).toBe('pass');
      expect(formatTextReport(report)).toContain('note: the proxy needed 4 health calls');
    } finally {
      await server.close();
    }
  });

  it('stop at once on an answer that waiting will not change, and the checks report it', async () => {
    const server = await startReferenceServer();
    try {
      const report = await runConformance({ endpoint: server.endpoint, secretAccessKey: 'z'.repeat(43), only: 'health.schema' });
      expect(report.preflight).toMatchObject({ attempts: 1, ok: false, last: expect.stringMatching(/^401 AuthenticationFailedException/) });
      expect(report.results[0]?.status).toBe('fail');
    } finally {
      await server.close();
    }
  });
});

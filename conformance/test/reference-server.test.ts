import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CHECKS, runConformance } from '../run.ts';
import type { ConformanceReport } from '../run.ts';
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

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createTestPki, type TestPki } from '../support/tls-certs.ts';
import { parseWithPrometheusClient, promtoolCheck, type ParsedFamily } from '../unit/ops/support/prometheus-parsers.ts';
import { createOpsDir, DEMO_CREDENTIAL, DEMO_PREFIX, demoConfig, encryptCall, healthBody, xksCall, xksPath, type OpsDir } from './ops-fixture.ts';

let d: OpsDir;
let pki: TestPki;
let proxy: RunningProxy;
let ca: Buffer;
let text: string;
let families: ParsedFamily[];

beforeAll(async () => {
  d = await createOpsDir();
  pki = createTestPki();
  ca = readFileSync(pki.caCert);
  const raw = demoConfig(d, {
    server: { host: '127.0.0.1', port: 0, requestTimeoutMs: 2000, tls: { cert: pki.serverCert, key: pki.serverKey } },
    metrics: { port: 0 },
  });
  proxy = await startProxy({ config: parseConfig(raw, d.configFile), file: d.configFile, configDir: d.dir }, { logger: pino({ level: 'silent' }) });
  const url = proxy.url;
  for (let i = 0; i < 3; i++) expect((await encryptCall(url, DEMO_PREFIX, { ca })).status).toBe(200);
  expect((await encryptCall(url, DEMO_PREFIX, { ca, secretAccessKey: 'WrongSecretWrongSecretWrongSecretWrongSecret0' })).status).toBe(401);
  expect((await encryptCall(url, DEMO_PREFIX, { ca }, 'no-such-key')).status).toBe(404);
  expect((await encryptCall(url, 'not/configured', { ca })).status).toBe(404);
  expect((await xksCall(url, xksPath(DEMO_PREFIX, 'health'), healthBody(), { ca })).status).toBe(200);
  const res = await fetch(proxy.metricsUrl!);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  text = await res.text();
  families = parseWithPrometheusClient(text);
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  pki?.cleanup();
  await d?.cleanup();
});

function sample(name: string, labels: Record<string, string>): number | undefined {
  const family = families.find((f) => f.samples.some((s) => s.name === name));
  return family?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('Prometheus metrics', () => {
  it('are valid exposition text for promtool (Prometheus parser and lint)', () => {
    const result = promtoolCheck(text);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('count requests and latency per prefix, operation and kmsOperation (XksProxyLatency)', () => {
    expect(sample('xks_proxy_requests_total', { prefix: DEMO_PREFIX, operation: 'encrypt', kms_operation: 'Encrypt', outcome: 'ok' })).toBe(3);
    expect(families.find((f) => f.name === 'xks_proxy_latency_seconds')?.type).toBe('histogram');
    // Latency covers every answered request: the three encryptions and the unknown key.
    expect(sample('xks_proxy_latency_seconds_count', { prefix: DEMO_PREFIX, operation: 'encrypt', kms_operation: 'Encrypt' })).toBe(4);
    expect(sample('xks_proxy_latency_seconds_bucket', { prefix: DEMO_PREFIX, operation: 'encrypt', kms_operation: 'Encrypt', le: '+Inf' })).toBe(4);
    expect(
      sample('xks_proxy_latency_seconds_bucket', { prefix: DEMO_PREFIX, operation: 'encrypt', kms_operation: 'Encrypt', le: '0.001' }),
    ).toBeLessThanOrEqual(4);
  });

  it('count errors by errorName (XksProxyErrors), with unknown prefixes folded into one label value', () => {
    expect(sample('xks_proxy_errors_total', { prefix: DEMO_PREFIX, operation: 'encrypt', error_name: 'AuthenticationFailedException' })).toBe(1);
    expect(sample('xks_proxy_errors_total', { prefix: DEMO_PREFIX, operation: 'encrypt', error_name: 'KeyNotFoundException' })).toBe(1);
    expect(sample('xks_proxy_errors_total', { prefix: '(unknown)', error_name: 'InvalidUriPathException' })).toBe(1);
    expect(text).not.toContain('not/configured');
  });

  it('report key manager states, certificate expiry and credential age like the KMS CloudWatch metrics', () => {
    expect(sample('xks_external_key_manager_states', { prefix: DEMO_PREFIX, state: 'ACTIVE' })).toBe(1);
    expect(sample('xks_external_key_manager_states', { prefix: DEMO_PREFIX, state: 'UNAVAILABLE' })).toBe(0);
    // The test PKI issues certificates valid for 2 days.
    const days = sample('xks_proxy_certificate_time_to_expire_seconds', {})! / 86_400;
    expect(days).toBeGreaterThan(1.9);
    expect(days).toBeLessThanOrEqual(2.01);
    const age = sample('xks_proxy_credential_age_seconds', { prefix: DEMO_PREFIX, access_key_id: DEMO_CREDENTIAL.accessKeyId })! / 86_400;
    expect(age).toBeCloseTo((Date.now() - Date.parse('2026-01-01')) / 86_400_000, 1);
  });

  it('report event-loop delay, in-flight requests and process figures', () => {
    for (const stat of ['p50', 'p99', 'max', 'mean']) expect(sample('xks_proxy_event_loop_delay_seconds', { stat })).toBeGreaterThanOrEqual(0);
    expect(sample('xks_proxy_in_flight_requests', {})).toBe(0);
    expect(sample('process_resident_memory_bytes', {})).toBeGreaterThan(1e6);
  });

  it('report garbage-collection pauses by collector, the young generation included', async () => {
    // The proxy runs in this process, so its GC observer sees the collections this garbage causes.
    const junk: object[] = [];
    for (let i = 0; i < 300_000; i++) {
      junk.push({ i });
      if (junk.length === 1000) junk.length = 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 50)); // observer callbacks are queued
    const after = parseWithPrometheusClient(await (await fetch(proxy.metricsUrl!)).text());
    const gc = after.find((f) => f.name === 'xks_proxy_gc_pause_seconds');
    expect(gc?.type).toBe('histogram');
    const minor = (name: string) => gc?.samples.find((s) => s.name === name && s.labels.kind === 'minor')?.value;
    expect(minor('xks_proxy_gc_pause_seconds_count')).toBeGreaterThan(0);
    expect(minor('xks_proxy_gc_pause_seconds_sum')).toBeGreaterThan(0);
    // A young-generation pause takes well under a second.
    expect(minor('xks_proxy_gc_pause_seconds_sum')! / minor('xks_proxy_gc_pause_seconds_count')!).toBeLessThan(1);
  });

  it('are served only on the metrics listener, not on the XKS port', async () => {
    const res = await xksCall(proxy.url, '/metrics', '{}', { ca });
    expect(res.status).toBe(404);
    expect(new URL(proxy.metricsUrl!).port).not.toBe(new URL(proxy.url).port);
  });
});

import { describe, expect, it } from 'vitest';
import { MetricRegistry } from '../../../src/ops/metrics/prometheus-text.ts';
import { parseWithPrometheusClient, promtoolCheck } from './support/prometheus-parsers.ts';

describe('MetricRegistry text exposition', () => {
  it('writes counters, gauges and histograms that the Prometheus client parser reads back exactly', async () => {
    const r = new MetricRegistry();
    const c = r.counter('demo_requests_total', 'Requests.\nSecond line with a \\ backslash.', ['path']);
    const g = r.gauge('demo_temperature_celsius', 'A gauge.', ['room']);
    const h = r.histogram('demo_latency_seconds', 'A histogram.', ['op'], [0.01, 0.1, 1]);
    const tricky = 'quote " backslash \\ newline \n end';
    c.inc({ path: tricky }, 3);
    c.inc({ path: '/a' });
    g.set({ room: 'lab' }, -1.5);
    for (const v of [0.005, 0.05, 0.05, 0.5, 5]) h.observe({ op: 'encrypt' }, v);
    const families = parseWithPrometheusClient(await r.render());

    const counter = families.find((f) => f.name === 'demo_requests')!;
    expect(counter.type).toBe('counter');
    expect(counter.help).toBe('Requests.\nSecond line with a \\ backslash.');
    expect(counter.samples).toContainEqual({ name: 'demo_requests_total', labels: { path: tricky }, value: 3 });
    expect(families.find((f) => f.name === 'demo_temperature_celsius')!.samples[0]!.value).toBe(-1.5);

    const hist = families.find((f) => f.name === 'demo_latency_seconds')!;
    expect(hist.type).toBe('histogram');
    const bucket = (le: string) => hist.samples.find((s) => s.name === 'demo_latency_seconds_bucket' && s.labels.le === le)?.value;
    expect([bucket('0.01'), bucket('0.1'), bucket('1.0') ?? bucket('1'), bucket('+Inf')]).toEqual([1, 3, 4, 5]);
    expect(hist.samples.find((s) => s.name === 'demo_latency_seconds_count')!.value).toBe(5);
    expect(hist.samples.find((s) => s.name === 'demo_latency_seconds_sum')!.value).toBeCloseTo(5.605, 9);
  });

  it('keeps label sets apart whose values differ only in where a separator or backslash falls', () => {
    const r = new MetricRegistry();
    const c = r.counter('demo_pairs_total', 'Pairs.', ['a', 'b']);
    const sets = [
      { a: 'x\u0000', b: 'y' },
      { a: 'x', b: '\u0000y' },
      { a: 'x\\0', b: 'y' },
      { a: 'x\\', b: '0y' },
      { a: 'x', b: 'y' },
      { a: '', b: '' },
    ];
    sets.forEach((labels, i) => c.inc(labels, i + 1));
    sets.forEach((labels, i) => expect(c.get(labels)).toBe(i + 1));
    c.inc({ a: 'x', b: '\u0000y' });
    expect(c.get({ a: 'x', b: '\u0000y' })).toBe(3);
    expect(c.get({ a: 'x\u0000', b: 'y' })).toBe(1);
  });

  it('passes promtool check metrics (Prometheus parser and naming lint)', async () => {
    const r = new MetricRegistry();
    r.counter('demo_events_total', 'Events.', ['kind']).inc({ kind: 'a' });
    r.histogram('demo_duration_seconds', 'Durations.', [], [1]).observe({}, 0.5);
    const result = promtoolCheck(await r.render());
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('is checked by parsers that do reject broken text', () => {
    expect(() => parseWithPrometheusClient('demo_total{a="b} 1\n')).toThrow();
    expect(promtoolCheck('# TYPE x counter\nx{a="b} 1\n').status).not.toBe(0);
  });

  it('refuses invalid metric and label names at registration', () => {
    const r = new MetricRegistry();
    expect(() => r.counter('bad-name', 'x')).toThrow();
    expect(() => r.gauge('ok_name', 'x', ['le'])).toThrow();
    r.counter('dup_total', 'x');
    expect(() => r.counter('dup_total', 'x')).toThrow();
  });
});

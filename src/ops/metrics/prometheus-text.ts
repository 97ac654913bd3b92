/**
 * A minimal metrics registry that writes the Prometheus text exposition format 0.0.4:
 * counters, gauges and histograms with labels. prom-client would do this too; the format
 * is small enough that owning it costs less than a dependency.
 */

/** Label values of one series, by label name. */
export type Labels = Readonly<Record<string, string>>;

type MetricType = 'counter' | 'gauge' | 'histogram';

interface Family {
  name: string;
  help: string;
  type: MetricType;
  labelNames: readonly string[];
  render(lines: string[]): void;
}

/** Escapes a label value: backslash, double quote and line feed (exposition format spec). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as the format writes it (Go ParseFloat syntax; +Inf, -Inf, NaN). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelText(names: readonly string[], labels: Labels, extra?: [string, string]): string {
  const parts = names.map((n) => `${n}="${escapeLabelValue(labels[n] ?? '')}"`);
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

// Joins a series' label values into its map key. Runs several times per request (the
// request observer), so it builds one string instead of an array and its JSON.
const KEY_SEPARATOR = '\u0000';

function seriesKey(names: readonly string[], labels: Labels): string {
  let key = '';
  for (let i = 0; i < names.length; i++) {
    const part = keyPart(labels[names[i]!] ?? '');
    key = i === 0 ? part : `${key}${KEY_SEPARATOR}${part}`;
  }
  return key;
}

/** A label value with `\` and the separator escaped, so no two label sets share a key. */
function keyPart(value: string): string {
  if (!value.includes('\\') && !value.includes(KEY_SEPARATOR)) return value;
  return value.replaceAll('\\', '\\\\').replaceAll(KEY_SEPARATOR, '\\0');
}

const NAME_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkNames(name: string, labelNames: readonly string[]): void {
  if (!NAME_PATTERN.test(name)) throw new Error(`invalid metric name ${name}`);
  for (const l of labelNames) {
    if (!LABEL_PATTERN.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label name ${l} on ${name}`);
  }
}

/** One series of a counter. */
export interface CounterSeries {
  readonly labels: Labels;
  value: number;
}

/** One series of a histogram: counts per bucket (made cumulative when rendered), sum and count. */
export class HistogramSeries {
  readonly buckets: number[];
  sum = 0;
  count = 0;
  readonly #bounds: readonly number[];

  constructor(
    readonly labels: Labels,
    bounds: readonly number[],
  ) {
    this.#bounds = bounds;
    this.buckets = bounds.map(() => 0);
  }

  /** Records one observation. */
  observe(value: number): void {
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.buckets[i]! += 1;
        break;
      }
    }
    this.sum += value;
    this.count += 1;
  }
}

/** What counters and gauges have in common: one number per label set, one line each. */
abstract class SingleValueFamily implements Family {
  abstract readonly type: MetricType;
  protected readonly series = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {
    checkNames(name, labelNames);
  }

  render(lines: string[]): void {
    for (const s of this.series.values()) lines.push(`${this.name}${labelText(this.labelNames, s.labels)} ${formatValue(s.value)}`);
  }
}

/** A monotonically increasing count per label set. */
export class Counter extends SingleValueFamily {
  readonly type = 'counter' as const;

  /** Adds `by` (default 1) to the series of `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    this.handle(labels).value += by;
  }

  /**
   * The series of `labels` (created at 0), for a caller that counts the same label set
   * often: adding to its `value` skips building the series key each time.
   */
  handle(labels: Labels): CounterSeries {
    const key = seriesKey(this.labelNames, labels);
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels, value: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  /** Current value of one series (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.series.get(seriesKey(this.labelNames, labels))?.value ?? 0;
  }
}

/** A value that goes up and down per label set. */
export class Gauge extends SingleValueFamily {
  readonly type = 'gauge' as const;

  /** Sets the series of `labels` to `value`. */
  set(labels: Labels, value: number): void {
    this.series.set(seriesKey(this.labelNames, labels), { labels, value });
  }

  /** Forgets every series (collectors call this before setting the current ones). */
  clear(): void {
    this.series.clear();
  }
}

/** Cumulative bucket counts, sum and count per label set. */
export class Histogram implements Family {
  readonly type = 'histogram' as const;
  readonly #series = new Map<string, HistogramSeries>();
  readonly buckets: readonly number[];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    checkNames(name, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    this.handle(labels).observe(value);
  }

  /** The series of `labels` (created empty), for a caller that observes the same label set often. */
  handle(labels: Labels): HistogramSeries {
    const key = seriesKey(this.labelNames, labels);
    let s = this.#series.get(key);
    if (s === undefined) {
      s = new HistogramSeries(labels, this.buckets);
      this.#series.set(key, s);
    }
    return s;
  }

  /** Number of observations of one series. */
  count(labels: Labels): number {
    return this.#series.get(seriesKey(this.labelNames, labels))?.count ?? 0;
  }

  render(lines: string[]): void {
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += s.buckets[i]!;
        lines.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, ['le', formatValue(bound)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, s.labels)} ${formatValue(s.sum)}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, s.labels)} ${s.count}`);
    }
  }
}

/** Refreshes gauges just before a scrape is written (health states, ages, pool use). */
export type Collector = () => void | Promise<void>;

/** The metric families of one process and the collectors that refresh them. */
export class MetricRegistry {
  readonly #families: Family[] = [];
  readonly #collectors: Collector[] = [];

  /** Registers and returns a counter. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  /** Registers and returns a gauge. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  /** Registers and returns a histogram with the given upper bounds. */
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  /** Adds a collector run before every render. */
  collect(collector: Collector): void {
    this.#collectors.push(collector);
  }

  /** Runs the collectors (a failing one leaves its gauges as they were) and renders the text. */
  async render(): Promise<string> {
    await Promise.allSettled(this.#collectors.map(async (c) => c()));
    const lines: string[] = [];
    for (const f of this.#families) {
      lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      f.render(lines);
    }
    return `${lines.join('\n')}\n`;
  }

  #add<F extends Family>(family: F): F {
    if (this.#families.some((f) => f.name === family.name)) throw new Error(`metric ${family.name} registered twice`);
    this.#families.push(family);
    return family;
  }
}

/** The Content-Type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Real Prometheus text-format parsers for tests: the official Python client's parser
 * (Debian python3-prometheus-client) and promtool's `check metrics` (Debian prometheus),
 * which parses with Prometheus' own Go code and lints names and types.
 */
import { spawnSync } from 'node:child_process';

/** One sample as the Python parser returns it. */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family as the Python parser returns it. */
export interface ParsedFamily {
  name: string;
  type: string;
  help: string;
  samples: ParsedSample[];
}

const PYTHON_PARSE = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": (None if math.isnan(s.value) else ("+Inf" if s.value == math.inf else s.value))} for s in f.samples]})
print(json.dumps(out))
`;

/** Parses exposition text with prometheus_client; throws with the parser's error on bad input. */
export function parseWithPrometheusClient(text: string): ParsedFamily[] {
  const r = spawnSync('/usr/bin/python3', ['-c', PYTHON_PARSE], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`prometheus_client parser rejected the text: ${r.stderr}`);
  return JSON.parse(r.stdout) as ParsedFamily[];
}

/** Runs `promtool check metrics`: status 0 = parsed and lint-clean; output lists problems. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

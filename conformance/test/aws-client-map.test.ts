/**
 * The README's table of the public AWS test client's tests -> harness checks must stay
 * true: every row names at least one check, and every check it names exists. The tests per
 * script are counted from the client's scripts (version 1.1.0, `./test-xks-proxy -a`, plus
 * test_negative_mtls when MTLS is set; the two runs of "Encrypt with AAD to be followed by
 * Decrypt without AAD" / "Decrypt with missing AAD" are one row each), so a row that goes
 * missing fails here too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_CHECKS } from '../run.ts';

const README = new URL('../README.md', import.meta.url);

/** Rows expected per AWS client script. */
const ROWS_PER_SCRIPT: Record<string, number> = {
  test_get_health_status: 6,
  test_get_key_metadata: 8,
  test_encrypt_decrypt: 19,
  test_encrypt_only_key: 6,
  test_decrypt_only_key: 4,
  test_impotent_key: 4,
  test_negative_mtls: 2,
};

interface Row {
  script: string;
  label: string;
  checks: string[];
}

/** The table between the aws-client-map markers, one Row per line. */
function readMapTable(markdown: string): Row[] {
  const start = markdown.indexOf('<!-- aws-client-map:start -->');
  const end = markdown.indexOf('<!-- aws-client-map:end -->');
  if (start < 0 || end < start) throw new Error('README has no aws-client-map table');
  const lines = markdown
    .slice(start, end)
    .split('\n')
    .filter((l) => l.startsWith('|'));
  // The first two lines are the header and the |---| separator.
  return lines.slice(2).map((line) => {
    const cells = line.split(' | ').map((c) => c.replace(/^\|\s*|\s*\|$/g, '').trim());
    const checks = [...(cells[3] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    return { script: cells[0]!, label: cells[1]!, checks };
  });
}

describe('the AWS test client mapping table in conformance/README.md', () => {
  const rows = readMapTable(readFileSync(README, 'utf8'));
  const ids = new Set(ALL_CHECKS.map((c) => c.id));

  it('names only checks that exist', () => {
    const dangling = rows.flatMap((r) => r.checks.filter((id) => !ids.has(id)).map((id) => `${r.script}: ${r.label} -> ${id}`));
    expect(dangling).toEqual([]);
  });

  it('maps every AWS client test to at least one check', () => {
    expect(rows.filter((r) => r.checks.length === 0).map((r) => `${r.script}: ${r.label}`)).toEqual([]);
  });

  it('has a row for every test of every script the client runs with -a (and with MTLS)', () => {
    const counts: Record<string, number> = {};
    for (const r of rows) counts[r.script] = (counts[r.script] ?? 0) + 1;
    expect(counts).toEqual(ROWS_PER_SCRIPT);
    const labels = rows.map((r) => `${r.script}: ${r.label}`);
    expect(new Set(labels).size).toBe(labels.length);
  });

  it('catches a dangling name (the reader is not vacuous)', () => {
    const table = [
      '<!-- aws-client-map:start -->',
      '| S | L | E | C | X |',
      '|---|---|---|---|---|',
      '| s | one | e | `health.schema`, `no.such-check` | x |',
      '<!-- aws-client-map:end -->',
    ].join('\n');
    const [row] = readMapTable(table);
    expect(row?.checks).toEqual(['health.schema', 'no.such-check']);
    expect(row?.checks.filter((id) => !ids.has(id))).toEqual(['no.such-check']);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The layer order is written once, in docs/architecture.md ("Layers"): the fenced block
// tagged `layers` lists them top first, one layer per line, peers separated by commas.
// A module may import its own folder and any layer below its own; nothing else (type-only
// imports included: they are dependencies of the design). No exceptions.

const ROOT = resolve(import.meta.dirname, '../../..');
const SRC = join(ROOT, 'src');

/** Layers top first, each a list of folder names (or root-level file names) under src/. */
function documentedLayers(): string[][] {
  const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  const block = /^```layers\n([\s\S]*?)^```/m.exec(doc);
  if (block === null) throw new Error('docs/architecture.md has no ```layers block');
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
    .map((line) => line.split(',').map((name) => name.trim()));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The unit a file belongs to: its top folder under src/, or its own name at the root. */
function unitOf(file: string): string {
  return relative(SRC, file).split(sep)[0]!;
}

/** Every relative import of a file: static, type-only, re-exports and dynamic import(). */
function relativeImports(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName).filter((name) => name.startsWith('.'));
}

interface Edge {
  from: string;
  to: string;
}

/** The imports that go against the order: sideways between peers, or upwards. */
function violations(layers: string[][], edges: Edge[]): string[] {
  const rank = new Map<string, number>();
  layers.forEach((names, i) => names.forEach((name) => rank.set(name, i)));
  const found: string[] = [];
  for (const { from, to } of edges) {
    const a = unitOf(from);
    const b = unitOf(to);
    if (a === b) continue;
    const ra = rank.get(a);
    const rb = rank.get(b);
    if (ra === undefined || rb === undefined) {
      found.push(`${relative(ROOT, from)} -> ${relative(ROOT, to)}: ${ra === undefined ? a : b} is in no layer`);
    } else if (rb <= ra) {
      found.push(`${relative(ROOT, from)} -> ${relative(ROOT, to)}: ${a} may not import ${b} (${rb === ra ? 'peer layer' : 'higher layer'})`);
    }
  }
  return found;
}

describe('layers of src/ (docs/architecture.md)', () => {
  const layers = documentedLayers();
  const files = sourceFiles(SRC);
  const edges = files.flatMap((from) => relativeImports(from).map((spec) => ({ from, to: resolve(dirname(from), spec) })));

  it('places every folder of src/ in exactly one layer', () => {
    const placed = layers.flat();
    expect(new Set(placed).size).toBe(placed.length);
    const units = [...new Set(files.map(unitOf))].sort();
    expect(units.filter((u) => !placed.includes(u))).toEqual([]);
  });

  it('has no import against the layer order', () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(violations(layers, edges)).toEqual([]);
  });

  it('would catch an upward, a sideways and a type-only import', () => {
    const at = (p: string) => join(SRC, p);
    const probe = ts.preProcessFile("import type { X } from '../server/app.ts';\nexport * from './y.ts';\nawait import('../cli/main.ts');", true, true);
    expect(probe.importedFiles.map((f) => f.fileName)).toEqual(['../server/app.ts', './y.ts', '../cli/main.ts']);
    const bad = violations(
      [['cli'], ['server'], ['auth', 'observability']],
      [
        { from: at('server/app.ts'), to: at('cli/main.ts') },
        { from: at('auth/a.ts'), to: at('observability/b.ts') },
        { from: at('cli/main.ts'), to: at('auth/a.ts') },
      ],
    );
    expect(bad).toHaveLength(2);
  });
});

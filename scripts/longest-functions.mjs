#!/usr/bin/env node
// @ts-check
/**
 * Lists the longest functions under a folder (src/ by default), longest first, so a
 * maintainer can see which ones to split along their phases (issue 17, item 4) and check
 * the list again after a change.
 *
 * A function is anything with a body: a function declaration or expression, an arrow
 * function, a method, a constructor, an accessor. Its length is counted two ways, nested
 * functions included (they are part of what a reader has to hold in mind): `code`, the
 * lines that hold code (blank lines and lines of comment only left out; the list is sorted
 * by it, so a well-commented function is not ranked above a dense one), and `lines`, from
 * its first line to its closing brace. Named as `Class.method`, `Class.constructor`, the
 * variable or property an arrow function is assigned to, or `<anonymous>`.
 *
 * Usage: node scripts/longest-functions.mjs [--top N] [DIR]
 * Prints one line per function: code lines, all lines, file:line, name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** @param {string[]} argv */
function parseArgs(argv) {
  let top = 15;
  let dir = 'src';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--top') {
      top = Number(argv[++i]);
      if (!Number.isInteger(top) || top < 1) throw new Error('--top needs a positive whole number');
    } else if (arg !== undefined) {
      dir = arg;
    }
  }
  return { top, dir };
}

/** @param {string} dir @returns {string[]} the .ts files under dir, declaration files left out */
function sourceFiles(dir) {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(dir, name))
    .sort();
}

/** @param {ts.Node} node @returns {string | undefined} a name for a node that may carry one */
function nameOf(node) {
  const named = /** @type {{ name?: ts.Node }} */ (node);
  if (named.name && (ts.isIdentifier(named.name) || ts.isStringLiteral(named.name) || ts.isPrivateIdentifier(named.name))) {
    return named.name.text;
  }
  return undefined;
}

/** @param {ts.Node} fn @returns {string} how a reader would find the function */
function functionName(fn) {
  if (ts.isConstructorDeclaration(fn)) return `${nameOf(fn.parent) ?? '<class>'}.constructor`;
  const own = nameOf(fn);
  if (own !== undefined) {
    return ts.isClassLike(fn.parent) ? `${nameOf(fn.parent) ?? '<class>'}.${own}` : own;
  }
  // An arrow function or function expression takes the name it is assigned to.
  const parent = fn.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return nameOf(parent) ?? '<anonymous>';
  }
  return '<anonymous>';
}

/**
 * @param {ts.SourceFile} source
 * @returns {Set<number>} the (0-based) lines of the file on which some token is written:
 *   every line a token spans counts, so a multi-line template literal counts in full
 */
function linesWithCode(source) {
  /** @type {Set<number>} */
  const lines = new Set();
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, source.languageVariant, source.text);
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    const first = source.getLineAndCharacterOfPosition(scanner.getTokenStart()).line;
    const last = source.getLineAndCharacterOfPosition(scanner.getTokenEnd()).line;
    for (let line = first; line <= last; line++) lines.add(line);
  }
  return lines;
}

/** @typedef {{ code: number, lines: number, where: string, name: string }} FunctionLength */

/** @param {string} file @returns {FunctionLength[]} */
function functionsIn(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const withCode = linesWithCode(source);
  /** @type {FunctionLength[]} */
  const found = [];
  /** @param {ts.Node} node */
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      let code = 0;
      for (let line = first; line <= last; line++) if (withCode.has(line)) code++;
      found.push({ code, lines: last - first + 1, where: `${relative('.', file)}:${first + 1}`, name: functionName(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const { top, dir } = parseArgs(process.argv.slice(2));
const all = sourceFiles(dir).flatMap(functionsIn);
all.sort((a, b) => b.code - a.code || b.lines - a.lines || a.where.localeCompare(b.where));
console.log('code  lines  where  name');
for (const { code, lines, where, name } of all.slice(0, top)) {
  console.log(`${String(code).padStart(4)}  ${String(lines).padStart(5)}  ${where}  ${name}`);
}

/**
 * Parses XKS URIs (spec "API operations"):
 *   /<prefix>/kms/xks/v1/health
 *   /<prefix>/kms/xks/v1/keys/<externalKeyId>/{metadata|encrypt|decrypt}
 * The prefix is optional and may itself contain slashes.
 */
import type { XksOperation } from '../xks/request-event.ts';

/** Where a path points. */
export type XksPath =
  /** Not under any /kms/xks/v1 at all. */
  | { kind: 'foreign' }
  /** Under <prefix>/kms/xks/v1 but not one of the four operations. */
  | { kind: 'unknown-operation'; prefix: string }
  | { kind: 'operation'; prefix: string; operation: XksOperation; keyId: string | undefined };

const API_ROOT = /^\/(?:(.+?)\/)?kms\/xks\/v1(?:\/(.*))?$/;
const KEY_OPERATION = /^keys\/([^/]+)\/(metadata|encrypt|decrypt)$/;
/** `.` in the grammar above does not match these; a path with one takes the regex path. */
const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;
const ROOT = '/kms/xks/v1';
const OPERATIONS: readonly XksOperation[] = ['metadata', 'encrypt', 'decrypt'];

/**
 * Splits a raw request path into prefix, operation and key id: the grammar of API_ROOT and
 * KEY_OPERATION, read with indexOf instead of regex matches (two match arrays and their
 * substrings per request; docs/performance.md), the same answer for every path.
 */
export function parseXksPath(path: string): XksPath {
  if (path.charCodeAt(0) !== 0x2f || LINE_TERMINATOR.test(path)) return parseWithRegex(path);
  // The first "/kms/xks/v1" after a prefix of at least one character, ending the path or
  // followed by "/"; else one at the very start (no prefix).
  let at = path.indexOf(ROOT, 2);
  while (at !== -1 && !endsSegment(path, at + ROOT.length)) at = path.indexOf(ROOT, at + 1);
  if (at === -1) {
    if (!path.startsWith(ROOT) || !endsSegment(path, ROOT.length)) return { kind: 'foreign' };
    at = 0;
  }
  const prefix = at === 0 ? '' : path.slice(1, at);
  const rest = at + ROOT.length + 1; // where the part after "/kms/xks/v1/" starts
  if (rest > path.length) return { kind: 'unknown-operation', prefix };
  if (path.length - rest === 6 && path.startsWith('health', rest)) return { kind: 'operation', prefix, operation: 'health', keyId: undefined };
  const slash = path.indexOf('/', rest + 5);
  if (!path.startsWith('keys/', rest) || slash <= rest + 5 || path.indexOf('/', slash + 1) !== -1) return { kind: 'unknown-operation', prefix };
  for (const operation of OPERATIONS) {
    if (path.length - slash - 1 === operation.length && path.startsWith(operation, slash + 1)) {
      return { kind: 'operation', prefix, operation, keyId: path.slice(rest + 5, slash) };
    }
  }
  return { kind: 'unknown-operation', prefix };
}

/** Whether `end` is the end of the path or a "/". */
function endsSegment(path: string, end: number): boolean {
  return end === path.length || path.charCodeAt(end) === 0x2f;
}

/** The grammar as regular expressions (paths with line terminators; tests compare against it). */
export function parseWithRegex(path: string): XksPath {
  const match = API_ROOT.exec(path);
  if (match === null) return { kind: 'foreign' };
  const prefix = match[1] ?? '';
  const rest = match[2] ?? '';
  if (rest === 'health') return { kind: 'operation', prefix, operation: 'health', keyId: undefined };
  const keyMatch = KEY_OPERATION.exec(rest);
  if (keyMatch === null) return { kind: 'unknown-operation', prefix };
  return { kind: 'operation', prefix, operation: keyMatch[2] as XksOperation, keyId: keyMatch[1] };
}

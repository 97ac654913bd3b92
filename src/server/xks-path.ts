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

/** Splits a raw request path into prefix, operation and key id. */
export function parseXksPath(path: string): XksPath {
  const match = API_ROOT.exec(path);
  if (match === null) return { kind: 'foreign' };
  const prefix = match[1] ?? '';
  const rest = match[2] ?? '';
  if (rest === 'health') return { kind: 'operation', prefix, operation: 'health', keyId: undefined };
  const keyMatch = KEY_OPERATION.exec(rest);
  if (keyMatch === null) return { kind: 'unknown-operation', prefix };
  return { kind: 'operation', prefix, operation: keyMatch[2] as XksOperation, keyId: keyMatch[1] };
}

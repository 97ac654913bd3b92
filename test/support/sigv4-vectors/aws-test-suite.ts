/** Typed loader for the published AWS SigV4 test suite vectors (see README.md). */
import { readFileSync } from 'node:fs';

/** One published test case: the request and each stage's expected output. */
export interface SigV4Vector {
  name: string;
  request: { method: string; path: string; query: string; headers: Record<string, string>; body: string };
  canonicalRequest: string;
  stringToSign: string;
  authorization: string;
}

/** The whole suite: shared credentials, scope and time, then the cases. */
export interface SigV4Suite {
  accessKeyId: string;
  secret: string;
  region: string;
  service: string;
  amzDate: string;
  cases: SigV4Vector[];
}

/** Reads the suite from disk (once per test file). */
export function loadAwsTestSuite(): SigV4Suite {
  return JSON.parse(readFileSync(new URL('./aws-sig-v4-test-suite.json', import.meta.url), 'utf8')) as SigV4Suite;
}

/** The SignedHeaders list of a case, taken from its expected Authorization header. */
export function signedHeadersOf(v: SigV4Vector): string[] {
  const m = /SignedHeaders=([^,]+)/.exec(v.authorization);
  if (!m?.[1]) throw new Error(`vector ${v.name} has no SignedHeaders`);
  return m[1].split(';');
}

/**
 * Compiles a glob-ish pattern to a matcher: `*` matches any run of characters (including
 * `:` and `/`, so `arn:aws:iam::111122223333:role/*` covers every role path), `?` exactly
 * one character; everything else is literal and case-sensitive, as ARNs are.
 */
export function compileGlob(pattern: string): (value: string) => boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return (value) => value === pattern;
  const p = [...pattern];
  return (value) => globMatch(p, [...value]);
}

/**
 * Wildcard matching that remembers only the last `*` and retries from there: O(len(p) *
 * len(v)) at worst. A regular expression would backtrack exponentially on patterns with
 * several stars against a 2,048-character ARN chosen by the caller.
 */
function globMatch(p: readonly string[], v: readonly string[]): boolean {
  let pi = 0;
  let vi = 0;
  let star = -1;
  let resume = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === v[vi]))) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      resume = vi;
    } else if (star !== -1) {
      pi = star + 1;
      vi = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/**
 * Lints the Dockerfile with dockerfile-utils, the validator behind the VS Code Docker
 * extension (hadolint is neither on npm nor in Debian; dockerfilelint is unmaintained and
 * misreads HEALTHCHECK --start-period and named stages).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The part of dockerfile-utils' API used here (a devDependency). */
interface DockerfileUtils {
  validate: (content: string) => Array<{ message: string; range: { start: { line: number } } }>;
}
const DOCKERFILE_UTILS = 'dockerfile-utils';
const { validate } = (await import(DOCKERFILE_UTILS)) as DockerfileUtils;

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Diagnostics as "line N: message", for readable failures. */
function lint(text: string): string[] {
  return validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
}

describe('Dockerfile lint', () => {
  it('has no problems according to dockerfile-utils', async () => {
    expect(lint(await readFile(`${REPO}/Dockerfile`, 'utf8'))).toEqual([]);
  });

  it('uses a linter that reports real mistakes', () => {
    const problems = lint('FROM node:20 AS a\nHEALTHCHECK --intervall=3s CMD ["a"]\nRUNN x\nUSER\n');
    expect(problems).toEqual(['line 2: Unknown flag: intervall', 'line 3: Unknown instruction: RUNN', 'line 4: Instruction has no arguments']);
  });
});

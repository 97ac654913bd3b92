/** Error bodies: JSON, a known errorName with its status, a short printable message (spec "Error codes"). */
import type { CheckDefinition } from '../check.ts';
import { fail } from '../check.ts';
import { SPEC_ERROR_STATUS, isSpecErrorName } from '../error-table.ts';
import { describeAnswer, isJsonContentType } from '../expect-answer.ts';
import type { HttpAnswer } from '../http-client.ts';
import { decryptBody, encryptBody, requestMetadata } from '../request-bodies.ts';
import type { XksClient } from '../xks-client.ts';

const GROUP = 'errors';

interface ProvokedError {
  label: string;
  answer: HttpAnswer;
}

/** Makes the proxy answer with one error of each common kind. */
async function provokeErrors(client: XksClient): Promise<ProvokedError[]> {
  const o = client.options;
  const key = o.keys.main;
  const bytes = Buffer.alloc(32, 7);
  const unknownPrefix = o.prefix === '' ? 'conformance-unknown' : `${o.prefix}/conformance-unknown`;
  const cases: Array<[string, () => Promise<HttpAnswer>]> = [
    ['unknown key', () => client.metadata('conformance-no-such-key-7f3a')],
    ['unknown prefix', () => client.call(client.path('health', undefined, unknownPrefix), { requestMetadata: requestMetadata('KmsHealthCheck') })],
    ['wrong secret', () => client.metadata(key, undefined, { sign: { secretAccessKey: `${o.secretAccessKey}x` } })],
    ['malformed JSON', () => client.call(client.path('encrypt', key), '{"requestMetadata": {')],
    ['missing plaintext', () => client.call(client.path('encrypt', key), { ...encryptBody({ plaintext: bytes }), plaintext: undefined })],
    [
      'corrupt ciphertext',
      () => client.call(client.path('decrypt', key), decryptBody({ ciphertext: bytes, iv: bytes.subarray(0, 12), tag: bytes.subarray(0, 16) })),
    ],
  ];
  const out: ProvokedError[] = [];
  for (const [label, send] of cases) out.push({ label, answer: await send() });
  return out;
}

function errorCheck(id: string, title: string, level: 'MUST' | 'SHOULD', inspect: (e: ProvokedError) => string | undefined): CheckDefinition {
  return {
    id: `errors.${id}`,
    group: GROUP,
    title,
    spec: 'Error codes',
    level,
    async run({ client }) {
      const problems: string[] = [];
      for (const e of await provokeErrors(client)) {
        if (e.answer.status < 400) {
          problems.push(`${e.label}: expected an error, got ${e.answer.status}`);
          continue;
        }
        const p = inspect(e);
        if (p !== undefined) problems.push(`${e.label}: ${p}`);
      }
      if (problems.length > 0) fail(problems.join('; '));
      return 'inspected 6 provoked errors';
    },
  };
}

/** Signs of leaked internals: stack frames, source paths, tracebacks. */
const INTERNALS = [
  /\n\s+at\s/,
  /\bat\s+\S+\s+\([^)]*:\d+:\d+\)/,
  /[\w/\\-]+\.(?:ts|js|mjs|cjs|py|rs|java|go|rb|cs)(?::\d+)+/,
  /node_modules/,
  /Traceback \(most recent call last\)/,
  /"stack"\s*:/,
];

/** Checks of the error body shape. */
export const errorChecks: CheckDefinition[] = [
  errorCheck('json-body', 'every error body is a JSON object with an errorName from the spec table', 'MUST', ({ answer }) => {
    const body = answer.json as { errorName?: unknown } | undefined;
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) return `body is not a JSON object (${describeAnswer(answer)})`;
    if (!isSpecErrorName(body.errorName)) return `errorName ${JSON.stringify(body.errorName)} is not in the spec table`;
    return undefined;
  }),
  errorCheck('content-type', 'every error answer has Content-Type application/json', 'MUST', ({ answer }) =>
    isJsonContentType(answer) ? undefined : `Content-Type is ${answer.headers['content-type'] ?? 'missing'}`,
  ),
  errorCheck('status-matches-name', 'every error comes with the HTTP status the spec table gives its errorName', 'MUST', ({ answer }) => {
    const name = (answer.json as { errorName?: unknown } | undefined)?.errorName;
    if (!isSpecErrorName(name)) return `no spec errorName (${describeAnswer(answer)})`;
    return answer.status === SPEC_ERROR_STATUS[name] ? undefined : `${name} came with HTTP ${answer.status}, the spec says ${SPEC_ERROR_STATUS[name]}`;
  }),
  errorCheck('message-format', 'errorMessage, when present, is a string under 512 printable ASCII characters', 'MUST', ({ answer }) => {
    const msg = (answer.json as { errorMessage?: unknown } | undefined)?.errorMessage;
    if (msg === undefined) return undefined;
    if (typeof msg !== 'string') return 'errorMessage is not a string';
    if (msg.length >= 512) return `errorMessage is ${msg.length} characters long`;
    const bad = msg.match(/[^\x20-\x7e]/);
    if (bad) return `errorMessage contains the non-printable character U+${bad[0].codePointAt(0)!.toString(16).padStart(4, '0')}`;
    return undefined;
  }),
  errorCheck('no-internals', 'error bodies leak no stack traces, source paths or library internals', 'SHOULD', ({ answer }) => {
    const hit = INTERNALS.find((re) => re.test(answer.text));
    return hit ? `body matches ${hit.source}` : undefined;
  }),
];

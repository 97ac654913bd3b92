import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { compileGlob } from '../../../src/ops/policy/glob-pattern.ts';
import { compilePolicy } from '../../../src/ops/policy/evaluate-policy.ts';
import { createPolicyAuthorizer } from '../../../src/ops/policy/policy-authorizer.ts';
import { policySchema } from '../../../src/config/policy-schema.ts';
import type { AuthorizationInput } from '../../../src/xks/tenants.ts';
import { XksError } from '../../../src/xks/errors.ts';

const APP_ROLE = 'arn:aws:iam::111122223333:role/app/payments';

function input(
  md: Partial<AuthorizationInput['requestMetadata']> = {},
  keyId = 'foo',
  operation: AuthorizationInput['operation'] = 'encrypt',
): AuthorizationInput {
  return { keyId, operation, requestMetadata: { kmsRequestId: 'r1', kmsOperation: 'Encrypt', awsPrincipalArn: APP_ROLE, ...md } };
}

describe('compileGlob', () => {
  it('matches * across ARN separators and ? as one character, case-sensitively', () => {
    expect(compileGlob('arn:aws:iam::111122223333:role/*')(APP_ROLE)).toBe(true);
    expect(compileGlob('arn:aws:iam::111122223333:role/*')('arn:aws:iam::999999999999:role/x')).toBe(false);
    expect(compileGlob('GenerateDataKey*')('GenerateDataKeyWithoutPlaintext')).toBe(true);
    expect(compileGlob('key-?')('key-1')).toBe(true);
    expect(compileGlob('key-?')('key-12')).toBe(false);
    expect(compileGlob('Encrypt')('encrypt')).toBe(false);
    expect(compileGlob('a.b')('axb')).toBe(false);
  });

  it('stays fast on many stars against a long non-matching value', () => {
    const started = performance.now();
    expect(compileGlob('*a*a*a*a*a*a*a*b')('a'.repeat(2048))).toBe(false);
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe('compilePolicy', () => {
  const policy = policySchema.parse({
    rules: [
      { name: 'app-role', effect: 'allow', awsPrincipalArn: 'arn:aws:iam::111122223333:role/app/*', kmsOperation: ['Encrypt', 'Decrypt', 'GenerateDataKey*'] },
      { name: 'vpce-only', effect: 'deny', unless: { awsSourceVpce: 'vpce-0abc*' } },
      { name: 'no-legacy-key', effect: 'deny', keyId: 'legacy-*', operation: 'encrypt' },
    ],
  });
  const evaluate = compilePolicy(policy);

  it('allows a request an allow rule matches and no deny rule matches', () => {
    expect(evaluate(input({ awsSourceVpce: 'vpce-0abc123' }))).toMatchObject({ effect: 'allow', rule: 'app-role' });
  });

  it('lets an explicit deny win over an allow and names the rule', () => {
    const d = evaluate(input({ awsSourceVpce: 'vpce-0abc123' }, 'legacy-2019'));
    expect(d).toMatchObject({ effect: 'deny', rule: 'no-legacy-key' });
    expect(d.explanation).toBe('denied by rule "no-legacy-key"');
  });

  it('treats a missing attribute as not matching, so `unless` denies requests without it', () => {
    expect(evaluate(input())).toMatchObject({ effect: 'deny', rule: 'vpce-only' });
  });

  it('denies by default when no allow rule matches', () => {
    const d = evaluate(input({ awsSourceVpce: 'vpce-0abc1', awsPrincipalArn: 'arn:aws:iam::111122223333:user/mallory' }));
    expect(d).toMatchObject({ effect: 'deny', rule: undefined });
    expect(d.explanation).toContain('defaultEffect');
  });

  it('applies defaultEffect allow to a deny-list policy', () => {
    const denyList = compilePolicy(
      policySchema.parse({ defaultEffect: 'allow', rules: [{ name: 'no-s3', effect: 'deny', kmsViaService: 's3.*.amazonaws.com' }] }),
    );
    expect(denyList(input({ kmsViaService: 's3.us-east-1.amazonaws.com' }))).toMatchObject({ effect: 'deny', rule: 'no-s3' });
    expect(denyList(input({ kmsViaService: 'ebs.us-east-1.amazonaws.com' }))).toMatchObject({ effect: 'allow' });
    expect(denyList(input())).toMatchObject({ effect: 'allow' });
  });

  it('rejects duplicate rule names and unknown condition fields', () => {
    expect(
      policySchema.safeParse({
        rules: [
          { name: 'a', effect: 'allow' },
          { name: 'a', effect: 'deny' },
        ],
      }).success,
    ).toBe(false);
    expect(policySchema.safeParse({ rules: [{ name: 'a', effect: 'allow', principal: 'x' }] }).success).toBe(false);
  });
});

describe('createPolicyAuthorizer', () => {
  function capture() {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    return { logger, lines };
  }
  const denyAll = policySchema.parse({ rules: [{ name: 'block', effect: 'deny', keyId: 'foo' }], defaultEffect: 'allow' });

  it('throws AccessDeniedException with the rule in logDetail, not in the message', () => {
    const { logger } = capture();
    const authorize = createPolicyAuthorizer(denyAll, { prefix: 'p', logger });
    let error: XksError | undefined;
    try {
      authorize(input());
    } catch (e) {
      error = e as XksError;
    }
    expect(error?.errorName).toBe('AccessDeniedException');
    expect(error?.status).toBe(403);
    expect(error?.logDetail).toBe('policy: denied by rule "block"');
    expect(error?.message).not.toContain('block');
  });

  it('in dry-run mode lets the request through and logs the would-be denial with its rule', () => {
    const { logger, lines } = capture();
    const denials: string[] = [];
    const authorize = createPolicyAuthorizer({ ...denyAll, dryRun: true }, { prefix: 'p', logger, onDenial: (_p, d, dry) => denials.push(`${d.rule}:${dry}`) });
    expect(() => authorize(input())).not.toThrow();
    expect(denials).toEqual(['block:true']);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: 'policy would deny (dry run)', rule: 'block', keyId: 'foo', prefix: 'p' });
  });
});

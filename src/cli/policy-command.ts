import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { loadConfigFile } from '../config/load-config.ts';
import { compilePolicy, type PolicyDecision } from '../ops/policy/evaluate-policy.ts';
import type { AuthorizationInput } from '../xks/tenants.ts';
import { isXksError } from '../xks/errors.ts';
import { checkExternalKeyId, parseRequestMetadata } from '../xks/requests.ts';
import { cliAction, configOption } from './cli-action.ts';

type XksKeyOperation = AuthorizationInput['operation'];

/**
 * One sample to evaluate: a key operation, or a health check. Health checks never reach
 * the policy (the proxy does not call it for GetHealthStatus), so they are always allowed.
 */
export type PolicySample = ({ health: false } & AuthorizationInput) | { health: true; requestMetadata: AuthorizationInput['requestMetadata'] };

/** A sample is a health check when it says so, or when KMS's own health operation sent it. */
function isHealthSample(kmsOperation: string, operation: string | undefined): boolean {
  return operation === 'health' || (operation === undefined && kmsOperation === 'KmsHealthCheck');
}

/** The XKS operation KMS calls for a kmsOperation, when it is unambiguous. */
function operationFor(kmsOperation: string): XksKeyOperation | undefined {
  if (kmsOperation === 'Decrypt') return 'decrypt';
  if (kmsOperation === 'Encrypt' || kmsOperation.startsWith('GenerateDataKey')) return 'encrypt';
  if (kmsOperation === 'DescribeKey' || kmsOperation === 'CreateKey') return 'metadata';
  return undefined;
}

/**
 * Reads sample requests: one object or an array, each an XKS request body (its
 * requestMetadata is what matters) optionally with `keyId` and `operation` beside it.
 */
export function parsePolicySamples(raw: unknown, defaults: { keyId?: string; operation?: string }): PolicySample[] {
  const samples = Array.isArray(raw) ? raw : [raw];
  return samples.map((sample, i) => {
    const where = samples.length > 1 ? `sample ${i}: ` : '';
    if (typeof sample !== 'object' || sample === null || Array.isArray(sample)) throw new Error(`${where}expected a JSON object with requestMetadata`);
    const s = sample as Record<string, unknown>;
    let requestMetadata;
    try {
      requestMetadata = parseRequestMetadata(s, { principalRequired: false });
    } catch (e) {
      throw new Error(`${where}${isXksError(e) ? e.message : String(e)}`);
    }
    const givenOperation = defaults.operation ?? (typeof s.operation === 'string' ? s.operation : undefined);
    if (isHealthSample(requestMetadata.kmsOperation, givenOperation)) return { health: true, requestMetadata };
    const keyId = defaults.keyId ?? (typeof s.keyId === 'string' ? s.keyId : undefined);
    if (keyId === undefined) throw new Error(`${where}no key id: pass --key-id or put "keyId" in the sample`);
    const operation = givenOperation ?? operationFor(requestMetadata.kmsOperation);
    if (operation !== 'metadata' && operation !== 'encrypt' && operation !== 'decrypt') {
      throw new Error(`${where}no XKS operation: pass --operation metadata|encrypt|decrypt|health or put "operation" in the sample`);
    }
    try {
      checkExternalKeyId(keyId);
    } catch (e) {
      throw new Error(`${where}${(e as Error).message}`);
    }
    return { health: false, keyId, operation, requestMetadata };
  });
}

function describeSample(input: PolicySample): string {
  const md = input.requestMetadata;
  const parts = input.health ? ['health', md.kmsOperation] : [`key ${input.keyId}`, input.operation, md.kmsOperation];
  if (md.awsPrincipalArn !== undefined) parts.push(md.awsPrincipalArn);
  return parts.join(', ');
}

/** `xks-proxy policy test`: evaluate a key store's policy against sample requests, offline. */
export function policyCommand(): Command {
  const cmd = new Command('policy').description('secondary authorization policies of key stores');
  cmd
    .command('test')
    .description('evaluate the policy of one key store against sample request(s) without a running proxy; exit 0 if all are allowed, 2 if any is denied')
    .addOption(configOption())
    .requiredOption('--prefix <prefix>', 'URI path prefix of the key store ("" for none)')
    .requiredOption('--request <file>', 'JSON file: an XKS request body (or an array of them), optionally with "keyId" and "operation"')
    .option('--key-id <id>', 'externalKeyId to test (overrides the sample)')
    .option('--operation <op>', 'XKS operation: metadata, encrypt, decrypt or health (default: from kmsOperation)')
    .option('--json', 'print the decisions as JSON')
    .action(
      cliAction(async (opts: { config: string; prefix: string; request: string; keyId?: string; operation?: string; json?: boolean }) => {
        const { config } = await loadConfigFile(opts.config);
        const prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
        const ks = config.keyStores.find((k) => k.prefix === prefix);
        if (ks === undefined) throw new Error(`no key store with prefix "${prefix}"; configured: ${config.keyStores.map((k) => `"${k.prefix}"`).join(', ')}`);
        let raw: unknown;
        try {
          raw = JSON.parse(await readFile(opts.request, 'utf8'));
        } catch (e) {
          throw new Error(`cannot read ${opts.request} as JSON: ${(e as Error).message}`);
        }
        const samples = parsePolicySamples(raw, { keyId: opts.keyId, operation: opts.operation });
        const evaluate = ks.policy === undefined ? undefined : compilePolicy(ks.policy);
        const decisions: PolicyDecision[] = samples.map((s) => {
          if (s.health) return { effect: 'allow', rule: undefined, explanation: 'allowed: health checks are never subject to the policy' };
          return evaluate?.(s) ?? { effect: 'allow', rule: undefined, explanation: 'allowed: the key store has no policy' };
        });
        if (opts.json) {
          const out = samples.map((s, i) => ({
            keyId: s.health ? undefined : s.keyId,
            operation: s.health ? 'health' : s.operation,
            kmsOperation: s.requestMetadata.kmsOperation,
            ...decisions[i],
          }));
          process.stdout.write(`${JSON.stringify({ prefix, dryRun: ks.policy?.dryRun ?? false, decisions: out }, null, 2)}\n`);
        } else {
          samples.forEach((s, i) => process.stdout.write(`${decisions[i]!.effect.padEnd(5)}  ${describeSample(s)}: ${decisions[i]!.explanation}\n`));
          if (ks.policy?.dryRun && decisions.some((d) => d.effect === 'deny')) {
            process.stdout.write('note: this policy has dryRun: true, so the proxy logs these denials but lets the requests through\n');
          }
        }
        if (decisions.some((d) => d.effect === 'deny')) process.exitCode = 2;
      }),
    );
  return cmd;
}

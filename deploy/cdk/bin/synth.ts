/**
 * `npm run synth`: writes the example app's cloud assembly to deploy/cdk/cdk.out without
 * AWS credentials (no lookups: account, Region, zones and names come from context or the
 * defaults in lib/example-stack.ts). Fails when cdk-nag's AwsSolutions pack reports a
 * finding that is not acknowledged with a reason.
 *
 * Context: node bin/synth.ts -c region=eu-west-1 -c domain=xks.example.org ... (or via
 * `npm run synth -- -c key=value`), or the `context` object of cdk.json.
 */
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildExampleApp } from '../lib/example-stack';
import { readFileSync } from 'node:fs';

function contextFromArgs(argv: string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = arg === '-c' || arg === '--context' ? argv[++i] : arg.startsWith('--context=') ? arg.slice(10) : undefined;
    if (value === undefined) continue;
    const eq = value.indexOf('=');
    if (eq <= 0) throw new Error(`context must be key=value: ${value}`);
    context[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return context;
}

const root = path.resolve(__dirname, '..');
const cdkJson = JSON.parse(readFileSync(path.join(root, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
const started = Date.now();
const app = new App({ outdir: path.join(root, 'cdk.out'), context: { ...cdkJson.context, ...contextFromArgs(process.argv.slice(2)) } });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const { stack } = buildExampleApp(app);
app.synth();
console.log(
  `synthesized ${stack.stackName} (${stack.region}) to ${path.relative(process.cwd(), path.join(root, 'cdk.out')) || 'cdk.out'} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);

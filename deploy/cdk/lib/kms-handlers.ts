import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { type CfnElement, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

let bundleDir: string | undefined;

/**
 * Bundles lambda/index.ts (handlers plus the AWS SDK clients they use) with esbuild, once per
 * process, into a temporary directory. Offline and without Docker: the SDK comes from this
 * package's node_modules. Bundling the SDK pins the version the tests ran against instead of
 * whatever the Lambda runtime ships.
 */
export function handlerBundleDir(): string {
  if (bundleDir === undefined) {
    const out = mkdtempSync(path.join(tmpdir(), 'xks-cdk-handlers-'));
    buildSync({
      entryPoints: [path.join(__dirname, '..', 'lambda', 'index.ts')],
      outfile: path.join(out, 'index.js'),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      keepNames: true,
      legalComments: 'none',
      logLevel: 'warning',
    });
    bundleDir = out;
    // Synthesis copies the bundle into the cloud assembly; the temporary directory is not needed after this process.
    process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  }
  return bundleDir;
}

/**
 * The Lambda functions and Provider frameworks behind XksExternalKeyStore and XksKey: one set
 * per stack, however many key stores and keys it has.
 */
export class XksKmsHandlers extends Construct {
  readonly keyStoreProvider: cr.Provider;
  readonly keyProvider: cr.Provider;
  readonly keyStoreRole: iam.Role;
  readonly keyRole: iam.Role;

  static of(scope: Construct): XksKmsHandlers {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild('XksKmsHandlers');
    return existing instanceof XksKmsHandlers ? existing : new XksKmsHandlers(stack, 'XksKmsHandlers');
  }

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    const code = lambda.Code.fromAsset(handlerBundleDir());
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.DESTROY });

    const role = (name: string, what: string): iam.Role => {
      const r = new iam.Role(this, name, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: what });
      // Its own log group only (instead of the AWSLambdaBasicExecutionRole managed policy).
      r.addToPolicy(
        new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn, `${logGroup.logGroupArn}:*`] }),
      );
      return r;
    };
    this.keyStoreRole = role('KeyStoreRole', 'xks-proxy CDK: manages the KMS external key store');
    // The custom key store APIs have no resource-level permissions: Resource must be "*".
    this.keyStoreRole.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'kms:CreateCustomKeyStore',
          'kms:DescribeCustomKeyStores',
          'kms:ConnectCustomKeyStore',
          'kms:DisconnectCustomKeyStore',
          'kms:UpdateCustomKeyStore',
          'kms:DeleteCustomKeyStore',
        ],
        resources: ['*'],
      }),
    );
    this.keyRole = role('KeyRole', 'xks-proxy CDK: manages KMS keys in the external key store');
    // CreateKey has no resource to scope to; the condition keeps it to external-key-store keys.
    this.keyRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:KeyOrigin': 'EXTERNAL_KEY_STORE' } },
      }),
    );

    const fn = (name: string, handler: string, r: iam.Role, timeout: Duration): lambda.Function =>
      new lambda.Function(this, name, {
        runtime: lambda.Runtime.NODEJS_24_X,
        code,
        handler: `index.${handler}`,
        role: r,
        timeout,
        memorySize: 256,
        logGroup,
        description: `xks-proxy CDK custom resource: ${handler}`,
      });
    const keyStoreOnEvent = fn('KeyStoreOnEvent', 'keyStoreOnEvent', this.keyStoreRole, Duration.minutes(2));
    const keyStoreIsComplete = fn('KeyStoreIsComplete', 'keyStoreIsComplete', this.keyStoreRole, Duration.minutes(2));
    const keyOnEvent = fn('KeyOnEvent', 'keyOnEvent', this.keyRole, Duration.minutes(2));

    const frameworkLogs = new logs.LogGroup(this, 'ProviderLogs', { retention: logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.DESTROY });
    const frameworkRole = (name: string) => {
      const r = new iam.Role(this, name, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: 'xks-proxy CDK: custom resource provider framework',
      });
      r.addToPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [frameworkLogs.logGroupArn, `${frameworkLogs.logGroupArn}:*`],
        }),
      );
      return r;
    };
    this.keyStoreProvider = new cr.Provider(this, 'KeyStoreProvider', {
      onEventHandler: keyStoreOnEvent,
      isCompleteHandler: keyStoreIsComplete,
      queryInterval: Duration.seconds(20),
      // A backstop: the handler's own deadline (connectTimeout) fails first with a reason.
      totalTimeout: Duration.minutes(45),
      logGroup: frameworkLogs,
      frameworkOnEventRole: frameworkRole('KeyStoreFrameworkOnEventRole'),
      frameworkCompleteAndTimeoutRole: frameworkRole('KeyStoreFrameworkWaitRole'),
      disableWaiterStateMachineLogging: false,
      waiterStateMachineLogOptions: { destination: frameworkLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.keyProvider = new cr.Provider(this, 'KeyProvider', {
      onEventHandler: keyOnEvent,
      logGroup: frameworkLogs,
      frameworkOnEventRole: frameworkRole('KeyFrameworkOnEventRole'),
    });

    this.acknowledgeNagFindings([logGroup, frameworkLogs], [keyStoreOnEvent, keyStoreIsComplete, keyOnEvent]);
  }

  /**
   * cdk-nag AwsSolutions findings that come with this design, each acknowledged with its
   * reason on the construct that causes it (so they travel with the construct).
   */
  private acknowledgeNagFindings(logGroups: logs.LogGroup[], handlers: lambda.Function[]): void {
    const stack = Stack.of(this);
    const ref = (c: Construct) => `<${stack.getLogicalId(c.node.defaultChild as CfnElement)}.Arn>`;
    const ack = (scope: Construct, id: string, reason: string) => Validations.of(scope).acknowledge({ id, reason });
    ack(
      this.keyStoreRole,
      'AwsSolutions-IAM5[Resource::*]',
      'CreateCustomKeyStore, DescribeCustomKeyStores, Connect/Disconnect/Update/DeleteCustomKeyStore support no resource-level permissions: Resource must be "*".',
    );
    ack(
      this.keyRole,
      'AwsSolutions-IAM5[Resource::*]',
      'kms:CreateKey has no resource to scope to; the statement is limited to kms:KeyOrigin EXTERNAL_KEY_STORE.',
    );
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    ack(
      this.keyRole,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:${region}:${account}:key/*]`,
      'Key ids exist only after CreateKey, so the statement covers the keys of this account and Region; the key policy (kms:* for the account) is what lets IAM decide.',
    );
    for (const g of logGroups) {
      const id = `AwsSolutions-IAM5[Resource::${ref(g)}:*]`;
      ack(this, id, "Log streams of this construct's own log group; their names are made by Lambda at run time.");
    }
    for (const h of handlers) {
      ack(
        this,
        `AwsSolutions-IAM5[Resource::${ref(h)}:*]`,
        "The CDK provider framework invokes the handler and its versions (ARN:*); it is this construct's own function.",
      );
    }
    for (const name of ['framework-isComplete', 'framework-onTimeout']) {
      const fn = this.keyStoreProvider.node.tryFindChild(name);
      if (fn !== undefined)
        ack(
          this,
          `AwsSolutions-IAM5[Resource::${ref(fn)}:*]`,
          "The provider framework's waiter state machine invokes its own framework functions and their versions.",
        );
    }
    const waiter = this.keyStoreProvider.node.tryFindChild('waiter-state-machine');
    if (waiter !== undefined)
      ack(
        waiter,
        'AwsSolutions-IAM5[Resource::*]',
        'Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, DescribeLogGroups, ...) supports no resource-level permissions.',
      );
    ack(
      this,
      'AwsSolutions-SF2',
      "The provider framework's waiter state machine has no X-Ray option; it only polls isComplete, and logs ALL events to CloudWatch Logs.",
    );
  }
}

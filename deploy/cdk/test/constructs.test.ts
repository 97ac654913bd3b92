/**
 * Template assertions for every construct and cdk-nag on the example app. One file on
 * purpose: the first synthesis in a process costs ~5 s of CPU (aws-cdk-lib loading), later
 * ones ~1 s, so the example app is synthesized once per context and shared by every
 * assertion, and the smaller stacks below reuse the warmed-up process.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExampleApp, EXAMPLE_DEFAULTS } from '../lib/example-stack';
import { XksExternalKeyStore, XksKey } from '../lib/xks-external-key-store';
import { XksProxyFleet, type XksProxyFleetProps } from '../lib/xks-proxy-fleet';
import { XksVpcEndpointService } from '../lib/xks-vpc-endpoint-service';

const outdirs: string[] = [];

/** Synthesizes the example app as `npm run synth` does (cdk-nag plugin included) into a temp dir. */
function synthExample(context: Record<string, string>) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'xks-cdk-out-'));
  outdirs.push(outdir);
  const app = new App({ outdir, context });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const { stack } = buildExampleApp(app);
  // Throws when cdk-nag reports a finding nobody acknowledged.
  const assembly = app.synth();
  return {
    app,
    stack,
    outdir,
    assembly,
    template: Template.fromJSON(JSON.parse(readFileSync(path.join(outdir, `${stack.artifactId}.template.json`), 'utf8')) as Record<string, unknown>),
  };
}

type Example = ReturnType<typeof synthExample>;
let defaults: Example;
let custom: Example;

beforeAll(() => {
  defaults = synthExample({});
  custom = synthExample({
    region: 'eu-west-1',
    account: '210987654321',
    domain: 'kms-proxy.example.org',
    hostedZoneId: 'Z0123456789ABCDEFGHIJ',
    hostedZoneName: 'example.org',
    imageUri: '210987654321.dkr.ecr.eu-west-1.amazonaws.com/xks-proxy:1.0.0',
    metricsCidr: '10.20.0.0/16',
    externalKeyIds: 'key-a, key-b',
    credentialSecret: 'xks-proxy/kms-credential-2027',
    previousCredentialSecret: 'xks-proxy/kms-credential',
  });
}, 240_000);

afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

describe('example app: synthesis without AWS credentials', () => {
  it('writes a cloud assembly with the stack, its template and its assets, for the documented default context', () => {
    expect(defaults.stack.account).toBe(EXAMPLE_DEFAULTS.account);
    expect(defaults.stack.region).toBe(EXAMPLE_DEFAULTS.region);
    const manifest = JSON.parse(readFileSync(path.join(defaults.outdir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; environment?: string }>;
    };
    expect(manifest.artifacts['XksProxy']).toMatchObject({ type: 'aws:cloudformation:stack', environment: 'aws://123456789012/us-east-1' });
    // No lookups were needed: nothing left for a credentialed `cdk synth` to fill in.
    expect(JSON.stringify(defaults.assembly.manifest.missing ?? [])).toBe('[]');
    const assets = readdirSync(defaults.outdir).filter((f) => f.startsWith('asset.'));
    expect(assets.length).toBeGreaterThan(0);
  });

  it('cdk-nag AwsSolutions: no finding is left unacknowledged, in both contexts', () => {
    for (const { app } of [defaults, custom]) {
      const report = new AwsSolutionsChecks(app).validateScope(app);
      const open = report.violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.ruleName} ${r.resourceLogicalId ?? ''} ${JSON.stringify(r.locations ?? '')}`),
      );
      expect(open).toEqual([]);
    }
  });

  it('every acknowledged cdk-nag finding carries a reason', () => {
    const acks = [defaults, custom].flatMap(({ stack }) =>
      stack.node
        .findAll()
        .flatMap((c) =>
          c.node.metadata
            .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
            .flatMap((m) => Object.entries(m.data as Record<string, string>).filter(([rule]) => rule.includes('AwsSolutions-'))),
        ),
    );
    expect(acks.length).toBeGreaterThan(10);
    for (const [rule, reason] of acks) expect(reason.length, rule).toBeGreaterThan(40);
  });

  it('the Lambda bundle is built offline from lambda/index.ts with the AWS SDK inside', () => {
    const fn = defaults.template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.keyStoreOnEvent' } });
    const [onEventFn] = Object.values(fn) as Array<{ Properties: { Code: { S3Key: string }; Runtime: string } }>;
    expect(onEventFn?.Properties.Runtime).toBe('nodejs24.x');
    const assetDir = path.join(defaults.outdir, `asset.${onEventFn!.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
    const code = readFileSync(path.join(assetDir, 'index.js'), 'utf8');
    expect(code).toContain('CreateCustomKeyStoreCommand');
    expect(code).toContain('GetSecretValueCommand');
  });
});

describe('example app: XksProxyFleet', () => {
  it('runs two or more Fargate tasks in private subnets of two Availability Zones, with a circuit breaker', () => {
    const t = defaults.template;
    t.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      DesiredCount: 2,
      AvailabilityZoneRebalancing: 'ENABLED',
      DeploymentConfiguration: Match.objectLike({ MinimumHealthyPercent: 100, DeploymentCircuitBreaker: { Enable: true, Rollback: true } }),
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
    });
    const [service] = Object.values(t.findResources('AWS::ECS::Service')) as Array<{
      Properties: { NetworkConfiguration: { AwsvpcConfiguration: { Subnets: unknown[] } } };
    }>;
    expect(service!.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets).toHaveLength(2);
    const subnets = t.findResources('AWS::EC2::Subnet', { Properties: { MapPublicIpOnLaunch: false } });
    const zones = new Set(Object.values(subnets).map((s) => (s as { Properties: { AvailabilityZone: string } }).Properties.AvailabilityZone));
    expect([...zones].sort()).toEqual(['us-east-1a', 'us-east-1b']);
  });

  it('delivers config and secrets from Secrets Manager by reference: no plain environment, no file content in the template', () => {
    const t = defaults.template;
    const defs = Object.values(t.findResources('AWS::ECS::TaskDefinition')) as Array<{ Properties: { ContainerDefinitions: Array<Record<string, unknown>> } }>;
    const containers = defs[0]!.Properties.ContainerDefinitions;
    expect(containers.map((c) => c['Name'])).toEqual(['config-writer', 'xks-proxy']);
    for (const c of containers) {
      expect(c['Environment']).toBeUndefined();
      for (const s of c['Secrets'] as Array<{ ValueFrom: unknown }>) expect(JSON.stringify(s.ValueFrom)).toMatch(/secretsmanager|secret:/);
    }
    const writer = containers[0]!;
    expect((writer['Secrets'] as unknown[]).length).toBe(4);
    expect(writer['Essential']).toBe(false);
    const proxy = containers[1]!;
    expect(proxy).toMatchObject({
      Essential: true,
      ReadonlyRootFilesystem: true,
      DependsOn: [{ ContainerName: 'config-writer', Condition: 'SUCCESS' }],
      Command: ['serve', '--workers', '1'],
    });
    expect(proxy['MountPoints']).toEqual(expect.arrayContaining([{ ContainerPath: '/etc/xks-proxy', SourceVolume: 'config', ReadOnly: true }]));
    expect((proxy['Secrets'] as Array<{ Name: string }>).map((s) => s.Name).sort()).toEqual(['XKS_CREDENTIAL_SECRET', 'XKS_KEYSTORE_PASSPHRASE']);
    expect(JSON.stringify(t.toJSON())).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|secretAccessKey":"[A-Za-z0-9+/=]{43}/);
  });

  it("stops with a timeout longer than the proxy's drain, and logs to CloudWatch with retention", () => {
    const t = defaults.template;
    const defs = Object.values(t.findResources('AWS::ECS::TaskDefinition')) as Array<{ Properties: { ContainerDefinitions: Array<Record<string, unknown>> } }>;
    const proxy = defs[0]!.Properties.ContainerDefinitions[1]!;
    expect(proxy['StopTimeout']).toBe(15);
    expect(proxy['LogConfiguration']).toMatchObject({ LogDriver: 'awslogs' });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it("internal NLB: TCP 443 to the proxy's TLS port 8443, target health check GET /ping over HTTPS", () => {
    const t = defaults.template;
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internal' });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'TCP' });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Port: 8443,
      Protocol: 'TCP',
      TargetType: 'ip',
      HealthCheckProtocol: 'HTTPS',
      HealthCheckPath: '/ping',
    });
  });

  it('security groups: the proxy port only from the NLB, metrics closed by default and open only to the given peer', () => {
    const ingress = (tpl: Template) =>
      Object.values(tpl.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => (r as { Properties: Record<string, unknown> }).Properties);
    const d = ingress(defaults.template);
    expect(d.filter((r) => r['FromPort'] === 8443)).toHaveLength(1);
    expect(d.find((r) => r['FromPort'] === 8443)?.['SourceSecurityGroupId']).toBeDefined();
    const all = JSON.stringify(defaults.template.toJSON());
    expect(all).not.toContain('9464');
    const c = JSON.stringify(custom.template.findResources('AWS::EC2::SecurityGroup'));
    expect(c).toMatch(/"CidrIp":"10\.20\.0\.0\/16"[^}]*"FromPort":9464|"FromPort":9464[^}]*"CidrIp":"10\.20\.0\.0\/16"/);
  });

  it('uses the given image URI instead of building the Dockerfile', () => {
    expect(JSON.stringify(custom.template.toJSON())).toContain('210987654321.dkr.ecr.eu-west-1.amazonaws.com/xks-proxy:1.0.0');
    const dockerAssets =
      (JSON.parse(readFileSync(path.join(defaults.outdir, 'XksProxy.assets.json'), 'utf8')) as { dockerImages?: Record<string, unknown> }).dockerImages ?? {};
    expect(Object.keys(dockerAssets)).toHaveLength(1);
    const customDocker =
      (JSON.parse(readFileSync(path.join(custom.outdir, 'XksProxy.assets.json'), 'utf8')) as { dockerImages?: Record<string, unknown> }).dockerImages ?? {};
    expect(Object.keys(customDocker)).toHaveLength(0);
  });

  it('stages only what the Dockerfile copies as the image build context', () => {
    const docker = Object.values(
      (
        JSON.parse(readFileSync(path.join(defaults.outdir, 'XksProxy.assets.json'), 'utf8')) as {
          dockerImages: Record<string, { source: { directory: string } }>;
        }
      ).dockerImages,
    )[0]!;
    const staged = readdirSync(path.join(defaults.outdir, docker.source.directory)).sort();
    expect(staged).toEqual(['.dockerignore', '.npmrc', 'Dockerfile', 'bin', 'config', 'package-lock.json', 'package.json', 'src', 'tsconfig.json']);
    expect(existsSync(path.join(defaults.outdir, docker.source.directory, 'node_modules'))).toBe(false);
  });
});

describe('example app: XksVpcEndpointService', () => {
  it("no acceptance, only cks.kms.<region>.amazonaws.com allowed, on the fleet's NLB", () => {
    defaults.template.hasResourceProperties('AWS::EC2::VPCEndpointService', {
      AcceptanceRequired: false,
      NetworkLoadBalancerArns: [Match.objectLike({ Ref: Match.anyValue() })],
    });
    defaults.template.hasResourceProperties('AWS::EC2::VPCEndpointServicePermissions', { AllowedPrincipals: ['cks.kms.us-east-1.amazonaws.com'] });
    custom.template.hasResourceProperties('AWS::EC2::VPCEndpointServicePermissions', { AllowedPrincipals: ['cks.kms.eu-west-1.amazonaws.com'] });
  });

  it('without a hosted zone: sets the private DNS name and outputs the verification TXT record', () => {
    const t = defaults.template;
    const calls = JSON.stringify(t.findResources('Custom::AWS'));
    expect(calls).toMatch(/modifyVpcEndpointServiceConfiguration.*PrivateDnsName.*xks\.example\.com/);
    expect(calls).toContain('RemovePrivateDnsName');
    const outputs = Object.keys(t.findOutputs('*'));
    expect(outputs.some((o) => o.includes('VerificationTxtRecordName'))).toBe(true);
    expect(outputs.some((o) => o.includes('VerificationTxtRecordValue'))).toBe(true);
    t.resourceCountIs('AWS::Route53::RecordSet', 0);
  });

  it('with a hosted zone: creates the TXT record in it and starts verification', () => {
    const t = custom.template;
    t.hasResourceProperties('AWS::Route53::RecordSet', { Type: 'TXT', HostedZoneId: 'Z0123456789ABCDEFGHIJ' });
    expect(JSON.stringify(t.toJSON())).toContain('startVpcEndpointServicePrivateDnsVerification');
    expect(Object.keys(t.findOutputs('*')).some((o) => o.includes('VerificationTxtRecordName'))).toBe(false);
  });
});

describe('example app: XksExternalKeyStore and XksKey', () => {
  it('the key store resource: name, https://<private DNS name>, /<prefix>/kms/xks/v1, the endpoint service, the credential secret by ARN; after the fleet', () => {
    const t = defaults.template;
    const stores = t.findResources('Custom::XksExternalKeyStore');
    const [store] = Object.values(stores) as Array<{ Properties: Record<string, unknown>; DependsOn: string[] }>;
    expect(store!.Properties).toMatchObject({
      CustomKeyStoreName: 'xks-proxy',
      XksProxyUriEndpoint: 'https://xks.example.com',
      XksProxyUriPath: '/xks/kms/xks/v1',
      CredentialVersion: '1',
      ConnectTimeoutSeconds: '1200',
    });
    expect(JSON.stringify(store!.Properties['XksProxyVpcEndpointServiceName'])).toContain('vpce');
    expect(JSON.stringify(store!.Properties['CredentialSecretArn'])).toContain('xks-proxy/kms-credential');
    expect(store!.DependsOn.some((d) => d.startsWith('FleetService'))).toBe(true);
    // Rotation by switching secrets: KMS gets the new one, the proxies accept both meanwhile.
    expect(JSON.stringify(custom.template.findResources('Custom::XksExternalKeyStore'))).toContain('xks-proxy/kms-credential-2027');
    const customDefs = Object.values(custom.template.findResources('AWS::ECS::TaskDefinition')) as Array<{
      Properties: { ContainerDefinitions: Array<{ Secrets?: Array<{ Name: string; ValueFrom: unknown }> }> };
    }>;
    const proxySecrets = customDefs[0]!.Properties.ContainerDefinitions[1]!.Secrets!;
    expect(JSON.stringify(proxySecrets.find((x) => x.Name === 'XKS_CREDENTIAL_SECRET'))).toContain('xks-proxy/kms-credential-2027');
    expect(JSON.stringify(proxySecrets.find((x) => x.Name === 'XKS_PREVIOUS_CREDENTIAL_SECRET'))).toMatch(
      /xks-proxy\/kms-credential-\?\?|xks-proxy\/kms-credential:/,
    );
  });

  it('the key store handler may read only its credential secret, and manage custom key stores', () => {
    const policies = JSON.stringify(defaults.template.findResources('AWS::IAM::Policy'));
    expect(policies).toMatch(
      /"kms:CreateCustomKeyStore","kms:DescribeCustomKeyStores","kms:ConnectCustomKeyStore","kms:DisconnectCustomKeyStore","kms:UpdateCustomKeyStore","kms:DeleteCustomKeyStore"\]/,
    );
    expect(policies).toMatch(/"Condition":\{"StringEquals":\{"kms:KeyOrigin":"EXTERNAL_KEY_STORE"\}\}/);
    type Statement = { Action: string | string[]; Resource: unknown };
    const statements = Object.entries(defaults.template.findResources('AWS::IAM::Policy'))
      .filter(([logicalId]) => logicalId.startsWith('XksKmsHandlersKeyStoreRole'))
      .map(([, p]) => p)
      .flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
    const secretStatements = statements
      .filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'))
      .map((s) => JSON.stringify(s.Resource))
      .join('\n');
    expect(secretStatements).toContain('xks-proxy/kms-credential');
    expect(secretStatements.split('\n')).toHaveLength(1);
    expect(secretStatements).not.toContain('xks-proxy/keystore');
  });

  it('the keys: origin EXTERNAL_KEY_STORE in this key store, the external key id, an alias, a key policy, a 30-day deletion window', () => {
    const t = defaults.template;
    const [key] = Object.values(t.findResources('Custom::XksKey')) as Array<{ Properties: Record<string, unknown> }>;
    expect(key!.Properties).toMatchObject({ XksKeyId: 'demo-key-1', AliasName: 'alias/xks/demo-key-1', PendingWindowInDays: '30' });
    expect(JSON.stringify(key!.Properties['CustomKeyStoreId'])).toContain('CustomKeyStoreId');
    expect(JSON.stringify(key!.Properties['Policy'])).toContain(':root');
    custom.template.resourceCountIs('Custom::XksKey', 2);
    // One provider and one set of handler functions per stack, however many keys.
    custom.template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });
});

// ---- The constructs outside the example app: a VPC you bring, the mTLS health check, and
// the checks that refuse unsafe settings at synth time.

function stack(): Stack {
  // An outdir of our own: CDK's default is a temp dir nobody removes.
  const outdir = mkdtempSync(path.join(tmpdir(), 'xks-cdk-out-'));
  outdirs.push(outdir);
  return new Stack(new App({ outdir }), 'Test', { env: { account: '123456789012', region: 'us-east-1' } });
}

function importedVpc(s: Stack, zones: string[]): ec2.IVpc {
  return ec2.Vpc.fromVpcAttributes(s, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    vpcCidrBlock: '10.0.0.0/16',
    availabilityZones: zones,
    privateSubnetIds: zones.map((_, i) => `subnet-0000000000000000${i}`),
  });
}

function fleetProps(s: Stack, extra: Partial<XksProxyFleetProps> = {}): XksProxyFleetProps {
  const config = secretsmanager.Secret.fromSecretNameV2(s, `Config${Math.random()}`, 'xks-proxy/config');
  return { imageUri: 'public.ecr.aws/example/xks-proxy:1', configFiles: { 'xks-proxy.yaml': ecs.Secret.fromSecretsManager(config) }, ...extra };
}

describe('XksProxyFleet in a VPC you bring', () => {
  it('uses its private subnets; the mTLS variant health-checks over TCP; key manager egress is opened only where asked', () => {
    const s = stack();
    const vpc = importedVpc(s, ['us-east-1a', 'us-east-1b', 'us-east-1c']);
    new XksProxyFleet(
      s,
      'Fleet',
      fleetProps(s, {
        vpc,
        healthCheck: 'tcp',
        desiredCount: 3,
        keyManagerEgress: [{ peer: ec2.Peer.ipv4('10.9.0.10/32'), port: ec2.Port.tcp(5696), description: 'KMIP server' }],
      }),
    );
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::EC2::VPC', 0);
    t.hasResourceProperties('AWS::ECS::Service', {
      DesiredCount: 3,
      NetworkConfiguration: {
        AwsvpcConfiguration: Match.objectLike({
          AssignPublicIp: 'DISABLED',
          Subnets: ['subnet-00000000000000000', 'subnet-00000000000000001', 'subnet-00000000000000002'],
        }),
      },
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckProtocol: 'TCP' });
    const egress = JSON.stringify(t.findResources('AWS::EC2::SecurityGroup'));
    expect(egress).toContain('"CidrIp":"10.9.0.10/32","Description":"KMIP server","FromPort":5696');
    // Nothing else is open inbound to the proxies: one ingress rule, from the NLB.
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1);
  });
});

describe('refuses unsafe settings at synth time', () => {
  it.each<[string, (s: Stack) => void, RegExp]>([
    ['one task', (s) => new XksProxyFleet(s, 'F', fleetProps(s, { desiredCount: 1 })), /desiredCount must be at least 2/],
    [
      'a stop timeout not longer than the drain',
      (s) => new XksProxyFleet(s, 'F', fleetProps(s, { drainTimeout: Duration.seconds(30), stopTimeout: Duration.seconds(30) })),
      /stopTimeout \(30 s\) must be longer than the drain \(30 s\)/,
    ],
    ['a stop timeout Fargate does not allow', (s) => new XksProxyFleet(s, 'F', fleetProps(s, { drainTimeout: Duration.seconds(115) })), /at most 120 s/],
    ['no xks-proxy.yaml', (s) => new XksProxyFleet(s, 'F', { imageUri: 'x', configFiles: {} }), /must include xks-proxy.yaml/],
    [
      'a config file outside the config directory',
      (s) =>
        new XksProxyFleet(
          s,
          'F',
          fleetProps(s, {
            configFiles: { ...fleetProps(s).configFiles, '../etc/passwd': ecs.Secret.fromSecretsManager(secretsmanager.Secret.fromSecretNameV2(s, 'P', 'p')) },
          }),
        ),
      /must be a relative path inside/,
    ],
    ['one Availability Zone', (s) => new XksProxyFleet(s, 'F', fleetProps(s, { vpc: importedVpc(s, ['us-east-1a']) })), /span 1 Availability Zone/],
    ['a new VPC over one zone', (s) => new XksProxyFleet(s, 'F', fleetProps(s, { maxAzs: 1 })), /maxAzs must be at least 2/],
  ])('%s', (_name, build, message) => {
    expect(() => build(stack())).toThrow(message);
  });

  it("XksKey: a deletion window outside 7-30 days and an alias KMS would refuse; XksExternalKeyStore: a connect timeout past the provider's", () => {
    const s = stack();
    const fleet = new XksProxyFleet(s, 'F', fleetProps(s));
    const es = new XksVpcEndpointService(s, 'E', { loadBalancer: fleet.loadBalancer, privateDnsName: 'xks.example.com' });
    const credential = secretsmanager.Secret.fromSecretNameV2(s, 'C', 'c');
    expect(
      () => new XksExternalKeyStore(s, 'Slow', { name: 'n', endpointService: es, credentialSecret: credential, connectTimeout: Duration.minutes(50) }),
    ).toThrow(/at most 40 minutes/);
    const ks = new XksExternalKeyStore(s, 'KS', { name: 'n', endpointService: es, credentialSecret: credential });
    expect(ks.uriPath).toBe('/kms/xks/v1');
    expect(() => new XksKey(s, 'K1', { keyStore: ks, externalKeyId: 'k', alias: 'a', pendingWindow: Duration.days(3) })).toThrow(/7 to 30/);
    expect(() => new XksKey(s, 'K2', { keyStore: ks, externalKeyId: 'k', alias: 'aws/s3' })).toThrow(/not a valid KMS alias/);
    const key = new XksKey(s, 'K3', { keyStore: ks, externalKeyId: 'k', alias: 'alias/team/k', pendingWindow: Duration.days(7) });
    expect(key.aliasName).toBe('alias/team/k');
    Template.fromStack(s).hasResourceProperties('Custom::XksKey', { AliasName: 'alias/team/k', PendingWindowInDays: '7' });
  });
});

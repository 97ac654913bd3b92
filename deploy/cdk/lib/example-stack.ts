import { App, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { XksExternalKeyStore, XksKey } from './xks-external-key-store';
import { XksProxyFleet } from './xks-proxy-fleet';
import { XksVpcEndpointService } from './xks-vpc-endpoint-service';

/**
 * The example app's settings, from CDK context (`-c name=value` or cdk.json). The defaults
 * let `npm run synth` work on a machine without AWS credentials; set the real ones to deploy.
 */
export interface ExampleSettings {
  account: string;
  region: string;
  /** Private DNS name of the endpoint service = the host name in the proxy's certificate. */
  domain: string;
  /** Public hosted zone of the domain (both or neither); without it the TXT record is an output. */
  hostedZoneId?: string;
  hostedZoneName?: string;
  /** A prebuilt image; default: built from the repository's Dockerfile at deploy time. */
  imageUri?: string;
  keyStoreName: string;
  uriPrefix: string;
  /** External key ids to create KMS keys for (comma separated); alias = xks/<id>. */
  externalKeyIds: string[];
  /** Secrets Manager names (created beforehand; see docs/deploy.md). */
  configSecret: string;
  tlsSecret: string;
  credentialSecret: string;
  keystoreSecret: string;
  /** Bump (e.g. to the new access key id) to rotate the credential in KMS. */
  credentialVersion: string;
  /**
   * While rotating: the secret of the credential KMS used so far. The proxies get its
   * secretAccessKey as XKS_PREVIOUS_CREDENTIAL_SECRET, so the config can accept both.
   */
  previousCredentialSecret?: string;
  /** CIDR allowed to scrape metrics on 9464; default: none. */
  metricsCidr?: string;
  /** Availability Zones of the proxies (comma separated); default <region>a,<region>b. */
  availabilityZones: string[];
}

export const EXAMPLE_DEFAULTS: ExampleSettings = {
  account: '123456789012',
  region: 'us-east-1',
  domain: 'xks.example.com',
  keyStoreName: 'xks-proxy',
  uriPrefix: 'xks',
  externalKeyIds: ['demo-key-1'],
  configSecret: 'xks-proxy/config',
  tlsSecret: 'xks-proxy/tls',
  credentialSecret: 'xks-proxy/kms-credential',
  keystoreSecret: 'xks-proxy/keystore',
  credentialVersion: '1',
  availabilityZones: ['us-east-1a', 'us-east-1b'],
};

export function exampleSettings(app: App): ExampleSettings {
  const get = (name: keyof ExampleSettings): string | undefined => {
    const value: unknown = app.node.tryGetContext(name);
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const ids = get('externalKeyIds');
  const list = (value: string) =>
    value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const region = get('region') ?? EXAMPLE_DEFAULTS.region;
  const zones = get('availabilityZones');
  const settings: ExampleSettings = {
    ...EXAMPLE_DEFAULTS,
    account: get('account') ?? EXAMPLE_DEFAULTS.account,
    region,
    availabilityZones: zones === undefined ? [`${region}a`, `${region}b`] : list(zones),
    domain: get('domain') ?? EXAMPLE_DEFAULTS.domain,
    keyStoreName: get('keyStoreName') ?? EXAMPLE_DEFAULTS.keyStoreName,
    uriPrefix: get('uriPrefix') ?? EXAMPLE_DEFAULTS.uriPrefix,
    externalKeyIds: ids === undefined ? EXAMPLE_DEFAULTS.externalKeyIds : list(ids),
    configSecret: get('configSecret') ?? EXAMPLE_DEFAULTS.configSecret,
    tlsSecret: get('tlsSecret') ?? EXAMPLE_DEFAULTS.tlsSecret,
    credentialSecret: get('credentialSecret') ?? EXAMPLE_DEFAULTS.credentialSecret,
    keystoreSecret: get('keystoreSecret') ?? EXAMPLE_DEFAULTS.keystoreSecret,
    credentialVersion: get('credentialVersion') ?? EXAMPLE_DEFAULTS.credentialVersion,
  };
  for (const optional of ['hostedZoneId', 'hostedZoneName', 'imageUri', 'metricsCidr', 'previousCredentialSecret'] as const) {
    const value = get(optional);
    if (value !== undefined) settings[optional] = value;
  }
  if ((settings.hostedZoneId === undefined) !== (settings.hostedZoneName === undefined)) {
    throw new Error('context: give hostedZoneId and hostedZoneName together, or neither');
  }
  return settings;
}

/** The proxy fleet, its endpoint service, the KMS external key store and its keys, in one stack. */
export class XksExampleStack extends Stack {
  readonly fleet: XksProxyFleet;
  readonly endpointService: XksVpcEndpointService;
  readonly keyStore: XksExternalKeyStore;
  readonly keys: XksKey[];
  private readonly zones: string[];

  /** Named zones instead of a lookup, so synthesis needs no AWS credentials. */
  override get availabilityZones(): string[] {
    return this.zones;
  }

  constructor(scope: Construct, id: string, settings: ExampleSettings, props?: StackProps) {
    super(scope, id, { ...props, env: { account: settings.account, region: settings.region } });
    const secrets = new Map<string, secretsmanager.ISecret>();
    const secret = (name: string): secretsmanager.ISecret => {
      let found = secrets.get(name);
      if (found === undefined) {
        found = secretsmanager.Secret.fromSecretNameV2(this, `Secret${secrets.size}`, name);
        secrets.set(name, found);
      }
      return found;
    };
    const config = secret(settings.configSecret);
    const tls = secret(settings.tlsSecret);
    const credential = secret(settings.credentialSecret);
    const keystore = secret(settings.keystoreSecret);

    this.zones = settings.availabilityZones;
    this.fleet = new XksProxyFleet(this, 'Fleet', {
      maxAzs: this.zones.length,
      ...(settings.imageUri !== undefined ? { imageUri: settings.imageUri } : {}),
      configFiles: {
        'xks-proxy.yaml': ecs.Secret.fromSecretsManager(config),
        'tls/server-chain.pem': ecs.Secret.fromSecretsManager(tls, 'cert'),
        'tls/server.key': ecs.Secret.fromSecretsManager(tls, 'key'),
        'keystore/xks.keystore': ecs.Secret.fromSecretsManager(keystore, 'keystore'),
      },
      secretEnvironment: {
        XKS_CREDENTIAL_SECRET: ecs.Secret.fromSecretsManager(credential, 'secretAccessKey'),
        XKS_KEYSTORE_PASSPHRASE: ecs.Secret.fromSecretsManager(keystore, 'passphrase'),
        ...(settings.previousCredentialSecret !== undefined
          ? { XKS_PREVIOUS_CREDENTIAL_SECRET: ecs.Secret.fromSecretsManager(secret(settings.previousCredentialSecret), 'secretAccessKey') }
          : {}),
      },
      ...(settings.metricsCidr !== undefined ? { metricsPeer: ec2.Peer.ipv4(settings.metricsCidr), metricsPort: 9464 } : {}),
    });

    const zone =
      settings.hostedZoneId !== undefined && settings.hostedZoneName !== undefined
        ? route53.PublicHostedZone.fromPublicHostedZoneAttributes(this, 'Zone', { hostedZoneId: settings.hostedZoneId, zoneName: settings.hostedZoneName })
        : undefined;
    this.endpointService = new XksVpcEndpointService(this, 'EndpointService', {
      loadBalancer: this.fleet.loadBalancer,
      privateDnsName: settings.domain,
      ...(zone !== undefined ? { publicHostedZone: zone } : {}),
    });

    this.keyStore = new XksExternalKeyStore(this, 'KeyStore', {
      name: settings.keyStoreName,
      endpointService: this.endpointService,
      uriPrefix: settings.uriPrefix,
      credentialSecret: credential,
      credentialVersion: settings.credentialVersion,
    });
    // KMS's GetHealthStatus must find running proxies: connect after the service is stable.
    this.keyStore.node.addDependency(this.fleet.service);

    this.keys = settings.externalKeyIds.map(
      (externalKeyId, i) =>
        new XksKey(this, `Key${i + 1}`, {
          keyStore: this.keyStore,
          externalKeyId,
          alias: `xks/${externalKeyId}`,
        }),
    );

    new CfnOutput(this, 'CustomKeyStoreId', { value: this.keyStore.customKeyStoreId });
    new CfnOutput(this, 'XksProxyUriEndpoint', { value: this.endpointService.uriEndpoint });
    new CfnOutput(this, 'XksProxyUriPath', { value: this.keyStore.uriPath });
    this.keys.forEach((key, i) => new CfnOutput(this, `Key${i + 1}Arn`, { value: key.keyArn }));
  }
}

/** Builds the example app; `bin/synth.ts` writes it to cdk.out. */
export function buildExampleApp(app: App = new App()): { app: App; stack: XksExampleStack } {
  const stack = new XksExampleStack(app, 'XksProxy', exampleSettings(app));
  return { app, stack };
}

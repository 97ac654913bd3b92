import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { XksKmsHandlers } from './kms-handlers';
import type { XksVpcEndpointService } from './xks-vpc-endpoint-service';

export interface XksExternalKeyStoreProps {
  /** The key store's name in KMS (unique in the account and Region). */
  readonly name: string;
  /** The endpoint service in front of the fleet (gives XksProxyUriEndpoint and the service name). */
  readonly endpointService: XksVpcEndpointService;
  /** The key store's prefix in the proxy config: XksProxyUriPath is /<prefix>/kms/xks/v1. */
  readonly uriPrefix?: string;
  /**
   * The XKS proxy credential, a Secrets Manager secret with JSON {"accessKeyId": "...",
   * "secretAccessKey": "..."} (what `xks-proxy credentials generate` prints). Read by the
   * handler at deploy time; never in the template.
   */
  readonly credentialSecret: secretsmanager.ISecret;
  /**
   * Change it (for example to the new access key id) to rotate: the next deployment sends the
   * secret's current value to KMS with UpdateCustomKeyStore. Default '1'.
   */
  readonly credentialVersion?: string;
  /** How long to wait for CONNECTED (KMS creates an interface endpoint first). Default 20 minutes. */
  readonly connectTimeout?: Duration;
}

/**
 * An AWS KMS external key store with VPC endpoint service connectivity, created, connected
 * (the deployment waits for CONNECTED, or fails with the ConnectionErrorCode and the fix),
 * updated (credential rotation) and deleted by a custom resource.
 */
export class XksExternalKeyStore extends Construct {
  /** cks-... */
  readonly customKeyStoreId: string;
  readonly uriPath: string;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: XksExternalKeyStoreProps) {
    super(scope, id);
    const prefix = (props.uriPrefix ?? '').replace(/^\/+|\/+$/g, '');
    this.uriPath = prefix === '' ? '/kms/xks/v1' : `/${prefix}/kms/xks/v1`;
    const timeout = props.connectTimeout ?? Duration.minutes(20);
    if (timeout.toSeconds() > 40 * 60) throw new Error('XksExternalKeyStore: connectTimeout must be at most 40 minutes (the provider gives up at 45)');
    const handlers = XksKmsHandlers.of(this);
    props.credentialSecret.grantRead(handlers.keyStoreRole);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: handlers.keyStoreProvider.serviceToken,
      resourceType: 'Custom::XksExternalKeyStore',
      properties: {
        CustomKeyStoreName: props.name,
        XksProxyUriEndpoint: props.endpointService.uriEndpoint,
        XksProxyUriPath: this.uriPath,
        XksProxyVpcEndpointServiceName: props.endpointService.serviceName,
        CredentialSecretArn: props.credentialSecret.secretArn,
        CredentialVersion: props.credentialVersion ?? '1',
        ConnectTimeoutSeconds: String(timeout.toSeconds()),
      },
    });
    // KMS cannot connect before the endpoint service exists with its private DNS name.
    this.resource.node.addDependency(props.endpointService);
    this.customKeyStoreId = this.resource.getAttString('CustomKeyStoreId');
  }
}

export interface XksKeyProps {
  /** The external key store the key lives in. */
  readonly keyStore: XksExternalKeyStore;
  /** The key's id in the external key manager (XksKeyId): enabled, AES-256, ENCRYPT and DECRYPT. */
  readonly externalKeyId: string;
  /** Alias, with or without the alias/ prefix. Required: it makes retried creates idempotent. */
  readonly alias: string;
  readonly description?: string;
  /** Key policy. Default: the account (IAM policies decide), as AWS::KMS::Key does. */
  readonly policy?: iam.PolicyDocument;
  /** Waiting period when the key is removed from the stack: 7 to 30 days. Default 30. */
  readonly pendingWindow?: Duration;
}

/**
 * A KMS key in the external key store (Origin EXTERNAL_KEY_STORE), with its alias and key
 * policy. Removing it from the stack schedules its deletion.
 */
export class XksKey extends Construct {
  readonly keyId: string;
  readonly keyArn: string;
  readonly aliasName: string;

  constructor(scope: Construct, id: string, props: XksKeyProps) {
    super(scope, id);
    const handlers = XksKmsHandlers.of(this);
    this.aliasName = props.alias.startsWith('alias/') ? props.alias : `alias/${props.alias}`;
    if (!/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(this.aliasName) || this.aliasName.startsWith('alias/aws/')) {
      throw new Error(`XksKey: alias ${props.alias} is not a valid KMS alias name (letters, digits, / _ -; not aws/)`);
    }
    const days = props.pendingWindow?.toDays() ?? 30;
    if (!Number.isInteger(days) || days < 7 || days > 30) throw new Error('XksKey: pendingWindow must be a whole number of days from 7 to 30');
    const s = Stack.of(this);
    const policy =
      props.policy ??
      new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'Enable IAM policies',
            principals: [new iam.AccountRootPrincipal()],
            actions: ['kms:*'],
            resources: ['*'],
          }),
        ],
      });
    // This alias and the keys of this account; the key ids are not known before CreateKey.
    handlers.keyRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateAlias', 'kms:UpdateAlias', 'kms:DeleteAlias'],
        resources: [s.formatArn({ service: 'kms', resource: this.aliasName })],
      }),
    );
    addKeyStatementOnce(handlers, s.formatArn({ service: 'kms', resource: 'key', resourceName: '*' }));
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: handlers.keyProvider.serviceToken,
      resourceType: 'Custom::XksKey',
      properties: {
        CustomKeyStoreId: props.keyStore.customKeyStoreId,
        XksKeyId: props.externalKeyId,
        AliasName: this.aliasName,
        Description: props.description ?? `xks-proxy external key ${props.externalKeyId}`,
        Policy: s.toJsonString(policy),
        PendingWindowInDays: String(days),
      },
    });
    this.keyId = resource.getAttString('KeyId');
    this.keyArn = resource.getAttString('KeyArn');
  }
}

const keyStatementAdded = new WeakSet<XksKmsHandlers>();

function addKeyStatementOnce(handlers: XksKmsHandlers, keyArns: string): void {
  if (keyStatementAdded.has(handlers)) return;
  keyStatementAdded.add(handlers);
  handlers.keyRole.addToPolicy(
    new iam.PolicyStatement({
      actions: [
        'kms:DescribeKey',
        'kms:PutKeyPolicy',
        'kms:UpdateKeyDescription',
        'kms:ScheduleKeyDeletion',
        'kms:TagResource',
        'kms:CreateAlias',
        'kms:UpdateAlias',
        'kms:DeleteAlias',
      ],
      resources: [keyArns],
    }),
  );
}

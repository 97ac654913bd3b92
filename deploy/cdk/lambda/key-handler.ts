/**
 * Custom resource for a KMS key in an external key store. AWS::KMS::Key cannot make one: its
 * typings in aws-cdk-lib 2.276 have no CustomKeyStoreId or XksKeyId, and the CloudFormation
 * reference says Origin EXTERNAL_KEY_STORE is not supported.
 *
 * The alias is managed here, not by AWS::KMS::Alias, because it is what makes a retried
 * Create idempotent: CreateKey has no client token, but "alias/x already names a key in
 * this key store for this external key" tells a retry that the key exists.
 */
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
  type CreateKeyCommandOutput,
  type DescribeKeyCommandOutput,
  type KeyMetadata,
} from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { errorName, type HandlerDeps } from './ports';
import type { OnEventResult } from './key-store-handler';

export interface XksKeyProps {
  customKeyStoreId: string;
  xksKeyId: string;
  aliasName: string;
  description: string;
  /** The key policy as JSON text. */
  policy: string;
  pendingWindowInDays: number;
}

export function readKeyProps(raw: Record<string, unknown>): XksKeyProps {
  const get = (field: string): string => {
    const value = raw[field];
    if (typeof value !== 'string' || value === '') throw new Error(`property ${field} is required`);
    return value;
  };
  const aliasName = get('AliasName');
  if (!aliasName.startsWith('alias/') || aliasName.startsWith('alias/aws/'))
    throw new Error(`property AliasName must start with alias/ (and not alias/aws/): ${aliasName}`);
  const window = Number(raw['PendingWindowInDays'] ?? '30');
  if (!Number.isInteger(window) || window < 7 || window > 30) throw new Error('property PendingWindowInDays must be an integer from 7 to 30');
  return {
    customKeyStoreId: get('CustomKeyStoreId'),
    xksKeyId: get('XksKeyId'),
    aliasName,
    description: typeof raw['Description'] === 'string' ? raw['Description'] : '',
    policy: get('Policy'),
    pendingWindowInDays: window,
  };
}

async function describeKey(deps: HandlerDeps, keyId: string): Promise<KeyMetadata | undefined> {
  try {
    const out = (await deps.kms.send(new DescribeKeyCommand({ KeyId: keyId }))) as DescribeKeyCommandOutput;
    return out.KeyMetadata;
  } catch (e) {
    if (errorName(e) === 'NotFoundException') return undefined;
    throw e;
  }
}

function isOurs(key: KeyMetadata, props: XksKeyProps): boolean {
  return (
    key.Origin === 'EXTERNAL_KEY_STORE' &&
    key.CustomKeyStoreId === props.customKeyStoreId &&
    key.XksKeyConfiguration?.Id === props.xksKeyId &&
    key.KeyState !== 'PendingDeletion'
  );
}

function result(key: { KeyId?: string; Arn?: string }, props: XksKeyProps): OnEventResult {
  return { PhysicalResourceId: key.KeyId!, Data: { KeyId: key.KeyId!, KeyArn: key.Arn!, AliasName: props.aliasName } };
}

/** Points the alias at keyId, creating it if needed. */
async function pointAlias(deps: HandlerDeps, aliasName: string, keyId: string): Promise<void> {
  try {
    await deps.kms.send(new CreateAliasCommand({ AliasName: aliasName, TargetKeyId: keyId }));
    deps.log(`CreateAlias ${aliasName} -> ${keyId}`);
  } catch (e) {
    if (errorName(e) !== 'AlreadyExistsException') throw e;
    await deps.kms.send(new UpdateAliasCommand({ AliasName: aliasName, TargetKeyId: keyId }));
    deps.log(`UpdateAlias ${aliasName} -> ${keyId}`);
  }
}

/** Deletes the alias only while it still names keyId (after a replacement it names the new key). */
async function deleteAliasIfItNames(deps: HandlerDeps, aliasName: string, keyId: string): Promise<void> {
  const target = await describeKey(deps, aliasName);
  if (target?.KeyId !== keyId) return;
  try {
    await deps.kms.send(new DeleteAliasCommand({ AliasName: aliasName }));
    deps.log(`DeleteAlias ${aliasName}`);
  } catch (e) {
    if (errorName(e) !== 'NotFoundException') throw e;
  }
}

async function createKey(
  event: CloudFormationCustomResourceEvent,
  props: XksKeyProps,
  deps: HandlerDeps,
  replacing: string | undefined,
): Promise<OnEventResult> {
  const named = await describeKey(deps, props.aliasName);
  if (named !== undefined && isOurs(named, props)) {
    deps.log(`${props.aliasName} already names ${named.KeyId} for external key ${props.xksKeyId}: a retried event, adopting it`);
    await deps.kms.send(new PutKeyPolicyCommand({ KeyId: named.KeyId!, Policy: props.policy }));
    return result(named, props);
  }
  if (named !== undefined && named.KeyId !== replacing) {
    throw new Error(
      `alias ${props.aliasName} already names key ${named.KeyId}, which is not a key in ${props.customKeyStoreId} for external key ${props.xksKeyId}; choose another alias`,
    );
  }
  const out = (await deps.kms.send(
    new CreateKeyCommand({
      Origin: 'EXTERNAL_KEY_STORE',
      CustomKeyStoreId: props.customKeyStoreId,
      XksKeyId: props.xksKeyId,
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      Description: props.description,
      Policy: props.policy,
      // Lets a person find the stack that made the key, e.g. after a failed alias step.
      Tags: [{ TagKey: 'xks-cdk:resource', TagValue: `${event.StackId}/${event.LogicalResourceId}`.slice(-256) }],
    }),
  )) as CreateKeyCommandOutput;
  const key = out.KeyMetadata!;
  deps.log(`CreateKey ${key.KeyId} in ${props.customKeyStoreId} for external key ${props.xksKeyId}`);
  try {
    await pointAlias(deps, props.aliasName, key.KeyId!);
  } catch (e) {
    // Without its alias a retry could not find this key: do not leave it behind.
    await deps.kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId!, PendingWindowInDays: 7 }));
    deps.log(`ScheduleKeyDeletion ${key.KeyId}: the alias step failed`);
    throw e;
  }
  return result(key, props);
}

async function updateKey(event: CloudFormationCustomResourceEvent & { RequestType: 'Update' }, props: XksKeyProps, deps: HandlerDeps): Promise<OnEventResult> {
  const old = readKeyProps(event.OldResourceProperties);
  const keyId = event.PhysicalResourceId;
  if (old.customKeyStoreId !== props.customKeyStoreId || old.xksKeyId !== props.xksKeyId) {
    // A different external key is a different KMS key: create it; CloudFormation then sends
    // Delete for the old physical id, which schedules the old key's deletion.
    return createKey(event, props, deps, keyId);
  }
  const key = await describeKey(deps, keyId);
  if (key === undefined || key.KeyState === 'PendingDeletion')
    throw new Error(`KMS key ${keyId} no longer exists or is pending deletion; cancel the deletion in KMS or replace the resource`);
  if (old.description !== props.description) {
    await deps.kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: props.description }));
    deps.log(`UpdateKeyDescription ${keyId}`);
  }
  if (old.policy !== props.policy) {
    await deps.kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: props.policy }));
    deps.log(`PutKeyPolicy ${keyId}`);
  }
  if (old.aliasName !== props.aliasName) {
    await pointAlias(deps, props.aliasName, keyId);
    await deleteAliasIfItNames(deps, old.aliasName, keyId);
  }
  return result(key, props);
}

async function deleteKey(event: CloudFormationCustomResourceEvent & { RequestType: 'Delete' }, deps: HandlerDeps): Promise<OnEventResult> {
  const keyId = event.PhysicalResourceId;
  const key = await describeKey(deps, keyId);
  if (key === undefined || key.KeyState === 'PendingDeletion') {
    deps.log(`KMS key ${keyId}: already gone or pending deletion`);
    return { PhysicalResourceId: keyId, Data: {} };
  }
  const raw = event.ResourceProperties as Record<string, unknown>;
  if (typeof raw['AliasName'] === 'string') await deleteAliasIfItNames(deps, raw['AliasName'], keyId);
  const window = Number(raw['PendingWindowInDays'] ?? '30');
  await deps.kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: Number.isInteger(window) ? window : 30 }));
  deps.log(`ScheduleKeyDeletion ${keyId}: in ${window} days`);
  return { PhysicalResourceId: keyId, Data: {} };
}

export async function onKeyEvent(event: CloudFormationCustomResourceEvent, deps: HandlerDeps): Promise<OnEventResult> {
  deps.log(`${event.RequestType} ${event.LogicalResourceId} (request ${event.RequestId})`);
  switch (event.RequestType) {
    case 'Create':
      return createKey(event, readKeyProps(event.ResourceProperties), deps, undefined);
    case 'Update':
      return updateKey(event, readKeyProps(event.ResourceProperties), deps);
    case 'Delete':
      return deleteKey(event, deps);
  }
}

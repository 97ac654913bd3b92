import { beforeEach, describe, expect, it } from 'vitest';
import { onKeyEvent } from '../lambda/key-handler';
import { createEvent, deleteEvent, updateEvent } from './support/events';
import { kmsError, StandInKms, standInDeps } from './support/stand-in-kms';

const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' }],
});

let kms: StandInKms;
let deps: ReturnType<typeof standInDeps>;
let storeId: string;
let props: Record<string, string>;

beforeEach(() => {
  kms = new StandInKms();
  deps = standInDeps(kms);
  storeId = 'cks-0123456789abcdef0';
  kms.stores.set(storeId, {
    entry: { CustomKeyStoreId: storeId, CustomKeyStoreName: 'xks-proxy', CustomKeyStoreType: 'EXTERNAL_KEY_STORE', ConnectionState: 'CONNECTED' },
    credential: { AccessKeyId: 'A', RawSecretAccessKey: 'B' },
    pollsLeft: 0,
    outcome: 'CONNECTED',
  });
  props = {
    CustomKeyStoreId: storeId,
    XksKeyId: 'demo-key-1',
    AliasName: 'alias/xks/demo-key-1',
    Description: 'demo',
    Policy: POLICY,
    PendingWindowInDays: '7',
  };
});

describe('XKS KMS key custom resource, stand-in KMS (KMS cannot be reached from here)', () => {
  it('create: CreateKey with origin EXTERNAL_KEY_STORE, the key store id, the external key id and the policy; then the alias', async () => {
    const r = await onKeyEvent(createEvent('Key1', props), deps);
    const key = kms.keys.get(r.PhysicalResourceId)!;
    expect(key.meta).toMatchObject({ Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyConfiguration: { Id: 'demo-key-1' }, Description: 'demo' });
    expect(key.policy).toBe(POLICY);
    expect(kms.aliases.get('alias/xks/demo-key-1')).toBe(r.PhysicalResourceId);
    expect(r.Data).toEqual({ KeyId: r.PhysicalResourceId, KeyArn: key.meta.Arn, AliasName: 'alias/xks/demo-key-1' });
  });

  it("create fails with KMS's exception while the key store is not CONNECTED", async () => {
    kms.store(storeId).entry.ConnectionState = 'DISCONNECTED';
    await expect(onKeyEvent(createEvent('Key1', props), deps)).rejects.toThrow('CustomKeyStoreInvalidStateException');
    expect(kms.keys.size).toBe(0);
  });

  it('retried Create: finds the key through its alias and makes no second key', async () => {
    const first = await onKeyEvent(createEvent('Key1', props), deps);
    const again = await onKeyEvent(createEvent('Key1', props), deps);
    expect(again.PhysicalResourceId).toBe(first.PhysicalResourceId);
    expect(kms.keys.size).toBe(1);
    expect(kms.count('CreateKey')).toBe(1);
  });

  it('create refuses an alias that names some other key, and creates nothing', async () => {
    kms.keys.set('other', { meta: { KeyId: 'other', Origin: 'AWS_KMS', KeyState: 'Enabled' }, policy: '' });
    kms.aliases.set('alias/xks/demo-key-1', 'other');
    await expect(onKeyEvent(createEvent('Key1', props), deps)).rejects.toThrow(/alias alias\/xks\/demo-key-1 already names key other/);
    expect(kms.count('CreateKey')).toBe(0);
  });

  it("create whose alias step fails schedules the new key's deletion, so no key is left without a way to find it", async () => {
    kms.failNext('CreateAlias', kmsError('LimitExceededException'));
    await expect(onKeyEvent(createEvent('Key1', props), deps)).rejects.toThrow('LimitExceededException');
    const [key] = [...kms.keys.values()];
    expect(key?.meta.KeyState).toBe('PendingDeletion');
  });

  it('update: policy, description and alias change in place', async () => {
    const { PhysicalResourceId: id } = await onKeyEvent(createEvent('Key1', props), deps);
    const next = { ...props, Description: 'new', Policy: POLICY.replace('kms:*', 'kms:Describe*'), AliasName: 'alias/xks/renamed' };
    const r = await onKeyEvent(updateEvent('Key1', id, next, props), deps);
    expect(r.PhysicalResourceId).toBe(id);
    expect(kms.keys.get(id)?.meta.Description).toBe('new');
    expect(kms.keys.get(id)?.policy).toContain('kms:Describe*');
    expect(kms.aliases.get('alias/xks/renamed')).toBe(id);
    expect(kms.aliases.has('alias/xks/demo-key-1')).toBe(false);
  });

  it('update to another external key: a new KMS key takes the alias; the Delete that follows schedules only the old key', async () => {
    const { PhysicalResourceId: oldId } = await onKeyEvent(createEvent('Key1', props), deps);
    const next = { ...props, XksKeyId: 'demo-key-2' };
    const { PhysicalResourceId: newId } = await onKeyEvent(updateEvent('Key1', oldId, next, props), deps);
    expect(newId).not.toBe(oldId);
    expect(kms.aliases.get('alias/xks/demo-key-1')).toBe(newId);
    await onKeyEvent(deleteEvent('Key1', oldId, props), deps);
    expect(kms.keys.get(oldId)?.meta.KeyState).toBe('PendingDeletion');
    expect(kms.keys.get(newId)?.meta.KeyState).toBe('Enabled');
    expect(kms.aliases.get('alias/xks/demo-key-1')).toBe(newId);
  });

  it('delete: removes the alias and schedules deletion with the pending window; a retried Delete is a no-op', async () => {
    const { PhysicalResourceId: id } = await onKeyEvent(createEvent('Key1', props), deps);
    await onKeyEvent(deleteEvent('Key1', id, props), deps);
    expect(kms.keys.get(id)?.meta).toMatchObject({ KeyState: 'PendingDeletion', PendingDeletionWindowInDays: 7 });
    expect(kms.aliases.size).toBe(0);
    kms.calls.length = 0;
    await onKeyEvent(deleteEvent('Key1', id, props), deps);
    expect(kms.calls).toEqual(['DescribeKey']);
  });

  it('rejects bad properties before calling KMS', async () => {
    await expect(onKeyEvent(createEvent('Key1', { ...props, PendingWindowInDays: '3' }), deps)).rejects.toThrow(/7 to 30/);
    await expect(onKeyEvent(createEvent('Key1', { ...props, AliasName: 'alias/aws/s3' }), deps)).rejects.toThrow(/alias\//);
    expect(kms.calls).toEqual([]);
  });
});

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConnectionErrorCodeType } from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import { adviceCodes, adviceFor } from '../lambda/connection-advice';
import { isComplete, onEvent } from '../lambda/key-store-handler';
import { parseCredentialSecret, type XksCredential } from '../lambda/ports';
import { createEvent, deleteEvent, runKeyStoreEvent, updateEvent } from './support/events';
import { kmsError, StandInKms, standInDeps } from './support/stand-in-kms';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:xks-proxy/kms-credential-AbCdEf';
const CRED_1: XksCredential = { AccessKeyId: 'AAAAAAAAAAAAAAAAAAAAAAAA', RawSecretAccessKey: 'a'.repeat(43) };
const CRED_2: XksCredential = { AccessKeyId: 'BBBBBBBBBBBBBBBBBBBBBBBB', RawSecretAccessKey: 'b'.repeat(43) };
const PROPS = {
  CustomKeyStoreName: 'xks-proxy',
  XksProxyUriEndpoint: 'https://xks.example.com',
  XksProxyUriPath: '/xks/kms/xks/v1',
  XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0',
  CredentialSecretArn: SECRET_ARN,
  CredentialVersion: '1',
  ConnectTimeoutSeconds: '600',
};
const LOGICAL = 'KeyStore';

let kms: StandInKms;
let secrets: Map<string, XksCredential>;
let deps: ReturnType<typeof standInDeps>;

beforeEach(() => {
  kms = new StandInKms();
  secrets = new Map([[SECRET_ARN, CRED_1]]);
  deps = standInDeps(kms, secrets);
});

async function connectedStore(): Promise<string> {
  const r = await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps);
  kms.calls.length = 0;
  return r.PhysicalResourceId;
}

describe('external key store custom resource, stand-in KMS (KMS cannot be reached from here)', () => {
  it('create: CreateCustomKeyStore with EXTERNAL_KEY_STORE, VPC_ENDPOINT_SERVICE and the credential from the secret, then connects', async () => {
    const r = await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps);
    expect(r.PhysicalResourceId).toMatch(/^cks-[0-9a-f]{17}$/);
    expect(r.Data['CustomKeyStoreId']).toBe(r.PhysicalResourceId);
    expect(r.Data['ConnectionState']).toBe('CONNECTED');
    const store = kms.store(r.PhysicalResourceId);
    expect(store.entry.CustomKeyStoreType).toBe('EXTERNAL_KEY_STORE');
    expect(store.entry.XksProxyConfiguration).toMatchObject({
      Connectivity: 'VPC_ENDPOINT_SERVICE',
      UriEndpoint: 'https://xks.example.com',
      UriPath: '/xks/kms/xks/v1',
      VpcEndpointServiceName: PROPS.XksProxyVpcEndpointServiceName,
      AccessKeyId: CRED_1.AccessKeyId,
    });
    expect(store.credential).toEqual(CRED_1);
    expect(kms.count('CreateCustomKeyStore')).toBe(1);
    expect(kms.count('ConnectCustomKeyStore')).toBe(1);
    // The secret never reaches the log.
    expect(deps.lines.join('\n')).not.toContain(CRED_1.RawSecretAccessKey);
  });

  it('CONNECTING -> CONNECTED: the deployment waits while KMS is CONNECTING and completes once CONNECTED', async () => {
    kms.settlePolls = 4;
    const started = await onEvent(createEvent(LOGICAL, PROPS), deps);
    const pollEvent = { ...createEvent(LOGICAL, PROPS), ...started };
    const states: string[] = [];
    for (let i = 0; i < 10; i++) {
      deps.clock.ms += 20_000;
      const r = await isComplete(pollEvent, deps);
      states.push(kms.store(started.PhysicalResourceId).entry.ConnectionState!);
      if (r.IsComplete) break;
    }
    expect(states).toEqual(['CONNECTING', 'CONNECTING', 'CONNECTING', 'CONNECTING', 'CONNECTED']);
  });

  const permanent = Object.values(ConnectionErrorCodeType).filter((c) => adviceFor(c)?.transient !== true);
  it.each(permanent)('FAILED with %s fails the deployment with the code and what to do', async (code) => {
    kms.connectOutcomes.push({ failed: code });
    const failure = await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps).catch((e: Error) => e);
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toContain(`ConnectionErrorCode ${code}`);
    const advice = adviceFor(code);
    if (advice !== undefined) {
      for (const sentence of advice.quoted) expect(message).toContain(sentence);
      expect(message).toContain(`docs/troubleshooting.md#${advice.anchor}`);
      expect(message).toContain('xks-proxy doctor');
    } else {
      expect(message).toContain('CloudHSM key stores report it');
    }
    // Failed fast: no reconnect attempts for a problem that waiting does not fix.
    expect(kms.count('ConnectCustomKeyStore')).toBe(1);
  });

  const transient = Object.values(ConnectionErrorCodeType).filter((c) => adviceFor(c)?.transient === true);
  it.each(transient)('FAILED with %s (can clear by itself): disconnects, reconnects, and completes when KMS then connects', async (code) => {
    kms.connectOutcomes.push({ failed: code }, { failed: code }, 'CONNECTED');
    const r = await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps);
    expect(r.Data['ConnectionState']).toBe('CONNECTED');
    expect(kms.count('ConnectCustomKeyStore')).toBe(3);
    expect(kms.count('DisconnectCustomKeyStore')).toBe(2);
  });

  it('FAILED with XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION past the connect timeout fails with the advice and how long it retried', async () => {
    for (let i = 0; i < 100; i++) kms.connectOutcomes.push({ failed: 'XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION' });
    const failure = await runKeyStoreEvent(createEvent(LOGICAL, { ...PROPS, ConnectTimeoutSeconds: '600' }), deps).catch((e: Error) => e);
    expect(kms.count('ConnectCustomKeyStore')).toBeGreaterThan(2);
    expect((failure as Error).message).toMatch(
      /XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION: AWS-side settings of the VPC endpoint service .* Still failing after \d+ s of retries\./,
    );
  });

  it('timeout: a key store that stays CONNECTING fails the deployment after the connect timeout, with what to check', async () => {
    kms.connectOutcomes.push('never');
    const failure = await runKeyStoreEvent(createEvent(LOGICAL, { ...PROPS, ConnectTimeoutSeconds: '300' }), deps).catch((e: Error) => e);
    expect((failure as Error).message).toMatch(/still CONNECTING after 3[0-2]\d s \(limit 300 s\).*private DNS name is verified.*healthy targets/);
  });

  it("update (credential rotation): UpdateCustomKeyStore with the secret's new value while CONNECTED, no disconnect", async () => {
    const id = await connectedStore();
    secrets.set(SECRET_ARN, CRED_2);
    const r = await runKeyStoreEvent(updateEvent(LOGICAL, id, { ...PROPS, CredentialVersion: '2' }, PROPS), deps);
    expect(r.PhysicalResourceId).toBe(id);
    expect(kms.store(id).credential).toEqual(CRED_2);
    expect(kms.store(id).entry.ConnectionState).toBe('CONNECTED');
    expect(kms.count('DisconnectCustomKeyStore')).toBe(0);
    expect(kms.count('UpdateCustomKeyStore')).toBe(1);
  });

  it("update (rotation by switching to another credential secret): KMS gets the new secret's pair", async () => {
    const id = await connectedStore();
    const nextArn = `${SECRET_ARN}-2`;
    secrets.set(nextArn, CRED_2);
    await runKeyStoreEvent(updateEvent(LOGICAL, id, { ...PROPS, CredentialSecretArn: nextArn }, PROPS), deps);
    expect(kms.store(id).credential).toEqual(CRED_2);
    expect(kms.store(id).entry.XksProxyConfiguration?.AccessKeyId).toBe(CRED_2.AccessKeyId);
    expect(kms.count('DisconnectCustomKeyStore')).toBe(0);
  });

  it('update of the endpoint service: disconnect, wait for DISCONNECTED, update, reconnect, wait for CONNECTED', async () => {
    const id = await connectedStore();
    const next = {
      ...PROPS,
      XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0fedcba9876543210',
      XksProxyUriEndpoint: 'https://xks2.example.com',
    };
    await runKeyStoreEvent(updateEvent(LOGICAL, id, next, PROPS), deps);
    expect(kms.calls.filter((c) => c !== 'DescribeCustomKeyStores')).toEqual(['DisconnectCustomKeyStore', 'UpdateCustomKeyStore', 'ConnectCustomKeyStore']);
    expect(kms.store(id).entry.XksProxyConfiguration).toMatchObject({
      UriEndpoint: 'https://xks2.example.com',
      VpcEndpointServiceName: next.XksProxyVpcEndpointServiceName,
    });
    expect(kms.store(id).entry.ConnectionState).toBe('CONNECTED');
  });

  it('update of a FAILED key store (the fix for INVALID_CREDENTIALS): disconnect, update the credential, reconnect', async () => {
    const id = await connectedStore();
    kms.store(id).entry.ConnectionState = 'FAILED';
    kms.store(id).entry.ConnectionErrorCode = 'INVALID_CREDENTIALS';
    secrets.set(SECRET_ARN, CRED_2);
    await runKeyStoreEvent(updateEvent(LOGICAL, id, { ...PROPS, CredentialVersion: '2' }, PROPS), deps);
    expect(kms.calls.filter((c) => c !== 'DescribeCustomKeyStores')).toEqual(['DisconnectCustomKeyStore', 'UpdateCustomKeyStore', 'ConnectCustomKeyStore']);
    expect(kms.store(id).credential).toEqual(CRED_2);
    expect(kms.store(id).entry.ConnectionState).toBe('CONNECTED');
  });

  it("update: a rejected credential (KMS checks it with GetHealthStatus) fails the deployment with KMS's exception", async () => {
    const id = await connectedStore();
    kms.failNext('UpdateCustomKeyStore', kmsError('XksProxyIncorrectAuthenticationCredentialException'));
    await expect(runKeyStoreEvent(updateEvent(LOGICAL, id, { ...PROPS, CredentialVersion: '2' }, PROPS), deps)).rejects.toThrow(
      /XksProxyIncorrectAuthenticationCredentialException/,
    );
  });

  it('delete: disconnects, waits for DISCONNECTED, deletes', async () => {
    const id = await connectedStore();
    await runKeyStoreEvent(deleteEvent(LOGICAL, id, PROPS), deps);
    expect(kms.stores.has(id)).toBe(false);
    expect(kms.calls.filter((c) => c !== 'DescribeCustomKeyStores')).toEqual(['DisconnectCustomKeyStore', 'DeleteCustomKeyStore']);
  });

  it('delete while KMS keys remain (pending deletion counts): leaves the key store DISCONNECTED and says how to delete it later', async () => {
    const id = await connectedStore();
    kms.keys.set('k1', { meta: { KeyId: 'k1', CustomKeyStoreId: id, KeyState: 'PendingDeletion' }, policy: '' });
    await runKeyStoreEvent(deleteEvent(LOGICAL, id, PROPS), deps);
    expect(kms.store(id).entry.ConnectionState).toBe('DISCONNECTED');
    expect(deps.lines.join('\n')).toContain(`aws kms delete-custom-key-store --custom-key-store-id ${id}`);
  });

  it('retried Create after it succeeded: adopts the same key store, creates no second one', async () => {
    const first = await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps);
    const again = await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps);
    expect(again.PhysicalResourceId).toBe(first.PhysicalResourceId);
    expect(kms.stores.size).toBe(1);
    expect(kms.count('CreateCustomKeyStore')).toBe(1);
  });

  it('retried Create after the first attempt died between create and connect: adopts it and connects', async () => {
    kms.failNext('ConnectCustomKeyStore', kmsError('TimeoutError', 'socket hang up'));
    await expect(onEvent(createEvent(LOGICAL, PROPS), deps)).rejects.toThrow('socket hang up');
    expect(kms.stores.size).toBe(1);
    const r = await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps);
    expect(kms.stores.size).toBe(1);
    expect(r.Data['ConnectionState']).toBe('CONNECTED');
  });

  it('retried Create that races the first (CustomKeyStoreNameInUseException): adopts the store the first one made', async () => {
    const first = await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps);
    // The name lookup misses (the first request's store was not visible yet), the create collides.
    kms.failNext('DescribeCustomKeyStores', kmsError('CustomKeyStoreNotFoundException'));
    const again = await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps);
    expect(again.PhysicalResourceId).toBe(first.PhysicalResourceId);
    expect(kms.stores.size).toBe(1);
  });

  it('create refuses to adopt a key store of the same name with other settings', async () => {
    await runKeyStoreEvent(createEvent(LOGICAL, PROPS), deps);
    await expect(onEvent(createEvent('Other', { ...PROPS, XksProxyUriPath: '/other/kms/xks/v1' }), deps)).rejects.toThrow(
      /already exists .* with other settings/,
    );
  });

  it('retried Delete after the key store is gone, and Delete of a Create that never made one: complete without touching KMS', async () => {
    const id = await connectedStore();
    await runKeyStoreEvent(deleteEvent(LOGICAL, id, PROPS), deps);
    kms.calls.length = 0;
    await runKeyStoreEvent(deleteEvent(LOGICAL, id, PROPS), deps);
    expect(kms.calls.filter((c) => c !== 'DescribeCustomKeyStores')).toEqual([]);
    kms.calls.length = 0;
    await runKeyStoreEvent(deleteEvent(LOGICAL, 'XksProxy-KeyStore-1A2B3C', PROPS), deps);
    expect(kms.calls).toEqual([]);
  });

  it('retried isComplete polls after CONNECTED stay complete (no second connect)', async () => {
    const started = await onEvent(createEvent(LOGICAL, PROPS), deps);
    const pollEvent = { ...createEvent(LOGICAL, PROPS), ...started };
    let done = false;
    while (!done) {
      deps.clock.ms += 20_000;
      done = (await isComplete(pollEvent, deps)).IsComplete;
    }
    expect((await isComplete(pollEvent, deps)).IsComplete).toBe(true);
    expect(kms.count('ConnectCustomKeyStore')).toBe(1);
  });
});

describe('credential secret parsing', () => {
  it('reads accessKeyId and secretAccessKey, and names the bad field without its value', () => {
    expect(parseCredentialSecret(JSON.stringify({ accessKeyId: CRED_1.AccessKeyId, secretAccessKey: CRED_1.RawSecretAccessKey }), SECRET_ARN)).toEqual(CRED_1);
    const bad = 'not-base64-!!'.repeat(4);
    const e = (() => {
      try {
        parseCredentialSecret(JSON.stringify({ accessKeyId: CRED_1.AccessKeyId, secretAccessKey: bad }), SECRET_ARN);
      } catch (x) {
        return x as Error;
      }
      return undefined;
    })();
    expect(e?.message).toContain('field secretAccessKey');
    expect(e?.message).not.toContain(bad);
    expect(() => parseCredentialSecret('{', SECRET_ARN)).toThrow(/is not JSON/);
  });
});

describe('connection advice', () => {
  // Markdown wraps lines anywhere: compare with whitespace collapsed.
  const troubleshooting = readFileSync(path.resolve(__dirname, '..', '..', '..', 'docs', 'troubleshooting.md'), 'utf8').replace(/\s+/g, ' ');
  const headings = readFileSync(path.resolve(__dirname, '..', '..', '..', 'docs', 'troubleshooting.md'), 'utf8');
  // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
  const anchors = new Set(
    [...headings.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    ),
  );

  it.each(adviceCodes())('%s: the message quotes docs/troubleshooting.md word for word and links a heading that exists', (code) => {
    const advice = adviceFor(code)!;
    for (const sentence of advice.quoted) expect(troubleshooting).toContain(sentence);
    expect(anchors.has(advice.anchor)).toBe(true);
  });

  it('covers every XKS connection error code KMS defines', () => {
    const xksCodes = Object.values(ConnectionErrorCodeType).filter(
      (c) => c.startsWith('XKS_') || ['INVALID_CREDENTIALS', 'NETWORK_ERRORS', 'INTERNAL_ERROR'].includes(c),
    );
    for (const code of xksCodes) expect(adviceFor(code), code).toBeDefined();
  });
});

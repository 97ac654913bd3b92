/**
 * Custom resource for an AWS KMS external key store (CloudFormation has no resource type for
 * one). Runs under the CDK Provider framework: onEvent starts the work, isComplete is polled
 * until the key store is CONNECTED (or gone, for Delete) and fails the deployment with the
 * ConnectionErrorCode and what to do about it.
 *
 * Every step reads the key store's current state first and only then acts, so a retried
 * event (CloudFormation or Lambda retries, a Lambda that timed out half way) converges to
 * the same end state instead of failing or creating a second key store.
 */
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DisconnectCustomKeyStoreCommand,
  UpdateCustomKeyStoreCommand,
  type CreateCustomKeyStoreCommandOutput,
  type CustomKeyStoresListEntry,
  type DescribeCustomKeyStoresCommandOutput,
  type UpdateCustomKeyStoreCommandInput,
} from '@aws-sdk/client-kms';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describeConnectionError, isTransient } from './connection-advice';
import { errorName, type HandlerDeps } from './ports';

/** The resource's properties (CloudFormation passes every scalar as a string). */
export interface KeyStoreProps {
  name: string;
  uriEndpoint: string;
  uriPath: string;
  vpcEndpointServiceName: string;
  credentialSecretArn: string;
  /** Changing it (e.g. to the new access key id) makes CloudFormation send an Update: the rotation. */
  credentialVersion: string;
  connectTimeoutSeconds: number;
}

export interface OnEventResult {
  PhysicalResourceId: string;
  Data: Record<string, string>;
}

export interface IsCompleteResult {
  IsComplete: boolean;
  Data?: Record<string, string>;
}

/** The onEvent result the Provider framework merges into every isComplete event. */
type PollEvent = CloudFormationCustomResourceEvent & { PhysicalResourceId?: string; Data?: Record<string, string> };

const KEY_STORE_ID = /^cks-[0-9a-z]{17}$/;

export function readKeyStoreProps(raw: Record<string, unknown>): KeyStoreProps {
  const get = (field: string): string => {
    const value = raw[field];
    if (typeof value !== 'string' || value === '') throw new Error(`property ${field} is required`);
    return value;
  };
  const timeout = Number(raw['ConnectTimeoutSeconds'] ?? '1200');
  if (!Number.isFinite(timeout) || timeout <= 0) throw new Error('property ConnectTimeoutSeconds must be a positive number');
  return {
    name: get('CustomKeyStoreName'),
    uriEndpoint: get('XksProxyUriEndpoint'),
    uriPath: get('XksProxyUriPath'),
    vpcEndpointServiceName: get('XksProxyVpcEndpointServiceName'),
    credentialSecretArn: get('CredentialSecretArn'),
    credentialVersion: typeof raw['CredentialVersion'] === 'string' ? raw['CredentialVersion'] : '',
    connectTimeoutSeconds: timeout,
  };
}

async function describe(deps: HandlerDeps, query: { id?: string; name?: string }): Promise<CustomKeyStoresListEntry | undefined> {
  try {
    const out = (await deps.kms.send(
      new DescribeCustomKeyStoresCommand(query.id !== undefined ? { CustomKeyStoreId: query.id } : { CustomKeyStoreName: query.name }),
    )) as DescribeCustomKeyStoresCommandOutput;
    return out.CustomKeyStores?.[0];
  } catch (e) {
    if (errorName(e) === 'CustomKeyStoreNotFoundException') return undefined;
    throw e;
  }
}

/** Settings that can only change while the key store is DISCONNECTED (UpdateCustomKeyStore). */
function connectionDiffers(store: CustomKeyStoresListEntry, props: KeyStoreProps): boolean {
  const xks = store.XksProxyConfiguration;
  return xks?.Connectivity !== 'VPC_ENDPOINT_SERVICE' || xks.UriEndpoint !== props.uriEndpoint || xks.VpcEndpointServiceName !== props.vpcEndpointServiceName;
}

/** Settings UpdateCustomKeyStore accepts in any connection state. */
function detailsDiffer(store: CustomKeyStoresListEntry, props: KeyStoreProps): boolean {
  return store.CustomKeyStoreName !== props.name || store.XksProxyConfiguration?.UriPath !== props.uriPath;
}

async function connect(deps: HandlerDeps, id: string): Promise<void> {
  try {
    await deps.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    deps.log(`ConnectCustomKeyStore ${id}: started`);
  } catch (e) {
    // Another attempt (a retried event) got there first: the next poll sees its state.
    if (errorName(e) !== 'CustomKeyStoreInvalidStateException') throw e;
    deps.log(`ConnectCustomKeyStore ${id}: not DISCONNECTED any more, polling its state`);
  }
}

async function disconnect(deps: HandlerDeps, id: string): Promise<void> {
  try {
    await deps.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    deps.log(`DisconnectCustomKeyStore ${id}: started`);
  } catch (e) {
    if (errorName(e) !== 'CustomKeyStoreInvalidStateException') throw e;
    deps.log(`DisconnectCustomKeyStore ${id}: already disconnecting or disconnected`);
  }
}

/** Sends every setting that differs, and the credential (KMS cannot show it to compare). */
async function update(deps: HandlerDeps, store: CustomKeyStoresListEntry, props: KeyStoreProps): Promise<void> {
  const id = store.CustomKeyStoreId!;
  const input: UpdateCustomKeyStoreCommandInput = {
    CustomKeyStoreId: id,
    XksProxyAuthenticationCredential: await deps.readCredential(props.credentialSecretArn),
  };
  const changed = ['XksProxyAuthenticationCredential'];
  if (store.CustomKeyStoreName !== props.name) {
    input.NewCustomKeyStoreName = props.name;
    changed.push('NewCustomKeyStoreName');
  }
  const xks = store.XksProxyConfiguration;
  if (xks?.UriPath !== props.uriPath) {
    input.XksProxyUriPath = props.uriPath;
    changed.push('XksProxyUriPath');
  }
  if (connectionDiffers(store, props)) {
    input.XksProxyConnectivity = 'VPC_ENDPOINT_SERVICE';
    input.XksProxyUriEndpoint = props.uriEndpoint;
    input.XksProxyVpcEndpointServiceName = props.vpcEndpointServiceName;
    changed.push('XksProxyConnectivity', 'XksProxyUriEndpoint', 'XksProxyVpcEndpointServiceName');
  }
  await deps.kms.send(new UpdateCustomKeyStoreCommand(input));
  deps.log(`UpdateCustomKeyStore ${id}: ${changed.join(', ')}`);
}

function result(id: string, deps: HandlerDeps): OnEventResult {
  return { PhysicalResourceId: id, Data: { CustomKeyStoreId: id, WaitStartedAt: String(deps.now()) } };
}

async function onCreate(props: KeyStoreProps, deps: HandlerDeps): Promise<OnEventResult> {
  let store = await describe(deps, { name: props.name });
  if (store === undefined) {
    try {
      const out = (await deps.kms.send(
        new CreateCustomKeyStoreCommand({
          CustomKeyStoreName: props.name,
          CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
          XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
          XksProxyUriEndpoint: props.uriEndpoint,
          XksProxyUriPath: props.uriPath,
          XksProxyVpcEndpointServiceName: props.vpcEndpointServiceName,
          XksProxyAuthenticationCredential: await deps.readCredential(props.credentialSecretArn),
        }),
      )) as CreateCustomKeyStoreCommandOutput;
      deps.log(`CreateCustomKeyStore ${props.name}: ${out.CustomKeyStoreId}`);
      store = await describe(deps, { id: out.CustomKeyStoreId! });
      if (store === undefined) throw new Error(`CreateCustomKeyStore returned ${out.CustomKeyStoreId}, which DescribeCustomKeyStores does not know`);
    } catch (e) {
      // A retried Create raced the first one: fall through to adopting what it made.
      if (errorName(e) !== 'CustomKeyStoreNameInUseException') throw e;
      store = await describe(deps, { name: props.name });
      if (store === undefined) throw e;
    }
  } else {
    deps.log(`custom key store ${props.name} exists (${store.CustomKeyStoreId}): a retried Create, adopting it`);
  }
  const id = store.CustomKeyStoreId!;
  if (store.CustomKeyStoreType !== 'EXTERNAL_KEY_STORE' || connectionDiffers(store, props) || store.XksProxyConfiguration?.UriPath !== props.uriPath) {
    throw new Error(`a custom key store named "${props.name}" already exists (${id}) with other settings; give this one another name, or delete that one`);
  }
  if (store.ConnectionState === 'DISCONNECTED') await connect(deps, id);
  return result(id, deps);
}

async function onUpdate(id: string, props: KeyStoreProps, deps: HandlerDeps): Promise<OnEventResult> {
  const store = await describe(deps, { id });
  if (store === undefined)
    throw new Error(`external key store ${id} no longer exists; remove the resource from the stack and add it again to create a new one`);
  if (connectionDiffers(store, props) || store.ConnectionState === 'FAILED') {
    // The endpoint and the endpoint service can change only while DISCONNECTED, and a FAILED
    // key store must be disconnected before it can connect again. isComplete updates and
    // reconnects once DISCONNECTED.
    if (store.ConnectionState !== 'DISCONNECTED') await disconnect(deps, id);
  } else {
    // Name, path and credential change in any state: no outage for a credential rotation.
    await update(deps, store, props);
    if (store.ConnectionState === 'DISCONNECTED') await connect(deps, id);
  }
  return result(id, deps);
}

async function onDelete(id: string, deps: HandlerDeps): Promise<OnEventResult> {
  // A failed Create leaves CloudFormation's own id here: nothing of ours to delete.
  if (!KEY_STORE_ID.test(id)) return { PhysicalResourceId: id, Data: { WaitStartedAt: String(deps.now()) } };
  const store = await describe(deps, { id });
  if (store !== undefined && store.ConnectionState !== 'DISCONNECTED' && store.ConnectionState !== 'DISCONNECTING') await disconnect(deps, id);
  return result(id, deps);
}

export async function onEvent(event: CloudFormationCustomResourceEvent, deps: HandlerDeps): Promise<OnEventResult> {
  deps.log(`${event.RequestType} ${event.LogicalResourceId} (request ${event.RequestId})`);
  switch (event.RequestType) {
    case 'Create':
      return onCreate(readKeyStoreProps(event.ResourceProperties), deps);
    case 'Update':
      return onUpdate(event.PhysicalResourceId, readKeyStoreProps(event.ResourceProperties), deps);
    case 'Delete':
      return onDelete(event.PhysicalResourceId, deps);
  }
}

function elapsedSeconds(event: PollEvent, deps: HandlerDeps): number {
  const started = Number(event.Data?.['WaitStartedAt']);
  return Number.isFinite(started) ? Math.max(0, Math.round((deps.now() - started) / 1000)) : 0;
}

async function deleteWhenDisconnected(id: string, event: PollEvent, deps: HandlerDeps, timeoutSeconds: number): Promise<IsCompleteResult> {
  if (!KEY_STORE_ID.test(id)) return { IsComplete: true };
  const store = await describe(deps, { id });
  if (store === undefined) return { IsComplete: true };
  if (store.ConnectionState !== 'DISCONNECTED') {
    const waited = elapsedSeconds(event, deps);
    if (waited > timeoutSeconds)
      throw new Error(
        `external key store ${id} still ${store.ConnectionState} after ${waited} s (limit ${timeoutSeconds} s); disconnect it in the KMS console and delete the stack again`,
      );
    if (store.ConnectionState !== 'DISCONNECTING') await disconnect(deps, id);
    return { IsComplete: false };
  }
  try {
    await deps.kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    deps.log(`DeleteCustomKeyStore ${id}: deleted`);
  } catch (e) {
    const name = errorName(e);
    if (name === 'CustomKeyStoreNotFoundException') return { IsComplete: true };
    if (name !== 'CustomKeyStoreHasCMKsException') throw e;
    // Keys scheduled for deletion still belong to the key store until their waiting period
    // ends. Failing here would block every stack deletion for 7-30 days: leave the key store
    // DISCONNECTED (no requests reach the proxy, it costs nothing) and say so.
    deps.log(
      `DeleteCustomKeyStore ${id}: it still has KMS keys (pending deletion counts); left DISCONNECTED. Delete it with "aws kms delete-custom-key-store --custom-key-store-id ${id}" once those keys are deleted.`,
    );
  }
  return { IsComplete: true };
}

export async function isComplete(event: PollEvent, deps: HandlerDeps): Promise<IsCompleteResult> {
  const id = event.PhysicalResourceId ?? '';
  if (event.RequestType === 'Delete') {
    const raw = event.ResourceProperties as Record<string, unknown>;
    const timeout = Number(raw['ConnectTimeoutSeconds'] ?? '1200');
    return deleteWhenDisconnected(id, event, deps, Number.isFinite(timeout) ? timeout : 1200);
  }
  const props = readKeyStoreProps(event.ResourceProperties);
  const store = await describe(deps, { id });
  if (store === undefined) throw new Error(`external key store ${id} disappeared while waiting for it to connect`);
  const waited = elapsedSeconds(event, deps);
  const overdue = waited > props.connectTimeoutSeconds;
  const state = store.ConnectionState;
  deps.log(`external key store ${id}: ${state}${store.ConnectionErrorCode ? ` (${store.ConnectionErrorCode})` : ''} after ${waited} s`);
  switch (state) {
    case 'CONNECTED':
      if (!connectionDiffers(store, props) && !detailsDiffer(store, props)) {
        return { IsComplete: true, Data: { CustomKeyStoreId: id, ConnectionState: 'CONNECTED' } };
      }
      // Settings changed under us (a concurrent edit): converge through a disconnect.
      await disconnect(deps, id);
      return { IsComplete: false };
    case 'DISCONNECTED':
      if (overdue)
        throw new Error(
          `external key store ${id} is still DISCONNECTED after ${waited} s (limit ${props.connectTimeoutSeconds} s): ConnectCustomKeyStore did not start; see DescribeCustomKeyStores`,
        );
      if (event.RequestType === 'Update' || connectionDiffers(store, props) || detailsDiffer(store, props)) await update(deps, store, props);
      await connect(deps, id);
      return { IsComplete: false };
    case 'FAILED': {
      const code = store.ConnectionErrorCode;
      // Retry only while a third of the time is left, so the last attempt's FAILED (with its
      // code) is what the deployment reports, not an anonymous timeout mid-retry.
      const retryUntil = (props.connectTimeoutSeconds * 2) / 3;
      if (isTransient(code) && waited < retryUntil) {
        // Typically the private DNS name of the endpoint service is still being verified:
        // disconnect now, reconnect on the next poll.
        deps.log(`external key store ${id}: ${code} may clear by itself; disconnecting to retry (${waited} of ${props.connectTimeoutSeconds} s)`);
        await disconnect(deps, id);
        return { IsComplete: false };
      }
      const after = isTransient(code) ? ` Still failing after ${waited} s of retries.` : '';
      throw new Error(describeConnectionError(id, code) + after);
    }
    default:
      // CONNECTING (KMS creates its interface endpoint, then calls GetHealthStatus) or DISCONNECTING.
      if (overdue) {
        throw new Error(
          `external key store ${id} still ${state} after ${waited} s (limit ${props.connectTimeoutSeconds} s). KMS has not reached the proxy through the endpoint service yet: check that the endpoint service's private DNS name is verified and that the NLB has healthy targets, then deploy again.`,
        );
      }
      return { IsComplete: false };
  }
}

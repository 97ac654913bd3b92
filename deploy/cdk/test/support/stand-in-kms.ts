/**
 * A stand-in for the AWS KMS API (KMS cannot be reached from here): the custom key store and
 * key operations the handlers use, with the state rules the KMS API reference states —
 * connect only from DISCONNECTED, endpoint settings and deletion only while DISCONNECTED,
 * unique names, no key store deletion while it has keys (pending deletion counts), no
 * CreateKey unless CONNECTED. It is a fake, named as one: it answers with KMS's exception
 * names, it does not talk to an XKS proxy.
 */
import {
  ConnectCustomKeyStoreCommand,
  CreateAliasCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisconnectCustomKeyStoreCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
  UpdateCustomKeyStoreCommand,
  UpdateKeyDescriptionCommand,
  type CustomKeyStoresListEntry,
  type KeyMetadata,
  type XksProxyAuthenticationCredentialType,
} from '@aws-sdk/client-kms';
import type { CommandSender, HandlerDeps, XksCredential } from '../../lambda/ports';

export function kmsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name });
}

interface Store {
  entry: CustomKeyStoresListEntry;
  credential: XksProxyAuthenticationCredentialType;
  /** Polls (DescribeCustomKeyStores) left before a CONNECTING/DISCONNECTING store settles. */
  pollsLeft: number;
  /** Where CONNECTING ends: CONNECTED, or FAILED with this code; 'never' stays CONNECTING. */
  outcome: 'CONNECTED' | 'never' | { failed: string };
}

interface Key {
  meta: KeyMetadata;
  policy: string;
}

let counter = 0;
const hexId = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');

export class StandInKms implements CommandSender {
  readonly stores = new Map<string, Store>();
  readonly keys = new Map<string, Key>();
  readonly aliases = new Map<string, string>();
  /** Every call, as "CommandName" (for asserting what the handler did, in order). */
  readonly calls: string[] = [];
  /** Outcomes for the next connections, in order; default CONNECTED. */
  readonly connectOutcomes: Store['outcome'][] = [];
  /** Polls a CONNECTING or DISCONNECTING store stays there. */
  settlePolls = 2;
  private readonly faults = new Map<string, Error[]>();

  /** The next call of this command throws this error (before doing anything). */
  failNext(command: string, error: Error): void {
    const list = this.faults.get(command) ?? [];
    list.push(error);
    this.faults.set(command, list);
  }

  store(id: string): Store {
    const s = this.stores.get(id);
    if (s === undefined) throw new Error(`stand-in: no store ${id}`);
    return s;
  }

  count(command: string): number {
    return this.calls.filter((c) => c === command).length;
  }

  async send(command: object): Promise<unknown> {
    const name = command.constructor.name.replace(/Command$/, '');
    this.calls.push(name);
    const fault = this.faults.get(name)?.shift();
    if (fault !== undefined) throw fault;
    const input = (command as { input: Record<string, unknown> }).input;
    if (command instanceof DescribeCustomKeyStoresCommand) return this.describeStores(input);
    if (command instanceof CreateCustomKeyStoreCommand) return this.createStore(command.input);
    if (command instanceof ConnectCustomKeyStoreCommand) return this.connect(command.input.CustomKeyStoreId!);
    if (command instanceof DisconnectCustomKeyStoreCommand) return this.disconnect(command.input.CustomKeyStoreId!);
    if (command instanceof UpdateCustomKeyStoreCommand) return this.updateStore(command.input);
    if (command instanceof DeleteCustomKeyStoreCommand) return this.deleteStore(command.input.CustomKeyStoreId!);
    if (command instanceof CreateKeyCommand) return this.createKey(command.input);
    if (command instanceof DescribeKeyCommand) return { KeyMetadata: this.key(command.input.KeyId!).meta };
    if (command instanceof CreateAliasCommand) return this.createAlias(command.input.AliasName!, command.input.TargetKeyId!);
    if (command instanceof UpdateAliasCommand) return this.updateAlias(command.input.AliasName!, command.input.TargetKeyId!);
    if (command instanceof DeleteAliasCommand) return this.deleteAlias(command.input.AliasName!);
    if (command instanceof PutKeyPolicyCommand) {
      this.key(command.input.KeyId!).policy = command.input.Policy!;
      return {};
    }
    if (command instanceof UpdateKeyDescriptionCommand) {
      this.key(command.input.KeyId!).meta.Description = command.input.Description!;
      return {};
    }
    if (command instanceof ScheduleKeyDeletionCommand) return this.scheduleDeletion(command.input.KeyId!, command.input.PendingWindowInDays ?? 30);
    throw new Error(`stand-in KMS: ${name} is not implemented`);
  }

  private describeStores(input: Record<string, unknown>): unknown {
    const id = input['CustomKeyStoreId'] as string | undefined;
    const name = input['CustomKeyStoreName'] as string | undefined;
    const found = id !== undefined ? this.stores.get(id) : [...this.stores.values()].find((s) => s.entry.CustomKeyStoreName === name);
    if (found === undefined) throw kmsError('CustomKeyStoreNotFoundException');
    this.advance(found);
    return { CustomKeyStores: [structuredClone(found.entry)] };
  }

  /** Each describe is one poll: CONNECTING and DISCONNECTING settle after settlePolls. */
  private advance(s: Store): void {
    const state = s.entry.ConnectionState;
    if (state !== 'CONNECTING' && state !== 'DISCONNECTING') return;
    if (s.pollsLeft > 0) {
      s.pollsLeft--;
      return;
    }
    if (state === 'DISCONNECTING') {
      s.entry.ConnectionState = 'DISCONNECTED';
      return;
    }
    if (s.outcome === 'never') return;
    if (s.outcome === 'CONNECTED') {
      s.entry.ConnectionState = 'CONNECTED';
      return;
    }
    s.entry.ConnectionState = 'FAILED';
    s.entry.ConnectionErrorCode = s.outcome.failed as CustomKeyStoresListEntry['ConnectionErrorCode'];
  }

  private createStore(input: CreateCustomKeyStoreCommand['input']): unknown {
    const all = [...this.stores.values()];
    if (all.some((s) => s.entry.CustomKeyStoreName === input.CustomKeyStoreName)) throw kmsError('CustomKeyStoreNameInUseException');
    if (
      all.some(
        (s) => s.entry.XksProxyConfiguration?.UriEndpoint === input.XksProxyUriEndpoint && s.entry.XksProxyConfiguration?.UriPath === input.XksProxyUriPath,
      )
    )
      throw kmsError('XksProxyUriInUseException');
    if (input.CustomKeyStoreType !== 'EXTERNAL_KEY_STORE' || input.XksProxyAuthenticationCredential === undefined) throw kmsError('ValidationException');
    const id = `cks-${hexId(17)}`;
    this.stores.set(id, {
      entry: {
        CustomKeyStoreId: id,
        CustomKeyStoreName: input.CustomKeyStoreName,
        CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
        ConnectionState: 'DISCONNECTED',
        CreationDate: new Date(0),
        XksProxyConfiguration: {
          Connectivity: input.XksProxyConnectivity,
          AccessKeyId: input.XksProxyAuthenticationCredential.AccessKeyId,
          UriEndpoint: input.XksProxyUriEndpoint,
          UriPath: input.XksProxyUriPath,
          VpcEndpointServiceName: input.XksProxyVpcEndpointServiceName,
        },
      },
      credential: input.XksProxyAuthenticationCredential,
      pollsLeft: 0,
      outcome: 'CONNECTED',
    });
    return { CustomKeyStoreId: id };
  }

  private connect(id: string): unknown {
    const s = this.stores.get(id);
    if (s === undefined) throw kmsError('CustomKeyStoreNotFoundException');
    if (s.entry.ConnectionState !== 'DISCONNECTED') throw kmsError('CustomKeyStoreInvalidStateException', `connection state is ${s.entry.ConnectionState}`);
    s.entry.ConnectionState = 'CONNECTING';
    delete s.entry.ConnectionErrorCode;
    s.pollsLeft = this.settlePolls;
    s.outcome = this.connectOutcomes.shift() ?? 'CONNECTED';
    return {};
  }

  private disconnect(id: string): unknown {
    const s = this.stores.get(id);
    if (s === undefined) throw kmsError('CustomKeyStoreNotFoundException');
    if (s.entry.ConnectionState === 'DISCONNECTED' || s.entry.ConnectionState === 'DISCONNECTING') throw kmsError('CustomKeyStoreInvalidStateException');
    s.entry.ConnectionState = 'DISCONNECTING';
    delete s.entry.ConnectionErrorCode;
    s.pollsLeft = this.settlePolls;
    return {};
  }

  private updateStore(input: UpdateCustomKeyStoreCommand['input']): unknown {
    const s = this.stores.get(input.CustomKeyStoreId!);
    if (s === undefined) throw kmsError('CustomKeyStoreNotFoundException');
    const needsDisconnected =
      input.XksProxyUriEndpoint !== undefined || input.XksProxyVpcEndpointServiceName !== undefined || input.XksProxyConnectivity !== undefined;
    if (needsDisconnected && s.entry.ConnectionState !== 'DISCONNECTED') throw kmsError('CustomKeyStoreInvalidStateException', 'disconnect first');
    const xks = s.entry.XksProxyConfiguration!;
    if (input.NewCustomKeyStoreName !== undefined) s.entry.CustomKeyStoreName = input.NewCustomKeyStoreName;
    if (input.XksProxyUriPath !== undefined) xks.UriPath = input.XksProxyUriPath;
    if (input.XksProxyUriEndpoint !== undefined) xks.UriEndpoint = input.XksProxyUriEndpoint;
    if (input.XksProxyVpcEndpointServiceName !== undefined) xks.VpcEndpointServiceName = input.XksProxyVpcEndpointServiceName;
    if (input.XksProxyConnectivity !== undefined) xks.Connectivity = input.XksProxyConnectivity;
    if (input.XksProxyAuthenticationCredential !== undefined) {
      s.credential = input.XksProxyAuthenticationCredential;
      xks.AccessKeyId = input.XksProxyAuthenticationCredential.AccessKeyId;
    }
    return {};
  }

  private deleteStore(id: string): unknown {
    const s = this.stores.get(id);
    if (s === undefined) throw kmsError('CustomKeyStoreNotFoundException');
    if (s.entry.ConnectionState !== 'DISCONNECTED') throw kmsError('CustomKeyStoreInvalidStateException');
    if ([...this.keys.values()].some((k) => k.meta.CustomKeyStoreId === id)) throw kmsError('CustomKeyStoreHasCMKsException');
    this.stores.delete(id);
    return {};
  }

  private key(keyIdOrAlias: string): Key {
    const id = keyIdOrAlias.startsWith('alias/') ? this.aliases.get(keyIdOrAlias) : keyIdOrAlias.replace(/^arn:.*:key\//, '');
    const k = id === undefined ? undefined : this.keys.get(id);
    if (k === undefined) throw kmsError('NotFoundException');
    return k;
  }

  private createKey(input: CreateKeyCommand['input']): unknown {
    const s = this.stores.get(input.CustomKeyStoreId ?? '');
    if (s === undefined) throw kmsError('CustomKeyStoreNotFoundException');
    if (s.entry.ConnectionState !== 'CONNECTED') throw kmsError('CustomKeyStoreInvalidStateException');
    if (input.Origin !== 'EXTERNAL_KEY_STORE' || input.XksKeyId === undefined) throw kmsError('ValidationException');
    const keyId = `0000${++counter}-0000-4000-8000-${hexId(12)}`;
    const meta: KeyMetadata = {
      KeyId: keyId,
      Arn: `arn:aws:kms:us-east-1:123456789012:key/${keyId}`,
      Origin: 'EXTERNAL_KEY_STORE',
      CustomKeyStoreId: input.CustomKeyStoreId,
      XksKeyConfiguration: { Id: input.XksKeyId },
      KeyState: 'Enabled',
      Description: input.Description ?? '',
    };
    this.keys.set(keyId, { meta, policy: input.Policy ?? '' });
    return { KeyMetadata: structuredClone(meta) };
  }

  private createAlias(alias: string, target: string): unknown {
    if (this.aliases.has(alias)) throw kmsError('AlreadyExistsException');
    this.key(target);
    this.aliases.set(alias, target);
    return {};
  }

  private updateAlias(alias: string, target: string): unknown {
    if (!this.aliases.has(alias)) throw kmsError('NotFoundException');
    this.key(target);
    this.aliases.set(alias, target);
    return {};
  }

  private deleteAlias(alias: string): unknown {
    if (!this.aliases.delete(alias)) throw kmsError('NotFoundException');
    return {};
  }

  private scheduleDeletion(keyId: string, days: number): unknown {
    const k = this.key(keyId);
    if (k.meta.KeyState === 'PendingDeletion') throw kmsError('KMSInvalidStateException');
    k.meta.KeyState = 'PendingDeletion';
    k.meta.PendingDeletionWindowInDays = days;
    return {};
  }
}

/** Handler dependencies around a stand-in KMS, a fixed credential secret and a manual clock. */
export function standInDeps(kms: StandInKms, credentials: Map<string, XksCredential> = new Map()): HandlerDeps & { clock: { ms: number }; lines: string[] } {
  const clock = { ms: Date.UTC(2026, 0, 1) };
  const lines: string[] = [];
  return {
    kms,
    clock,
    lines,
    async readCredential(arn) {
      const c = credentials.get(arn);
      if (c === undefined) throw kmsError('ResourceNotFoundException', `no secret ${arn}`);
      return c;
    },
    now: () => clock.ms,
    log: (line) => lines.push(line),
  };
}

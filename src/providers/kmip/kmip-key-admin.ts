/**
 * Key administration over KMIP for the `kmip keys` CLI, the demo setup and the tests:
 * create (and activate) AES-256 keys, list them, and move them through their life cycle.
 * The proxy itself never calls these.
 */
import type { CallContext, KeyUsage } from '../../xks/key-provider-port.ts';
import type { KmipServer } from './kmip-cluster.ts';
import { AttributeName } from './kmip-constants.ts';
import { maskFromUsages, stateName, usagesFromMask } from './kmip-key-info.ts';
import {
  activateRequest,
  createAesKeyRequest,
  destroyRequest,
  getAttributesRequest,
  locateRequest,
  parseGetAttributes,
  parseLocate,
  parseUniqueIdentifier,
  revokeRequest,
} from './kmip-operations.ts';

/** One key as `kmip keys list` shows it. */
export interface KmipKeySummary {
  uid: string;
  names: string[];
  algorithm: number | undefined;
  length: number | undefined;
  usages: KeyUsage[];
  state: string;
}

/** Unique ids of the symmetric keys named `name` (all symmetric keys when `name` is undefined). */
export async function locateKeys(server: KmipServer, limit: CallContext, name?: string): Promise<string[]> {
  return parseLocate(await server.call(locateRequest(name), limit));
}

/**
 * Creates an AES-256 key with a Name and a usage mask and, unless `activate` is false,
 * activates it (new KMIP keys are Pre-Active). Refuses a name that is already taken: the
 * provider needs names to be unique. Returns the new unique id.
 */
export async function createKmipKey(
  server: KmipServer,
  limit: CallContext,
  name: string,
  usages: readonly KeyUsage[],
  options: { activate?: boolean } = {},
): Promise<string> {
  const existing = await locateKeys(server, limit, name);
  if (existing.length > 0) throw new Error(`a key named "${name}" already exists (unique id ${existing.join(', ')})`);
  // Create is not repeated on a dead pooled connection: a second Create would make a duplicate.
  const uid = parseUniqueIdentifier(await server.call(createAesKeyRequest(name, maskFromUsages(usages)), limit, false));
  if (options.activate ?? true) await server.call(activateRequest(uid), limit, false);
  return uid;
}

/** Every symmetric key with its names, algorithm, length, usages and state. */
export async function listKmipKeys(server: KmipServer, limit: CallContext): Promise<KmipKeySummary[]> {
  const out: KmipKeySummary[] = [];
  for (const uid of await locateKeys(server, limit)) {
    const names = [
      AttributeName.Name,
      AttributeName.CryptographicAlgorithm,
      AttributeName.CryptographicLength,
      AttributeName.CryptographicUsageMask,
      AttributeName.State,
    ];
    const attributes = parseGetAttributes(await server.call(getAttributesRequest(uid, names), limit));
    out.push({
      uid,
      names: attributes.names,
      algorithm: attributes.algorithm,
      length: attributes.length,
      usages: usagesFromMask(attributes.usageMask),
      state: stateName(attributes.state),
    });
  }
  return out;
}

/** Revokes a key: Active -> Deactivated, or -> Compromised when `compromised`. */
export async function revokeKmipKey(server: KmipServer, limit: CallContext, uid: string, compromised = false): Promise<void> {
  await server.call(revokeRequest(uid, compromised), limit, false);
}

/** Destroys a key (it must not be Active). */
export async function destroyKmipKey(server: KmipServer, limit: CallContext, uid: string): Promise<void> {
  await server.call(destroyRequest(uid), limit, false);
}

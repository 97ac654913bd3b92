import { callContextWithin } from '../xks/call-context.ts';
import type { KeyUsage } from '../xks/key-provider-port.ts';
import type { Tenant } from '../xks/tenants.ts';
import { isXksError } from '../xks/errors.ts';
import type { KeyMetadataResponse } from '../xks/key-store.ts';
import { errorText, fail, ok, skip, warn, type CheckResult } from './check-result.ts';
import type { KeyInventory } from './key-inventory.ts';

/** KMS operations that send each XKS call to the proxy (what breaks when a usage is missing). */
const KMS_OPERATIONS_NEEDING: Record<KeyUsage, string> = {
  ENCRYPT: 'Encrypt, GenerateDataKey, GenerateDataKeyPair (and their WithoutPlaintext forms) and ReEncrypt into this key',
  DECRYPT: 'Decrypt and ReEncrypt from this key',
};

/** Requestmetadata the doctor sends: marked so its calls are recognisable in the log. */
const DOCTOR_METADATA = { kmsRequestId: 'xks-proxy-doctor', kmsOperation: 'DescribeKey' };

/**
 * Deep health of every key manager behind a key store: the provider's canary round trip
 * with its health-only key (spec GetHealthStatus). KMS treats a store whose key managers are
 * all UNAVAILABLE as unreachable. The budget is generous: the first call may start the
 * provider (HSM login, scrypt).
 */
export async function checkProviderHealth(tenant: Tenant, budgetMs = 10_000): Promise<CheckResult[]> {
  const subject = `keyStores[prefix="${tenant.prefix}"]`;
  let fleet;
  try {
    fleet = await tenant.keyStore.readiness(callContextWithin(budgetMs));
  } catch (e) {
    fleet = [{ id: 'provider', model: 'provider', healthStatus: 'UNAVAILABLE' as const, detail: errorText(e) }];
  }
  const allDown = fleet.every((e) => e.healthStatus === 'UNAVAILABLE');
  return fleet.map((ekm) => {
    const fields = { group: 'keys' as const, id: 'keys.canary', subject: `${subject} key manager ${ekm.id}` };
    if (ekm.healthStatus === 'ACTIVE') return ok({ ...fields, message: `${ekm.model}: health canary encrypt/decrypt works (ACTIVE)` });
    const detail = ekm.detail ?? ekm.healthStatus;
    if (ekm.healthStatus === 'DEGRADED') {
      return warn({ ...fields, message: `${ekm.model} is DEGRADED: ${detail}`, fix: 'bring the failed replica back; KMS still works through the others' });
    }
    const fix = 'make the key manager reachable with the configured credentials (module, token, PIN, server address, keystore file and its secret)';
    if (!allDown) {
      // Other replicas still serve, so KMS keeps working; the fleet has lost its redundancy.
      return warn({ ...fields, message: `${ekm.model} is UNAVAILABLE while other replicas serve: ${detail}`, fix });
    }
    return fail({ ...fields, message: `${ekm.model} is UNAVAILABLE: ${detail}`, fix, kmsState: 'XKS_PROXY_NOT_REACHABLE' });
  });
}

/**
 * Each known key as KMS will see it through GetKeyMetadata: it exists, is AES_256, allows
 * ENCRYPT and DECRYPT (KMS CreateKey requires both) and is ENABLED. `usable` lists the keys
 * that pass, for the latency and end-to-end checks.
 */
export async function checkKeys(tenant: Tenant, inventory: KeyInventory, budgetMs = 10_000): Promise<{ results: CheckResult[]; usable: string[] }> {
  const store = `keyStores[prefix="${tenant.prefix}"]`;
  if (inventory.keyIds.length === 0) {
    return {
      results: [skip({ group: 'keys', id: 'keys.key', subject: store, message: `no key ids to check (${inventory.source}); pass --key <externalKeyId>` })],
      usable: [],
    };
  }
  const results: CheckResult[] = [];
  const usable: string[] = [];
  for (const keyId of inventory.keyIds) {
    const subject = `${store} key ${keyId}`;
    let meta: KeyMetadataResponse;
    try {
      meta = await tenant.keyStore.getKeyMetadata(keyId, { requestMetadata: DOCTOR_METADATA }, callContextWithin(budgetMs));
    } catch (e) {
      results.push(keyFailure(subject, keyId, e));
      continue;
    }
    const verdict = judgeKey(subject, meta, inventory.named === true);
    if (verdict.level === 'ok') usable.push(keyId);
    results.push(verdict);
  }
  return { results, usable };
}

function keyFailure(subject: string, keyId: string, e: unknown): CheckResult {
  if (isXksError(e) && e.errorName === 'KeyNotFoundException') {
    return fail({
      group: 'keys',
      id: 'keys.key',
      subject,
      message: `the key manager has no key ${keyId}`,
      fix: 'create the key in the key manager, or correct the external key id used in KMS',
      kmsState: 'XksKeyNotFoundException (CreateKey) / KMSInvalidStateException',
    });
  }
  const what = isXksError(e) ? `${e.errorName}: ${e.message}${e.logDetail ? ` (${e.logDetail})` : ''}` : errorText(e);
  return fail({
    group: 'keys',
    id: 'keys.key',
    subject,
    message: `GetKeyMetadata failed: ${what}`,
    fix: 'fix the key manager connection first (see the canary line); then run the doctor again',
    kmsState: 'KMSInvalidStateException',
  });
}

/**
 * A key that lacks a usage or is disabled: KMS CreateKey refuses it (it needs AES_256,
 * ENCRYPT and DECRYPT, ENABLED) and a KMS key already on it fails. A key the operator named
 * with --key is meant for KMS, so that is a failure; a key merely listed in the key manager
 * may be there on purpose (e.g. an encrypt-only demo key), so that is a warning.
 */
function judgeKey(subject: string, meta: KeyMetadataResponse, named: boolean): CheckResult {
  const refused = named ? fail : warn;
  const data = { ...meta };
  if (meta.keySpec !== 'AES_256') {
    return fail({
      group: 'keys',
      id: 'keys.key',
      subject,
      message: `the key is ${String(meta.keySpec)}, not AES_256`,
      fix: 'use a 256-bit AES key; KMS accepts nothing else for an external key',
      kmsState: 'XksKeyInvalidConfigurationException',
      data,
    });
  }
  const missing = (['ENCRYPT', 'DECRYPT'] as const).filter((u) => !meta.keyUsage.includes(u));
  if (missing.length > 0) {
    const broken = missing.map((u) => KMS_OPERATIONS_NEEDING[u]).join('; ');
    return refused({
      group: 'keys',
      id: 'keys.key',
      subject,
      message: `usage [${meta.keyUsage.join(', ')}] lacks ${missing.join(' and ')}: KMS CreateKey refuses it, and for a KMS key already on it ${broken} will fail`,
      fix: `allow ${missing.join(' and ')} on the key in the key manager (PKCS#11: CKA_${missing.join('/CKA_')}=true; software keystore: create a key with \`xks-proxy keys create <id> --usage encrypt,decrypt\` and use that)`,
      kmsState: 'XksKeyInvalidConfigurationException (CreateKey) / KMSInvalidStateException',
      data,
    });
  }
  if (meta.keyStatus !== 'ENABLED') {
    return refused({
      group: 'keys',
      id: 'keys.key',
      subject,
      message: 'the key is DISABLED in the key manager: KMS CreateKey refuses it, and every KMS operation with a KMS key already on it fails',
      fix: named
        ? 'enable it in the key manager (`xks-proxy keys enable` for the software keystore)'
        : 'enable it in the key manager (`xks-proxy keys enable` for the software keystore) unless that is intended',
      kmsState: 'XksKeyInvalidConfigurationException (CreateKey) / KMSInvalidStateException',
      data,
    });
  }
  return ok({ group: 'keys', id: 'keys.key', subject, message: 'AES_256, ENCRYPT and DECRYPT, ENABLED', data });
}

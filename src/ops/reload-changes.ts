import type { KeyStoreConfig, ProxyConfig } from '../config/schema.ts';

/**
 * What a reload changed, in words an operator reads in the `config reloaded` line
 * ("rateLimit of \"tenant-a\": 100/s burst 50 -> 200/s burst 100"). Secrets never
 * appear: credentials are named by access key id only (see credentialChanges).
 */

/** Credentials of one key store before and after a reload, by access key id. */
export interface CredentialChange {
  prefix: string;
  added: string[];
  removed: string[];
  /** Same access key id, new secret. */
  secretReplaced: string[];
}

/** Why a key store was built anew instead of kept (see sameKeyStore in reconcile-tenants.ts). */
export function rebuildReasons(a: KeyStoreConfig, b: KeyStoreConfig, ac: ProxyConfig, bc: ProxyConfig): string[] {
  const reasons: string[] = [];
  if (JSON.stringify(a.provider) !== JSON.stringify(b.provider)) reasons.push('provider settings');
  if (a.foreignCiphertextAad !== b.foreignCiphertextAad) reasons.push('foreignCiphertextAad');
  if (JSON.stringify(ac.health) !== JSON.stringify(bc.health)) reasons.push('health settings');
  return reasons;
}

type RateLimit = KeyStoreConfig['rateLimit'];
type Policy = KeyStoreConfig['policy'];

function limitText(limit: RateLimit): string {
  if (limit === undefined) return 'none';
  return `${limit.requestsPerSecond}/s burst ${limit.burst ?? Math.ceil(limit.requestsPerSecond)}`;
}

function policyText(policy: Policy): string {
  if (policy === undefined) return 'none';
  const mode = policy.dryRun ? 'dry run' : 'enforcing';
  const names = policy.rules.map((r) => r.name).join(', ');
  return `${mode}, default ${policy.defaultEffect}, rules [${names}]`;
}

/** Settings that changed between two configs, one sentence each; empty when none did. */
export function settingChanges(prev: ProxyConfig, next: ProxyConfig): string[] {
  const out: string[] = [];
  const note = (what: string, before: string, after: string): void => {
    if (before !== after) out.push(`${what}: ${before} -> ${after}`);
  };
  note('rateLimit (proxy-wide)', limitText(prev.rateLimit), limitText(next.rateLimit));
  note('logging.level', prev.logging.level, next.logging.level);
  note('logging.refusalLevel', prev.logging.refusalLevel, next.logging.refusalLevel);
  const before = new Map(prev.keyStores.map((ks) => [ks.prefix, ks] as const));
  for (const ks of next.keyStores) {
    const old = before.get(ks.prefix);
    if (old === undefined) continue; // reported as added
    const name = JSON.stringify(ks.prefix);
    note(`region of ${name}`, old.region, ks.region);
    note(`rateLimit of ${name}`, limitText(old.rateLimit), limitText(ks.rateLimit));
    const p0 = policyText(old.policy);
    const p1 = policyText(ks.policy);
    if (p0 !== p1) note(`policy of ${name}`, p0, p1);
    else if (JSON.stringify(old.policy) !== JSON.stringify(ks.policy)) out.push(`policy of ${name}: rule conditions changed`);
  }
  return out;
}

/** One sentence for a key store's credential change. */
export function credentialSentence(c: CredentialChange): string {
  const parts: string[] = [];
  if (c.added.length > 0) parts.push(`added ${c.added.join(', ')}`);
  if (c.removed.length > 0) parts.push(`removed ${c.removed.join(', ')}`);
  if (c.secretReplaced.length > 0) parts.push(`new secret for ${c.secretReplaced.join(', ')}`);
  return `credentials of ${JSON.stringify(c.prefix)}: ${parts.join('; ')}`;
}

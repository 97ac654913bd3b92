import { describe, expect, it } from 'vitest';
import { CredentialSet } from '../../../src/auth/credential-set.ts';
import { checkProviderHealth } from '../../../src/diagnostics/keys-check.ts';
import type { EkmHealth } from '../../../src/xks/key-provider-port.ts';
import type { Tenant } from '../../../src/xks/tenants.ts';
import type { KeyStore } from '../../../src/xks/key-store.ts';

/** A key store whose deep health reports a given fleet (the mapping to doctor lines is what is tested). */
function tenantWithFleet(fleet: EkmHealth[]): Tenant {
  const keyStore = { prefix: 'p', readiness: async () => fleet } as unknown as KeyStore;
  return { prefix: 'p', region: 'us-east-1', credentials: new CredentialSet([]), keyStore };
}

describe('provider health lines', () => {
  it('fails with XKS_PROXY_NOT_REACHABLE only when every key manager is unavailable', async () => {
    const lines = await checkProviderHealth(tenantWithFleet([{ id: 'hsm-a', model: 'HSM', healthStatus: 'UNAVAILABLE', detail: 'CKR_PIN_INCORRECT' }]));
    expect(lines).toEqual([expect.objectContaining({ level: 'fail', kmsState: 'XKS_PROXY_NOT_REACHABLE', message: 'HSM is UNAVAILABLE: CKR_PIN_INCORRECT' })]);
  });

  it('warns about one replica down while another serves', async () => {
    const lines = await checkProviderHealth(
      tenantWithFleet([
        { id: 'kmip-1', model: 'KMIP', healthStatus: 'ACTIVE' },
        { id: 'kmip-2', model: 'KMIP', healthStatus: 'UNAVAILABLE', detail: 'ECONNREFUSED' },
        { id: 'kmip-3', model: 'KMIP', healthStatus: 'DEGRADED', detail: 'slow' },
      ]),
    );
    expect(lines.map((l) => l.level)).toEqual(['ok', 'warn', 'warn']);
    expect(lines[1]?.subject).toContain('kmip-2');
    expect(lines[1]?.message).toContain('other replicas serve');
  });
});

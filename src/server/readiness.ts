import { callContextWithin } from '../xks/call-context.ts';
import type { EkmHealthStatus } from '../xks/key-provider-port.ts';
import type { Tenant } from '../xks/tenants.ts';

/** Readiness of the proxy: every key store has a key manager that can serve traffic. */
export interface ReadinessReport {
  ready: boolean;
  keyStores: Array<{ prefix: string; ekm: Array<{ id: string; healthStatus: EkmHealthStatus }> }>;
}

/**
 * Builds the readiness answer from each key store's cached deep health (shared with
 * GetHealthStatus, so probes do not multiply canary operations). Details of failures stay
 * in the log: this endpoint is unauthenticated.
 */
export async function readinessReport(tenants: readonly Tenant[], budgetMs: number): Promise<ReadinessReport> {
  const keyStores = await Promise.all(
    tenants.map(async (t) => {
      const fleet = await t.keyStore.readiness(callContextWithin(budgetMs)).catch(() => []);
      return { prefix: t.prefix, ekm: fleet.map(({ id, healthStatus }) => ({ id, healthStatus })) };
    }),
  );
  const ready = keyStores.every((ks) => ks.ekm.some((e) => e.healthStatus !== 'UNAVAILABLE'));
  return { ready, keyStores };
}

import type { EkmHealth } from './key-provider-port.ts';
import type { HealthResponse } from './key-store.ts';

/** xksProxyVendor of every GetHealthStatus answer. */
const XKS_PROXY_VENDOR = 'xks-proxy open source project';

/** The spec allows 1-10 ekmFleetDetails entries. */
const MAX_EKM_FLEET_DETAILS = 10;

/** What a key store says about itself in GetHealthStatus, beside its key managers' health. */
export interface HealthIdentity {
  /** xksProxyFleetSize: the proxies serving this key store (an integer > 0). */
  fleetSize: number;
  proxyModel: string;
  ekmVendor: string;
}

/**
 * The GetHealthStatus answer of any key store (local or upstream): the key managers'
 * entries cut to the spec's ten (a provider or several upstreams may report more) and
 * reduced to the spec's fields: `detail` says why an entry is not ACTIVE for the log
 * and readiness, and is never sent to KMS.
 */
export function healthResponse(fleet: readonly EkmHealth[], who: HealthIdentity): HealthResponse {
  return {
    xksProxyFleetSize: who.fleetSize,
    xksProxyVendor: XKS_PROXY_VENDOR,
    xksProxyModel: who.proxyModel,
    ekmVendor: who.ekmVendor,
    ekmFleetDetails: fleet.slice(0, MAX_EKM_FLEET_DETAILS).map(({ id, model, healthStatus }) => ({ id, model, healthStatus })),
  };
}

import { isXksError } from '../../xks/errors.ts';
import type { RequestMetadata } from '../../xks/requests.ts';
import type { CallContext, EkmHealth } from '../../xks/key-provider-port.ts';
import type { UpstreamFleet } from './upstream-fleet.ts';
import { healthReply } from './upstream-replies.ts';
import { UpstreamFault } from './upstream-fault.ts';

/** Model shown for an upstream that did not answer its health check. */
export const UNREACHABLE_UPSTREAM_MODEL = 'upstream XKS proxy';

/** The fleet's health: one entry per key manager behind each upstream, and who made them. */
export interface FleetHealth {
  fleet: EkmHealth[];
  /** ekmVendor of the first upstream that answered, if any. */
  ekmVendor?: string;
}

/**
 * Asks every upstream endpoint for its GetHealthStatus at once, within the caller's budget,
 * and joins the answers: each upstream's ekmFleetDetails entries (ids prefixed with the
 * endpoint id so two nodes' entries stay apart), or one UNAVAILABLE entry for an upstream
 * that did not answer usably. The result is cut to the spec's 10 entries by the caller.
 */
export async function checkFleetHealth(fleet: UpstreamFleet, path: string, requestMetadata: RequestMetadata, ctx: CallContext): Promise<FleetHealth> {
  const answers = await Promise.all(
    fleet.endpoints.map(async (endpoint) => {
      try {
        const reply = await endpoint.client.post(path, { requestMetadata }, ctx);
        const health = healthReply(reply);
        fleet.record(endpoint, true);
        return {
          ekmVendor: health.ekmVendor,
          entries: health.fleet.map((e) => ({ ...e, id: `${endpoint.id}/${e.id}` })),
        };
      } catch (e) {
        if (e instanceof UpstreamFault) fleet.record(endpoint, false);
        const detail = e instanceof UpstreamFault ? e.detail : isXksError(e) ? `${e.errorName}: ${e.message}` : String(e);
        const down: EkmHealth = { id: endpoint.id, model: UNREACHABLE_UPSTREAM_MODEL, healthStatus: 'UNAVAILABLE', detail };
        return { ekmVendor: undefined, entries: [down] };
      }
    }),
  );
  const ekmVendor = answers.find((a) => a.ekmVendor !== undefined && a.ekmVendor !== '')?.ekmVendor;
  return { fleet: answers.flatMap((a) => a.entries), ...(ekmVendor === undefined ? {} : { ekmVendor }) };
}

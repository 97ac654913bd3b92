import type { Logger } from 'pino';
import type { InFlightRequests } from './in-flight.ts';

/** What a graceful shutdown stops, in order. */
export interface ShutdownSteps {
  /** Stops accepting connections; resolves when the listener has closed. */
  stopAccepting: () => Promise<void>;
  inFlight: InFlightRequests;
  /** How long in-flight requests get to finish. */
  drainTimeoutMs: number;
  /** Runs after the drain: audit flush, metrics listener, key providers. */
  release: () => Promise<void>;
  logger: Logger;
}

/** How a shutdown went. */
export interface ShutdownResult {
  /** True when every in-flight request finished within the bound. */
  drained: boolean;
  /** Requests still running when the bound passed (their clients see the connection close). */
  abandoned: number;
  durationMs: number;
}

/** Bound on closing providers, the audit file and the metrics listener. */
const RELEASE_TIMEOUT_MS = 5_000;

function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

/**
 * Stops accepting new connections, lets the requests already received finish (at most
 * drainTimeoutMs: KMS gives a call 250 ms, so a few seconds covers every well-behaved
 * request and a hung key manager cannot hold the process forever), then releases
 * providers. The orchestrator's own kill deadline (ECS stopTimeout, Kubernetes
 * terminationGracePeriodSeconds) should be longer than drainTimeoutMs plus 5 s.
 */
export async function shutdownGracefully(steps: ShutdownSteps): Promise<ShutdownResult> {
  const started = performance.now();
  steps.inFlight.startDraining();
  steps.logger.info(
    { inFlight: steps.inFlight.count, drainTimeoutMs: steps.drainTimeoutMs },
    'shutting down: no new connections; finishing requests in flight',
  );
  const listenerClosed = steps.stopAccepting().catch((e: unknown) => steps.logger.warn({ err: (e as Error).message }, 'listener close failed'));
  const drained = (await Promise.race([steps.inFlight.idle().then(() => 'idle' as const), timeout(steps.drainTimeoutMs)])) === 'idle';
  const abandoned = steps.inFlight.count;
  if (!drained)
    steps.logger.warn({ abandoned, drainTimeoutMs: steps.drainTimeoutMs }, 'shutdown: requests still running after the drain timeout are abandoned');
  // Idle keep-alive connections may keep the listener open a little longer; do not wait on them.
  await Promise.race([listenerClosed, timeout(Math.min(1_000, steps.drainTimeoutMs))]);
  const released = await Promise.race([steps.release().then(() => 'done' as const), timeout(RELEASE_TIMEOUT_MS)]);
  if (released === 'timeout') steps.logger.warn({ timeoutMs: RELEASE_TIMEOUT_MS }, 'shutdown: closing key providers took too long; exiting anyway');
  const durationMs = Math.round(performance.now() - started);
  steps.logger.info({ drained, abandoned, durationMs }, 'shutdown complete');
  return { drained, abandoned, durationMs };
}

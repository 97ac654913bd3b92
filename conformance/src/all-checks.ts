/** Every check, in the order they run and are reported. */
import type { CheckDefinition } from './check.ts';
import { cdivChecks } from './checks/cdiv-checks.ts';
import { cryptoChecks } from './checks/crypto-checks.ts';
import { errorChecks } from './checks/error-checks.ts';
import { healthChecks } from './checks/health-checks.ts';
import { keyMetadataChecks } from './checks/key-metadata-checks.ts';
import { keyUsageChecks } from './checks/key-usage-checks.ts';
import { limitChecks } from './checks/limit-checks.ts';
import { requestMetadataChecks } from './checks/request-metadata-checks.ts';
import { routingChecks } from './checks/routing-checks.ts';
import { sigv4Checks } from './checks/sigv4-checks.ts';
import { sigv4ShapeChecks } from './checks/sigv4-shape-checks.ts';
import { tamperChecks } from './checks/tamper-checks.ts';
import { tlsChecks } from './checks/tls-checks.ts';
import { validationChecks } from './checks/validation-checks.ts';

/** All checks of the harness. */
export const ALL_CHECKS: readonly CheckDefinition[] = [
  ...tlsChecks,
  ...routingChecks,
  ...sigv4Checks,
  ...sigv4ShapeChecks,
  ...errorChecks,
  ...validationChecks,
  ...limitChecks,
  ...requestMetadataChecks,
  ...healthChecks,
  ...keyMetadataChecks,
  ...keyUsageChecks,
  ...cryptoChecks,
  ...tamperChecks,
  ...cdivChecks,
];

/**
 * The checks matching `only`: comma-separated selectors, each a check id, a group name
 * (`sigv4`), or a glob with `*` (`tamper.aad-*`). Empty selects everything.
 */
export function selectChecks(only: string, checks: readonly CheckDefinition[] = ALL_CHECKS): CheckDefinition[] {
  const selectors = only
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (selectors.length === 0) return [...checks];
  const matchers = selectors.map((s) => {
    if (s.includes('*')) {
      const re = new RegExp(`^${s.split('*').map(escapeRegExp).join('.*')}$`);
      return (c: CheckDefinition) => re.test(c.id);
    }
    return (c: CheckDefinition) => c.id === s || c.group === s;
  });
  return checks.filter((c) => matchers.some((m) => m(c)));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

import pino, { type Logger } from 'pino';
import type { CallContext } from '../../src/xks/key-provider-port.ts';
import { pkcs11ProviderConfigSchema, type Pkcs11ProviderConfig } from '../../src/providers/pkcs11/pkcs11-config.ts';
import { createPkcs11Provider, type Pkcs11KeyProvider } from '../../src/providers/pkcs11/pkcs11-provider.ts';
import { isXksError } from '../../src/xks/errors.ts';
import type { SoftHsmFixture } from './softhsm.ts';

/** A call context with `ms` of budget (KMS gives a request 250 ms in all). */
export function budget(ms = 250): CallContext {
  return { deadline: Date.now() + ms, signal: AbortSignal.timeout(ms) };
}

/**
 * The spec errorName a call fails with, so one assertion shows what happened instead:
 * 'no error' when it succeeds, and the thrown value when it is not an XksError.
 */
export async function errorNameOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isXksError(e) ? e.errorName : `not an XksError: ${String(e)}`;
  }
  return 'no error';
}

/** A pino logger that keeps its JSON lines in memory, so tests can assert on log lines. */
export function memoryLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => raw.push(s) });
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Provider config for the fixture's tokens (PINs from the fixture's PIN files), plus overrides. */
export function fixtureConfig(fx: SoftHsmFixture, overrides: Record<string, unknown> = {}, labels = fx.tokens.map((t) => t.label)): Pkcs11ProviderConfig {
  return pkcs11ProviderConfigSchema.parse({
    type: 'pkcs11',
    module: fx.modulePath,
    tokens: labels.map((label) => ({ label, pin: `file:${fx.tokens.find((t) => t.label === label)?.pinFile ?? ''}` })),
    ...overrides,
  });
}

/** Starts a PKCS#11 provider on the fixture's tokens. */
export async function startProvider(
  fx: SoftHsmFixture,
  overrides: Record<string, unknown> = {},
  logger: Logger = pino({ level: 'silent' }),
): Promise<Pkcs11KeyProvider> {
  const provider = createPkcs11Provider(fixtureConfig(fx, overrides), { logger, configDir: fx.dir, env: process.env });
  await provider.init();
  return provider;
}

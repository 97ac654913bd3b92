import { randomBytes } from 'node:crypto';
import { isXksError } from '../../xks/errors.ts';
import type { CallContext, EkmHealth, EkmHealthStatus } from '../../xks/key-provider-port.ts';
import type { Pkcs11Handle } from './pkcs11-api.ts';
import { classifyPkcs11Failure, describePkcs11Error } from './pkcs11-failure.ts';
import { pkcs11GcmDecrypt, pkcs11GcmEncrypt } from './pkcs11-gcm.ts';
import { hasTimeLeft, Pkcs11TokenUnavailableError, type Pkcs11Token } from './pkcs11-token.ts';

/** AAD of the canary round trip: marks these operations as health checks in HSM audit logs. */
const CANARY_AAD = Buffer.from('xks-proxy health canary');

/**
 * Deep health of one token (spec GetHealthStatus SHOULD be deep): an AES-GCM encrypt and
 * decrypt with the canary key, a key used for nothing else so HSM logs show no phantom
 * customer operations. Runs on its own short-lived session so a busy pool cannot make a
 * healthy token look dead. ACTIVE: the round trip worked. DEGRADED: the token is reachable
 * and logged in, but the canary key is missing or unusable, so crypto is unproven.
 * UNAVAILABLE: no session, no login, or the round trip failed (after one recovery).
 * Answers by the deadline even if the token hangs.
 */
export async function checkPkcs11TokenHealth(token: Pkcs11Token, canaryLabel: string, ctx: CallContext): Promise<EkmHealth> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<EkmHealth>((resolve) => {
    timer = setTimeout(
      () => resolve(entry(token, 'UNAVAILABLE', 'health check did not finish within the request budget')),
      Math.max(0, ctx.deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([roundTrip(token, canaryLabel, ctx), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function entry(token: Pkcs11Token, healthStatus: EkmHealthStatus, detail?: string): EkmHealth {
  return detail === undefined ? { id: token.name, model: token.model, healthStatus } : { id: token.name, model: token.model, healthStatus, detail };
}

async function roundTrip(token: Pkcs11Token, canaryLabel: string, ctx: CallContext): Promise<EkmHealth> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await token.withSideSession((session) => canaryRoundTrip(token, session, canaryLabel));
    } catch (e) {
      if (e instanceof Pkcs11TokenUnavailableError) return entry(token, 'UNAVAILABLE', e.detail);
      if (isXksError(e)) {
        // Found no usable canary: the token answered, but crypto could not be proven.
        return entry(token, 'DEGRADED', `health canary: ${e.message}`);
      }
      const failure = classifyPkcs11Failure(e, 'health');
      const detail = `health canary failed with ${describePkcs11Error(e)}`;
      if ((failure.action === 'recover' || failure.action === 'key-handle') && attempt === 0 && hasTimeLeft(ctx)) {
        try {
          token.recoverAfter(failure.code);
          continue;
        } catch (re) {
          return entry(token, 'UNAVAILABLE', re instanceof Pkcs11TokenUnavailableError ? re.detail : detail);
        }
      }
      token.markDown(detail);
      return entry(token, 'UNAVAILABLE', detail);
    }
  }
}

async function canaryRoundTrip(token: Pkcs11Token, session: Pkcs11Handle, canaryLabel: string): Promise<EkmHealth> {
  const key = token.key(session, canaryLabel);
  if (!key.usages.includes('ENCRYPT') || !key.usages.includes('DECRYPT')) {
    return entry(token, 'DEGRADED', `health canary key "${canaryLabel}" must allow encrypt and decrypt`);
  }
  const plaintext = randomBytes(32);
  const api = token.api();
  const out = await pkcs11GcmEncrypt(api, session, key.handle, token.newIv(session), plaintext, CANARY_AAD);
  token.checkGeneratedIv(out);
  const back = await pkcs11GcmDecrypt(api, session, key.handle, out, CANARY_AAD);
  if (!plaintext.equals(back)) {
    token.markDown('health canary decrypted to different bytes');
    return entry(token, 'UNAVAILABLE', 'health canary decrypted to different bytes');
  }
  token.markUp();
  return entry(token, 'ACTIVE');
}

import { randomBytes, randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import type { LoadedConfig } from '../config/load-config.ts';
import type { KeyStoreConfig } from '../config/schema.ts';
import { resolveSecretRef } from '../config-values/secret-ref.ts';
import { errorText, fail, ok, skip, warn, type CheckResult } from './check-result.ts';
import { KMS_BUDGET_MS } from './latency-check.ts';
import { signedXksCall, type SigningIdentity, type XksCallResult } from './signed-xks-call.ts';
import type { StatusReport } from './status-report.ts';
import { CLIENT_CERT_FIX } from './tls-check.ts';
import { probeClientCertRequirement } from './tls-probe.ts';

/** Inputs of the end-to-end checks. */
export interface EndToEndOptions {
  /** XksProxyUriEndpoint: `https://<public name>[:port]`, no path. */
  endpoint: URL;
  agent: Agent;
  env: NodeJS.ProcessEnv;
  /** A key per prefix to run Encrypt/Decrypt with (one allowing both, enabled). */
  keyFor: (prefix: string) => string | undefined;
  /** Key ids given with --key for a prefix (to say why none is usable). */
  keysNamed?: (prefix: string) => string[];
  /** Signing clock; default now. */
  now?: () => Date;
  /** True when the agent presents a client certificate (--client-cert). */
  clientCertGiven?: boolean;
  /** The running proxy's status view, to print the reason it logged for a refused call. */
  readStatus?: () => Promise<StatusReport>;
}

/** The end-to-end lines. */
export interface EndToEndOutcome {
  results: CheckResult[];
}

/**
 * A kmsRequestId the operator can search the proxy log for: every line of the request
 * carries it (the 401 line too), and the status view keeps it with the last error.
 */
export function doctorRequestId(): string {
  return `xks-proxy-doctor-${randomUUID()}`;
}

/** XksProxyUriPath of a prefix (what the KMS console is given). */
function uriPath(prefix: string): string {
  return prefix === '' ? '/kms/xks/v1' : `/${prefix}/kms/xks/v1`;
}

/** Checks the endpoint value before any call: KMS takes scheme, host and port only. */
export function parseEndpoint(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--endpoint "${value}" is not a URL; use https://<public name>[:port]`);
  }
  if (url.protocol !== 'https:') throw new Error('--endpoint must start with https:// (KMS only connects over HTTPS)');
  if (url.pathname !== '/' || url.search !== '') {
    throw new Error('--endpoint takes only https://<name>[:port] (XksProxyUriEndpoint); the path comes from each key store prefix');
  }
  return url;
}

/**
 * Calls the public endpoint exactly as KMS would: a signed GetHealthStatus with every
 * configured credential of every key store, then Encrypt and Decrypt with a key. Whatever
 * sits in between (DNS, load balancer, reverse proxy, clocks) is part of what is tested.
 */
export async function checkEndToEnd(loaded: LoadedConfig, opts: EndToEndOptions): Promise<EndToEndOutcome> {
  const outcome: EndToEndOutcome = { results: [] };
  for (const ks of loaded.config.keyStores) {
    for (const cred of ks.credentials) {
      let secret: string;
      try {
        secret = resolveSecretRef(cred.secretAccessKey, `credential ${cred.accessKeyId}`, opts.env, loaded.configDir);
      } catch (e) {
        outcome.results.push(
          skip({ group: 'end-to-end', id: 'e2e.health', subject: subjectOf(ks, cred.accessKeyId), message: `cannot sign: ${errorText(e)}` }),
        );
        continue;
      }
      const who = { accessKeyId: cred.accessKeyId, secret, region: ks.region };
      const health = await healthCall(ks, who, opts);
      outcome.results.push(health.result);
      if (health.passed && cred === ks.credentials[ks.credentials.length - 1]) {
        outcome.results.push(await cryptoRoundTrip(ks, who, opts));
      }
    }
  }
  return outcome;
}

function subjectOf(ks: KeyStoreConfig, accessKeyId: string): string {
  return `${uriPath(ks.prefix)} as ${accessKeyId}`;
}

async function healthCall(ks: KeyStoreConfig, who: SigningIdentity, opts: EndToEndOptions): Promise<{ result: CheckResult; passed: boolean }> {
  const subject = subjectOf(ks, who.accessKeyId);
  const url = new URL(`${uriPath(ks.prefix)}/health`, opts.endpoint);
  const requestId = doctorRequestId();
  const body = { requestMetadata: { kmsRequestId: requestId, kmsOperation: 'KmsHealthCheck' } };
  let res: XksCallResult;
  try {
    res = await signedXksCall(url, body, who, { agent: opts.agent, now: opts.now?.() });
  } catch (e) {
    return { result: await transportFailure('e2e.health', subject, e, opts), passed: false };
  }
  const problem = await interpretError(res, 'GetHealthStatus', ks, requestId, opts);
  if (problem !== undefined) return { result: { ...problem, id: 'e2e.health', subject }, passed: false };
  const fleet = Array.isArray(res.json?.ekmFleetDetails) ? (res.json.ekmFleetDetails as Array<{ id?: unknown; healthStatus?: unknown }>) : undefined;
  if (fleet === undefined || fleet.length === 0 || typeof res.json?.xksProxyFleetSize !== 'number') {
    return {
      result: fail({
        group: 'end-to-end',
        id: 'e2e.health',
        subject,
        message: 'GetHealthStatus answered 200 without xksProxyFleetSize and ekmFleetDetails',
        fix: 'make sure the endpoint routes to xks-proxy and not to another service',
        kmsState: 'XKS_PROXY_INVALID_RESPONSE',
      }),
      passed: false,
    };
  }
  const states = fleet.map((e) => `${String(e.id)}=${String(e.healthStatus)}`).join(', ');
  if (fleet.every((e) => e.healthStatus === 'UNAVAILABLE')) {
    return {
      result: fail({
        group: 'end-to-end',
        id: 'e2e.health',
        subject,
        message: `GetHealthStatus says every key manager is UNAVAILABLE (${states})`,
        fix: 'fix the key manager (see the keys lines); KMS treats this key store as unreachable',
        kmsState: 'XKS_PROXY_NOT_REACHABLE',
      }),
      passed: false,
    };
  }
  const data = { elapsedMs: res.elapsedMs, ekmFleetDetails: fleet };
  if (res.elapsedMs > KMS_BUDGET_MS) {
    return {
      result: warn({
        group: 'end-to-end',
        id: 'e2e.health',
        subject,
        message: `GetHealthStatus worked but took ${res.elapsedMs} ms from here, more than KMS's ${KMS_BUDGET_MS} ms`,
        fix: 'run the doctor from the AWS region of the key store; if it is still slow there, move the proxy closer to that region',
        kmsState: 'XKS_PROXY_TIMED_OUT',
        data,
      }),
      passed: true,
    };
  }
  return {
    result: ok({ group: 'end-to-end', id: 'e2e.health', subject, message: `signed GetHealthStatus accepted in ${res.elapsedMs} ms (${states})`, data }),
    passed: true,
  };
}

async function cryptoRoundTrip(ks: KeyStoreConfig, who: SigningIdentity, opts: EndToEndOptions): Promise<CheckResult> {
  const subject = subjectOf(ks, who.accessKeyId);
  const keyId = opts.keyFor(ks.prefix);
  if (keyId === undefined) {
    const named = opts.keysNamed?.(ks.prefix) ?? [];
    const message =
      named.length > 0
        ? `Encrypt/Decrypt not tested: none of the keys given with --key (${named.join(', ')}) exists, allows ENCRYPT and DECRYPT and is enabled (see the keys.key lines)`
        : 'no key that allows ENCRYPT and DECRYPT is known; pass --key <externalKeyId> to test Encrypt/Decrypt';
    return skip({ group: 'end-to-end', id: 'e2e.crypto', subject, message });
  }
  const requestId = doctorRequestId();
  const metadata = {
    awsPrincipalArn: 'arn:aws:iam::000000000000:role/xks-proxy-doctor',
    kmsKeyArn: 'arn:aws:kms:' + ks.region + ':000000000000:key/xks-proxy-doctor',
    kmsRequestId: requestId,
  };
  const plaintext = randomBytes(32);
  const aad = Buffer.from('xks-proxy doctor end-to-end check');
  const base = new URL(`${uriPath(ks.prefix)}/keys/${encodeURIComponent(keyId)}/`, opts.endpoint);
  try {
    const enc = await signedXksCall(
      new URL('encrypt', base),
      {
        requestMetadata: { ...metadata, kmsOperation: 'Encrypt' },
        plaintext: plaintext.toString('base64'),
        encryptionAlgorithm: 'AES_GCM',
        additionalAuthenticatedData: aad.toString('base64'),
        ciphertextDataIntegrityValueAlgorithm: 'SHA_256',
      },
      who,
      { agent: opts.agent, now: opts.now?.() },
    );
    const encProblem = await interpretError(enc, 'Encrypt', ks, requestId, opts);
    if (encProblem !== undefined) return { ...encProblem, id: 'e2e.crypto', subject: `${subject} key ${keyId}` };
    const e = enc.json!;
    const dec = await signedXksCall(
      new URL('decrypt', base),
      {
        requestMetadata: { ...metadata, kmsOperation: 'Decrypt' },
        ciphertext: e.ciphertext,
        encryptionAlgorithm: 'AES_GCM',
        initializationVector: e.initializationVector,
        authenticationTag: e.authenticationTag,
        additionalAuthenticatedData: aad.toString('base64'),
        ...(e.ciphertextMetadata !== undefined ? { ciphertextMetadata: e.ciphertextMetadata } : {}),
      },
      who,
      { agent: opts.agent, now: opts.now?.() },
    );
    const decProblem = await interpretError(dec, 'Decrypt', ks, requestId, opts);
    if (decProblem !== undefined) return { ...decProblem, id: 'e2e.crypto', subject: `${subject} key ${keyId}` };
    if (dec.json?.plaintext !== plaintext.toString('base64')) {
      return fail({
        group: 'end-to-end',
        id: 'e2e.crypto',
        subject: `${subject} key ${keyId}`,
        message: 'Decrypt returned a different plaintext than was encrypted',
        fix: 'report this as a bug with the proxy log',
        kmsState: 'XKS_PROXY_INVALID_RESPONSE',
      });
    }
    return ok({
      group: 'end-to-end',
      id: 'e2e.crypto',
      subject: `${subject} key ${keyId}`,
      message: `Encrypt (${enc.elapsedMs} ms) and Decrypt (${dec.elapsedMs} ms) round trip through the endpoint`,
      data: { encryptMs: enc.elapsedMs, decryptMs: dec.elapsedMs },
    });
  } catch (e) {
    return transportFailure('e2e.crypto', `${subject} key ${keyId}`, e, opts);
  }
}

/**
 * The reason the running proxy recorded for this request (status view), matched by its
 * kmsRequestId; undefined when the status view is not available or does not have it.
 */
async function loggedReason(opts: EndToEndOptions, ks: KeyStoreConfig, requestId: string): Promise<string | undefined> {
  if (opts.readStatus === undefined) return undefined;
  let status: StatusReport;
  try {
    status = await opts.readStatus();
  } catch {
    return undefined;
  }
  const store = status.keyStores.find((k) => k.prefix === ks.prefix);
  const records = [store?.lastHealthCheck, ...(store?.errors ?? [])];
  return records.find((r) => r?.kmsRequestId === requestId && r.reason !== undefined)?.reason;
}

/** Turns a non-200 or non-XKS answer into the line that says what KMS will report. */
async function interpretError(res: XksCallResult, op: string, ks: KeyStoreConfig, requestId: string, opts: EndToEndOptions): Promise<CheckResult | undefined> {
  const base = { group: 'end-to-end' as const, id: '', subject: '' };
  if (res.json === undefined) {
    return fail({
      ...base,
      message: `${op} got HTTP ${res.status} with a non-JSON body (${res.contentType || 'no content type'}: ${JSON.stringify(res.text.slice(0, 80))})`,
      fix: 'something in front of the proxy answered (load balancer, reverse proxy, web server): route the XKS path to xks-proxy unchanged',
      kmsState: 'XKS_PROXY_INVALID_RESPONSE',
    });
  }
  if (res.status === 200) return undefined;
  const rawName = res.json.errorName ?? 'no errorName';
  const name = typeof rawName === 'string' ? rawName : JSON.stringify(rawName);
  const message = typeof res.json.errorMessage === 'string' ? `: ${res.json.errorMessage}` : '';
  const reason = await loggedReason(opts, ks, requestId);
  const seen = `${op} got HTTP ${res.status} ${name}${message} (kmsRequestId ${requestId})${reason !== undefined ? `; the proxy logged the reason: ${reason}` : ''}`;
  switch (name) {
    case 'AuthenticationFailedException':
      return fail({
        ...base,
        message: seen,
        fix:
          (reason !== undefined ? '' : `the proxy's log line with kmsRequestId ${requestId} says why (reason: sigv4 <why>): `) +
          `a credential that differs from the proxy's, clocks more than 5 minutes apart, region ${ks.region} not the key store's, or a proxy in front rewriting the Host header or path`,
        kmsState: 'INVALID_CREDENTIALS',
      });
    case 'InvalidUriPathException':
      return fail({
        ...base,
        message: seen,
        fix: `the proxy behind the endpoint does not serve ${uriPath(ks.prefix)}: check the prefix in its config and that nothing in front rewrites the path`,
        kmsState: 'XKS_PROXY_INVALID_CONFIGURATION',
      });
    case 'AccessDeniedException':
      return fail({
        ...base,
        message: seen,
        fix: 'the secondary authorization policy denies this call; the proxy log names the statement',
        kmsState: 'XKS_PROXY_ACCESS_DENIED',
      });
    case 'KeyNotFoundException':
    case 'InvalidKeyUsageException':
    case 'InvalidStateException':
      return fail({
        ...base,
        message: seen,
        fix: 'see the keys lines: the key must exist, allow ENCRYPT and DECRYPT and be enabled',
        kmsState: 'KMSInvalidStateException',
      });
    case 'DependencyTimeoutException':
    case 'ThrottlingException':
      return fail({ ...base, message: seen, fix: 'the key manager is too slow or overloaded; see the latency lines', kmsState: 'XKS_PROXY_TIMED_OUT' });
    default:
      return fail({
        ...base,
        message: seen,
        fix: `read the proxy log line with kmsRequestId ${requestId} (it has the detail the response leaves out)`,
        kmsState: res.status >= 500 ? 'XKS_PROXY_INVALID_RESPONSE' : 'XKS_PROXY_INVALID_CONFIGURATION',
      });
  }
}

async function transportFailure(id: string, subject: string, e: unknown, opts: EndToEndOptions): Promise<CheckResult> {
  const err = (e as { cause?: unknown }).cause ?? e;
  const code = String((err as NodeJS.ErrnoException).code ?? (e as NodeJS.ErrnoException).code ?? '');
  const text = errorText(err);
  if (/UND_ERR_SOCKET|ECONNRESET|EPIPE|ALERT_CERTIFICATE_REQUIRED|ALERT_HANDSHAKE_FAILURE|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA/.test(code)) {
    // A TLS 1.3 server that wants a client certificate closes the connection after the
    // handshake; HTTP clients only see "other side closed". Ask the TLS layer directly.
    const host = opts.endpoint.hostname.replace(/^\[|\]$/g, '');
    const port = opts.endpoint.port === '' ? 443 : Number(opts.endpoint.port);
    const mtls = await probeClientCertRequirement({ host, port, servername: host });
    if (mtls.verdict === 'required') {
      return opts.clientCertGiven === true
        ? fail({
            group: 'end-to-end',
            id,
            subject,
            message: `the endpoint requires a client certificate and refused the one given with --client-cert (${text})`,
            fix: 'use a client certificate issued by server.tls.mtls.clientCa with CN equal to clientSubjectCn; KMS presents its own, chained to Amazon Trust Services',
            kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
          })
        : skip({
            group: 'end-to-end',
            id,
            subject,
            message: `this endpoint requires a client certificate (${mtls.detail}) and none was given, so no request could be sent: ${CLIENT_CERT_FIX}`,
          });
    }
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH') {
    return fail({
      group: 'end-to-end',
      id,
      subject,
      message: `cannot connect: ${text}`,
      fix: 'publish the DNS name and open the port to KMS (internet or VPC endpoint service)',
      kmsState: 'XKS_PROXY_NOT_REACHABLE',
    });
  }
  if (/timeout|aborted/i.test(`${code} ${text}`)) {
    return fail({
      group: 'end-to-end',
      id,
      subject,
      message: `no answer in time: ${text}`,
      fix: 'check firewalls and the load balancer target health; KMS waits 250 ms',
      kmsState: 'XKS_PROXY_TIMED_OUT',
    });
  }
  if (/CERT|SELF_SIGNED|ALTNAME|UNABLE_TO|TLS|SSL/i.test(`${code} ${text}`)) {
    return fail({
      group: 'end-to-end',
      id,
      subject,
      message: `the TLS certificate was refused: ${text}`,
      fix: 'fix the tls lines above (a private CA can be trusted for this test with --ca)',
      kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION',
    });
  }
  return fail({
    group: 'end-to-end',
    id,
    subject,
    message: `request failed: ${text}`,
    fix: 'check that the endpoint is an HTTPS server that forwards to xks-proxy',
    kmsState: 'XKS_PROXY_NOT_REACHABLE',
  });
}

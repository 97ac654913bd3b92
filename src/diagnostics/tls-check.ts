import type { X509Certificate } from 'node:crypto';
import { fail, ok, skip, warn, errorText, type CheckResult } from './check-result.ts';
import { kmsTrustedCas } from './kms-trusted-cas.ts';
import { analyzeChain, daysLeft, publicRootStore, isSelfSigned, matchHostname, oneLineName, shortName, type ChainAnalysis } from './tls-chain.ts';
import { isClientCertAlert, isIpAddress, probeClientCertRequirement, probeTls, type TlsProbeResult, type TlsProbeTarget } from './tls-probe.ts';

/** KMS console state for every TLS problem (DescribeCustomKeyStores ConnectionErrorCode). */
const TLS_STATE = 'XKS_PROXY_INVALID_TLS_CONFIGURATION';

/** Warn this many days before the server certificate expires. */
export const EXPIRY_WARNING_DAYS = 30;

/**
 * The suites the spec lets KMS negotiate (spec "Transport": TLS 1.2 or later with at
 * least one of these); the doctor offers only them to see whether the server agrees.
 */
export const KMS_TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
/** The TLS 1.2 suites of the spec, as an OpenSSL cipher list. */
export const KMS_TLS12_CIPHERS = 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384';

/** What the TLS checks of one target need besides the address. */
export interface ServedTlsOptions {
  /** Shown as the subject of every line, e.g. `endpoint xks.example.com:443`. */
  label: string;
  /** Public host name KMS uses (XksProxyUriEndpoint); undefined skips the hostname check. */
  hostname?: string;
  /** Private roots given with --ca, so a complete private chain is told from a missing intermediate. */
  extraRoots?: readonly X509Certificate[];
  now?: Date;
}

/** The fix when a listener wants a client certificate the doctor was not given. */
export const CLIENT_CERT_FIX =
  'pass --client-cert and --client-key: a certificate the listener trusts (server.tls.mtls.clientCa) with the subject it requires (clientSubjectCn)';

/**
 * Connects to a TLS server the way KMS does and checks what it actually serves: handshake,
 * protocol and a KMS cipher suite, certificate expiry, host name, complete chain, and a root
 * on KMS's trusted list.
 */
export async function checkServedTls(target: TlsProbeTarget, opts: ServedTlsOptions): Promise<CheckResult[]> {
  const subject = opts.label;
  let probe: TlsProbeResult;
  try {
    probe = await probeTls(target);
  } catch (e) {
    return [handshakeFailure(subject, target, e)];
  }
  // Without a client certificate, ask whether the server wants one: then its TLS 1.2 refusals
  // (and every HTTP call) say nothing about what KMS, which presents one, will see.
  const mtls = target.clientCert === undefined ? await probeClientCertRequirement(target) : undefined;
  const certRequired = mtls?.verdict === 'required';
  const results: CheckResult[] = [
    ok({
      group: 'tls',
      id: 'tls.handshake',
      subject,
      message:
        `TLS handshake completed (${probe.protocol}, ${probe.cipher})` +
        (certRequired ? `; this endpoint requires a client certificate (${mtls.detail}) and none was given, so no request could be sent through it` : '') +
        (target.clientCert !== undefined ? '; with the client certificate given' : ''),
      data: { protocol: probe.protocol, cipher: probe.cipher, clientCertificateRequired: certRequired },
    }),
  ];
  results.push(await checkKmsSuites(target, subject, certRequired));
  if (probe.chain[0] === undefined) {
    results.push(
      fail({
        group: 'tls',
        id: 'tls.chain',
        subject,
        message: 'the server sent no certificate',
        fix: 'configure server.tls.cert and server.tls.key',
        kmsState: TLS_STATE,
      }),
    );
    return results;
  }
  results.push(...certificateChecks(probe.chain, subject, opts));
  return results;
}

/**
 * Expiry, host name, chain and trust of a certificate chain (leaf first, as sent or as in
 * the certificate file): what KMS checks before it sends any request.
 */
export function certificateChecks(sent: readonly X509Certificate[], subject: string, opts: Omit<ServedTlsOptions, 'label'>): CheckResult[] {
  const chain = analyzeChain(sent, { extraRoots: opts.extraRoots ?? [] });
  const leaf = sent[0]!;
  return [
    checkExpiry(chain, subject, opts.now ?? new Date()),
    checkHostname(leaf, subject, opts.hostname),
    checkChain(chain, subject),
    checkTrust(chain, subject),
  ];
}

function handshakeFailure(subject: string, target: TlsProbeTarget, e: unknown): CheckResult {
  const code = (e as NodeJS.ErrnoException).code;
  const text = errorText(e);
  const where = `${target.host}:${target.port}`;
  if (code === 'ECONNREFUSED') {
    return fail({
      group: 'tls',
      id: 'tls.handshake',
      subject,
      message: `nothing accepts connections at ${where}`,
      fix: 'start the proxy (xks-proxy serve) or correct the host and port',
      kmsState: 'XKS_PROXY_NOT_REACHABLE',
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return fail({
      group: 'tls',
      id: 'tls.handshake',
      subject,
      message: `the name ${target.host} does not resolve (${code})`,
      fix: 'publish a DNS record for the proxy endpoint or correct XksProxyUriEndpoint',
      kmsState: 'XKS_PROXY_NOT_REACHABLE',
    });
  }
  if (code === 'ETIMEDOUT') {
    return fail({
      group: 'tls',
      id: 'tls.handshake',
      subject,
      message: text,
      fix: 'open the firewall / security group for TCP to this port and check the route from the internet or the VPC endpoint',
      kmsState: 'XKS_PROXY_TIMED_OUT',
    });
  }
  if (isClientCertAlert(e)) {
    // Not a problem KMS would have (it presents its certificate); the doctor could not look.
    return target.clientCert === undefined
      ? skip({
          group: 'tls',
          id: 'tls.handshake',
          subject,
          message: `this endpoint requires a client certificate (${text.split('\n')[0]}); none was given, so its TLS could not be checked: ${CLIENT_CERT_FIX}`,
        })
      : skip({
          group: 'tls',
          id: 'tls.handshake',
          subject,
          message: `the endpoint refused the client certificate given with --client-cert (${text.split('\n')[0]}), so its TLS could not be checked; KMS presents its own`,
        });
  }
  const versionProblem = /version|protocol/i.test(text);
  return fail({
    group: 'tls',
    id: 'tls.handshake',
    subject,
    message: `TLS handshake failed: ${text}`,
    fix: versionProblem
      ? 'enable TLS 1.2 or 1.3 on the server; KMS does not speak older versions'
      : 'check that this port serves TLS (not plain HTTP) with a certificate and key that belong together',
    kmsState: TLS_STATE,
  });
}

/** Offers only the spec's suites, TLS 1.3 and TLS 1.2 separately. */
async function checkKmsSuites(target: TlsProbeTarget, subject: string, certRequired: boolean): Promise<CheckResult> {
  const accepted: string[] = [];
  const refused: string[] = [];
  const untested: string[] = [];
  for (const offer of [
    { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphersuites: KMS_TLS13_SUITES },
    { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: KMS_TLS12_CIPHERS },
  ] as const) {
    try {
      const res = await probeTls(target, offer);
      accepted.push(`${res.protocol} ${res.cipher}`);
    } catch (e) {
      // A TLS 1.2 server that wants a client certificate aborts the handshake without one
      // (an alert), or, like xks-proxy, resets the connection as the handshake completes.
      if (certRequired && (isClientCertAlert(e) || (e as NodeJS.ErrnoException).code === 'ECONNRESET')) untested.push(offer.minVersion);
      else refused.push(`${offer.minVersion}: ${errorText(e).split(':').slice(-1)[0]?.trim() ?? 'refused'}`);
    }
  }
  const notTested = untested.length > 0 ? `; ${untested.join(', ')} not tested: the server requires a client certificate (${CLIENT_CERT_FIX})` : '';
  if (accepted.length === 0 && refused.length === 0) {
    return skip({ group: 'tls', id: 'tls.protocol', subject, message: `the KMS cipher suites could not be tested${notTested}` });
  }
  if (accepted.length === 0) {
    return fail({
      group: 'tls',
      id: 'tls.protocol',
      subject,
      message: `the server accepts none of the suites KMS offers (${refused.join('; ')})`,
      fix: 'allow TLS 1.3 with TLS_AES_256_GCM_SHA384 or TLS 1.2 with ECDHE-RSA/ECDSA-AES256-GCM-SHA384',
      kmsState: TLS_STATE,
      data: { refused },
    });
  }
  return ok({
    group: 'tls',
    id: 'tls.protocol',
    subject,
    message: `KMS cipher suites accepted: ${accepted.join(', ')}${notTested}`,
    data: { accepted, untested },
  });
}

function checkExpiry(chain: ChainAnalysis, subject: string, now: Date): CheckResult {
  const leaf = chain.path[0]!;
  const days = daysLeft(leaf, now);
  const data = { notAfter: new Date(leaf.validTo).toISOString(), daysLeft: days };
  if (Date.parse(leaf.validFrom) > now.getTime()) {
    return fail({
      group: 'tls',
      id: 'tls.expiry',
      subject,
      message: `the certificate is not valid before ${leaf.validFrom}`,
      fix: 'check the system clock of the machine that issued it, or wait until it becomes valid',
      kmsState: TLS_STATE,
      data,
    });
  }
  if (days < 0 || Date.parse(leaf.validTo) <= now.getTime()) {
    return fail({
      group: 'tls',
      id: 'tls.expiry',
      subject,
      message: `the certificate expired on ${leaf.validTo} (${plural(-days, 'day')} ago)`,
      fix: 'renew the certificate and reload the proxy (or the load balancer that serves it)',
      kmsState: TLS_STATE,
      data,
    });
  }
  const expiredIssuer = chain.path.slice(1).find((c) => Date.parse(c.validTo) <= now.getTime());
  if (expiredIssuer !== undefined) {
    return fail({
      group: 'tls',
      id: 'tls.expiry',
      subject,
      message: `issuer ${oneLineName(expiredIssuer.subject)} expired on ${expiredIssuer.validTo}`,
      fix: 'serve the current intermediate certificate from your CA instead of the expired one',
      kmsState: TLS_STATE,
      data,
    });
  }
  if (days < EXPIRY_WARNING_DAYS) {
    return warn({
      group: 'tls',
      id: 'tls.expiry',
      subject,
      message: `the certificate expires in ${plural(days, 'day')} (${leaf.validTo})`,
      fix: 'renew it now; KMS marks the key store FAILED the moment it expires',
      kmsState: TLS_STATE,
      data,
    });
  }
  return ok({ group: 'tls', id: 'tls.expiry', subject, message: `the certificate is valid for ${plural(days, 'more day')} (until ${leaf.validTo})`, data });
}

function checkHostname(leaf: X509Certificate, subject: string, hostname: string | undefined): CheckResult {
  if (hostname === undefined) {
    return skip({
      group: 'tls',
      id: 'tls.hostname',
      subject,
      message: 'no public host name to compare with; pass --endpoint https://<name> or --hostname <name>',
    });
  }
  const names = leaf.subjectAltName ?? '(no subjectAltName)';
  if (isIpAddress(hostname)) {
    // KMS takes XksProxyUriEndpoint as https://<DNS name>; a certificate for the IP would not help.
    return fail({
      group: 'tls',
      id: 'tls.hostname',
      subject,
      message: `${hostname} is an IP address: XksProxyUriEndpoint must be a DNS name, KMS does not accept an IP address`,
      fix: 'publish a DNS name for the proxy (or use the private DNS name of a VPC endpoint service), get a certificate for it, and run the doctor with --endpoint https://<that name>',
      kmsState: 'XKS_PROXY_INVALID_CONFIGURATION',
      data: { hostname, names },
    });
  }
  const match = matchHostname(leaf, hostname);
  if (match.kind === 'san')
    return ok({ group: 'tls', id: 'tls.hostname', subject, message: `${hostname} matches ${match.name} in the certificate`, data: { hostname, names } });
  if (match.kind === 'cn-only') {
    // KMS, like every current TLS client, checks only the subjectAltName (RFC 6125 6.4.4).
    return fail({
      group: 'tls',
      id: 'tls.hostname',
      subject,
      message: `${hostname} is only the subject CN; the certificate has ${names}, and KMS checks the subjectAltName only, so it refuses this certificate`,
      fix: `reissue the certificate with subjectAltName DNS:${hostname}`,
      kmsState: TLS_STATE,
      data: { hostname, names },
    });
  }
  return fail({
    group: 'tls',
    id: 'tls.hostname',
    subject,
    message: `${hostname} is not a name of the certificate (${names}; subject ${oneLineName(leaf.subject)}); a wildcard covers exactly one label`,
    fix: `get a certificate whose subjectAltName includes DNS:${hostname}, or set XksProxyUriEndpoint to a name the certificate has`,
    kmsState: TLS_STATE,
    data: { hostname, names },
  });
}

/**
 * True when the served path ends at an intermediate whose issuer is nowhere to be found:
 * roots are normally not sent, so that issuer is a root KMS does not have (a private CA),
 * not a missing intermediate (a public intermediate's issuer is a public root).
 */
function endsAtUnknownRoot(chain: ChainAnalysis): boolean {
  if (chain.complete || chain.path.length < 2) return false;
  return !publicRootStore().some((root) => oneLineName(root.subject) === chain.missingIssuer);
}

function checkChain(chain: ChainAnalysis, subject: string): CheckResult {
  const names = chain.path.map(shortName).join(' -> ');
  const unused = chain.unused.length > 0 ? `; ${chain.unused.length} sent certificate(s) not on the path` : '';
  if (endsAtUnknownRoot(chain)) {
    return skip({
      group: 'tls',
      id: 'tls.chain',
      subject,
      message: `the server sends ${names}; their issuer ${chain.missingIssuer} is not sent (normal for a root) and is no public root, so the path cannot be followed further (pass --ca with its PEM to check up to it)${unused}`,
    });
  }
  if (!chain.complete) {
    return fail({
      group: 'tls',
      id: 'tls.chain',
      subject,
      message: `the chain stops at ${names}: the server does not send the certificate of its issuer ${chain.missingIssuer}${unused}`,
      fix: 'put the leaf certificate followed by every intermediate in server.tls.cert (a full-chain PEM); if the issuer is a private CA, KMS cannot trust it either',
      kmsState: TLS_STATE,
    });
  }
  const source =
    chain.rootSource === 'sent' ? 'root sent by the server' : chain.rootSource === 'public-store' ? 'root from the public store' : 'root from --ca';
  return ok({ group: 'tls', id: 'tls.chain', subject, message: `complete chain: ${names} (${source})${unused}` });
}

/** What to do about a certificate KMS does not trust. */
const UNTRUSTED_FIX =
  "use a certificate from a public CA on KMS's list for this name, or terminate TLS at the NLB of a VPC endpoint service with a public (e.g. ACM) certificate for its private DNS name";

function checkTrust(chain: ChainAnalysis, subject: string): CheckResult {
  const list = kmsTrustedCas();
  if (chain.kmsTrusted !== undefined) {
    return ok({ group: 'tls', id: 'tls.trust', subject, message: `chains to ${chain.kmsTrusted.subject}, on KMS's trusted CA list (dated ${list.listDate})` });
  }
  if (endsAtUnknownRoot(chain)) {
    return fail({
      group: 'tls',
      id: 'tls.trust',
      subject,
      message: `the certificate chains to ${chain.missingIssuer}, a CA that is not on KMS's trusted list (a private CA): KMS does not trust it, whether it connects over the internet or a VPC endpoint service`,
      fix: UNTRUSTED_FIX,
      kmsState: TLS_STATE,
    });
  }
  if (!chain.complete) {
    // Whether the issuer is a missing intermediate or a private CA, KMS finds no trusted root.
    return fail({
      group: 'tls',
      id: 'tls.trust',
      subject,
      message: `the certificate is issued by ${chain.missingIssuer}, which is not a CA on KMS's trusted list, and no certificate sent leads from it to one`,
      fix: `send the intermediates up to a root on KMS's list (see the chain line); if ${chain.missingIssuer} is a private CA, ${UNTRUSTED_FIX}`,
      kmsState: TLS_STATE,
    });
  }
  const leaf = chain.path[0]!;
  const root = chain.root!;
  const explanation = UNTRUSTED_FIX;
  if (chain.path.length === 1 && isSelfSigned(leaf)) {
    return fail({
      group: 'tls',
      id: 'tls.trust',
      subject,
      message: 'the certificate is self-signed; KMS only trusts certificates issued by the public CAs on its list',
      fix: explanation,
      kmsState: TLS_STATE,
    });
  }
  if (chain.rootSource === 'public-store') {
    return warn({
      group: 'tls',
      id: 'tls.trust',
      subject,
      message: `the root ${oneLineName(root.subject)} is public but not on the KMS list shipped here (dated ${list.listDate})`,
      fix: `check the current list at ${list.source}; if the root is not there, get a certificate from a CA that is`,
      kmsState: TLS_STATE,
    });
  }
  return fail({
    group: 'tls',
    id: 'tls.trust',
    subject,
    message: `the certificate chains to the private CA ${oneLineName(root.subject)}; KMS does not trust private CAs, whether it connects over the internet or a VPC endpoint service`,
    fix: explanation,
    kmsState: TLS_STATE,
  });
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** HTTPS: TLS versions, cipher suites, HTTP/1.1 and HTTP/2, mTLS (spec "API content type", Authentication). */
import type { CheckDefinition, CheckContext } from '../check.ts';
import { fail, skip } from '../check.ts';
import { expectSuccess } from '../expect-answer.ts';
import { HttpClient } from '../http-client.ts';
import { http2Post } from '../http2-call.ts';
import type { ConformanceTls } from '../options.ts';
import { healthMetadata } from '../request-bodies.ts';
import { probeTls } from '../tls-probe.ts';
import { makeExpiredClientCert, makeUntrustedClientCert } from '../untrusted-client-cert.ts';
import { XksClient } from '../xks-client.ts';

const GROUP = 'tls';
const SPEC_TRANSPORT = 'API content type';
const TLS13_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
const TLS12_SUITES = ['ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384'];
const TLS12_STANDARD: Record<string, string> = {
  'ECDHE-RSA-AES256-GCM-SHA384': 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'ECDHE-ECDSA-AES256-GCM-SHA384': 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
};

function httpsOnly(ctx: CheckContext): void {
  if (!ctx.options.endpoint.startsWith('https:')) skip('endpoint is not https');
}

/** Sends a health call with different client TLS material; resolves the error code if the connection fails. */
async function healthWithTls(ctx: CheckContext, tls: ConformanceTls): Promise<{ status: number } | { error: string }> {
  const http = new HttpClient(ctx.options.endpoint, { tls, timeoutMs: ctx.options.requestTimeoutMs, connections: 1 });
  try {
    const a = await new XksClient(http, ctx.options).health();
    return { status: a.status };
  } catch (e) {
    const err = e as Error & { code?: string; cause?: { code?: string } };
    return { error: err.cause?.code ?? err.code ?? err.message };
  } finally {
    await http.close().catch(() => undefined);
  }
}

/** Fails unless the configured client certificate gets an answer: else a refusal proves nothing. */
async function configuredClientAnswered(ctx: CheckContext): Promise<void> {
  const r = await healthWithTls(ctx, ctx.options.tls);
  if ('error' in r) fail(`the configured client certificate gets no answer either (${r.error}), so a refusal would prove nothing`);
}

/** Checks of the HTTPS transport; skipped for http endpoints. */
export const tlsChecks: CheckDefinition[] = [
  {
    id: 'tls.version',
    group: GROUP,
    title: 'the handshake negotiates TLS 1.2 or later',
    spec: SPEC_TRANSPORT,
    level: 'MUST',
    async run(ctx) {
      httpsOnly(ctx);
      const r = await probeTls(ctx.options.endpoint, ctx.options.tls);
      if (!r.ok) fail(`TLS handshake failed: ${r.error}`);
      if (r.protocol !== 'TLSv1.2' && r.protocol !== 'TLSv1.3') fail(`negotiated ${r.protocol}`);
      return `${r.protocol} ${r.cipher}`;
    },
  },
  {
    id: 'tls.legacy-refused',
    group: GROUP,
    title: 'TLS 1.0 and TLS 1.1 handshakes are refused',
    spec: SPEC_TRANSPORT,
    level: 'SHOULD',
    async run(ctx) {
      httpsOnly(ctx);
      for (const v of ['TLSv1', 'TLSv1.1'] as const) {
        // SECLEVEL=0 lets this client offer the old protocol at all (OpenSSL 3 refuses by default).
        const r = await probeTls(ctx.options.endpoint, ctx.options.tls, { minVersion: v, maxVersion: v, ciphers: 'DEFAULT@SECLEVEL=0' });
        if (r.ok) fail(`the server completed a ${r.protocol} handshake`);
      }
    },
  },
  {
    id: 'tls.cipher-suite',
    group: GROUP,
    title: 'at least one of the four cipher suites the spec lists can be negotiated',
    spec: SPEC_TRANSPORT,
    level: 'MUST',
    async run(ctx) {
      httpsOnly(ctx);
      const agreed: string[] = [];
      const r13 = await probeTls(ctx.options.endpoint, ctx.options.tls, { minVersion: 'TLSv1.3', ciphers: TLS13_SUITES.join(':') });
      if (r13.ok && TLS13_SUITES.includes(r13.cipher)) agreed.push(`TLSv1.3 ${r13.cipher}`);
      const r12 = await probeTls(ctx.options.endpoint, ctx.options.tls, { maxVersion: 'TLSv1.2', ciphers: TLS12_SUITES.join(':') });
      if (r12.ok && Object.values(TLS12_STANDARD).includes(r12.cipher)) agreed.push(`TLSv1.2 ${r12.cipher}`);
      if (agreed.length === 0) fail(`none of ${[...TLS13_SUITES, ...Object.values(TLS12_STANDARD)].join(', ')} was accepted`);
      return agreed.join('; ');
    },
  },
  {
    id: 'tls.http1',
    group: GROUP,
    title: 'a client that offers only HTTP/1.1 (ALPN) is served over HTTP/1.1',
    spec: SPEC_TRANSPORT,
    level: 'MUST',
    async run(ctx) {
      httpsOnly(ctx);
      const r = await probeTls(ctx.options.endpoint, ctx.options.tls, { alpn: ['http/1.1'] });
      if (!r.ok) fail(`TLS handshake offering only http/1.1 failed: ${r.error}`);
      if (r.alpn !== false && r.alpn !== 'http/1.1') fail(`server selected ALPN ${r.alpn}`);
      expectSuccess(await ctx.client.health(), 'health over HTTP/1.1');
    },
  },
  {
    id: 'tls.http2',
    group: GROUP,
    title: 'when the server offers h2, a signed call over HTTP/2 (with :authority) works',
    spec: `${SPEC_TRANSPORT}; Appendix A (HTTP/2 :authority)`,
    level: 'SHOULD',
    async run(ctx) {
      httpsOnly(ctx);
      const r = await probeTls(ctx.options.endpoint, ctx.options.tls, { alpn: ['h2', 'http/1.1'] });
      if (!r.ok) fail(`TLS handshake failed: ${r.error}`);
      if (r.alpn !== 'h2') return 'h2 not offered; HTTP/1.1 only';
      const a = await http2Post(ctx.options, ctx.client.path('health'), JSON.stringify({ requestMetadata: healthMetadata() }));
      if (a.status !== 200) fail(`health over HTTP/2 answered ${a.status} ${a.text.slice(0, 120)}`);
      return 'health over HTTP/2 answered 200';
    },
  },
  {
    id: 'tls.mtls-no-client-cert',
    group: GROUP,
    title: 'with mTLS, a client without a certificate gets no answer (the handshake is refused)',
    spec: 'Authentication (mTLS)',
    level: 'MUST',
    async run(ctx) {
      httpsOnly(ctx);
      if (!ctx.options.tls.cert) skip('no client certificate given (--cert), mTLS not tested');
      await configuredClientAnswered(ctx);
      const r = await healthWithTls(ctx, { ...ctx.options.tls, cert: undefined, key: undefined });
      if ('status' in r) fail(`a client without a certificate got HTTP ${r.status}`);
      return `refused: ${r.error}`;
    },
  },
  {
    id: 'tls.mtls-untrusted-cert',
    group: GROUP,
    title: 'with mTLS, a self-signed client certificate (right CN, wrong chain) is refused',
    spec: 'Authentication (mTLS: MUST terminate the handshake)',
    level: 'MUST',
    async run(ctx) {
      httpsOnly(ctx);
      if (!ctx.options.tls.cert) skip('no client certificate given (--cert), mTLS not tested');
      const pair = await makeUntrustedClientCert(ctx.options.region);
      if (!pair) skip('openssl not found: cannot make an untrusted client certificate');
      await configuredClientAnswered(ctx);
      const r = await healthWithTls(ctx, { ...ctx.options.tls, ...pair });
      if ('status' in r) fail(`a self-signed client certificate got HTTP ${r.status}`);
      return `refused: ${r.error}`;
    },
  },
  {
    id: 'tls.mtls-expired-cert',
    group: GROUP,
    title: 'with mTLS, an expired client certificate is refused (with --expired-cert: one issued by the trusted CA)',
    spec: 'Authentication (mTLS: MUST terminate the handshake); AWS test client (test_negative_mtls)',
    level: 'MUST',
    async run(ctx) {
      httpsOnly(ctx);
      if (!ctx.options.tls.cert) skip('no client certificate given (--cert), mTLS not tested');
      const t = ctx.options.tls;
      const supplied = t.expiredCert !== undefined && t.expiredKey !== undefined;
      const pair = supplied ? { cert: t.expiredCert, key: t.expiredKey } : await makeExpiredClientCert(ctx.options.region);
      if (!pair) skip('openssl not found: cannot make an expired client certificate');
      await configuredClientAnswered(ctx);
      const r = await healthWithTls(ctx, { ...t, ...pair });
      const which = supplied ? 'the expired certificate given with --expired-cert' : 'an expired certificate of a throwaway CA';
      if ('status' in r) fail(`${which} got HTTP ${r.status}`);
      return `${which} refused: ${r.error}`;
    },
  },
];

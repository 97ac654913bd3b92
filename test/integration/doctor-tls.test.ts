import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../src/config/load-config.ts';
import type { CheckResult } from '../../src/diagnostics/check-result.ts';
import { runDoctor } from '../../src/diagnostics/run-doctor.ts';
import { startProxy, type RunningProxy } from '../../src/composition/start-proxy.ts';
import { createSoftwareFixture, softwareConfig, type SoftwareFixture } from '../support/software-tenant.ts';
import { createTestPki } from '../support/tls-certs.ts';
import { createBrokenPki, type BrokenPki } from '../unit/diagnostics/support/broken-pki.ts';

let pki: BrokenPki;
let fx: SoftwareFixture;
let configCount = 0;

beforeAll(async () => {
  pki = createBrokenPki();
  fx = await createSoftwareFixture();
});
afterAll(async () => {
  await fx?.cleanup();
  pki?.cleanup();
});

/** Writes a config whose listener serves `cert`/`key` (port 0: nothing runs there). */
function writeConfig(tls: Record<string, unknown> | undefined, region = 'us-east-1'): string {
  const raw = softwareConfig(fx.keystorePath, fx.kekHex, { server: { host: '127.0.0.1', port: 0, ...(tls ? { tls } : {}) } }) as {
    keyStores: Array<Record<string, unknown>>;
  };
  raw.keyStores[0]!.region = region;
  const file = join(fx.dir, `doctor-tls-${++configCount}.yaml`);
  writeFileSync(file, stringify(raw));
  return file;
}

const TLS_ONLY = { skip: ['credentials', 'keys', 'latency', 'end-to-end', 'clock'] as const, env: {} };

async function doctorTls(
  configPath: string,
  extra: { hostname?: string; listener?: string; caFiles?: string[]; clientCert?: string; clientKey?: string } = {},
) {
  const report = await runDoctor({ configPath, ...TLS_ONLY, skip: [...TLS_ONLY.skip], ...extra });
  const line = (id: string): CheckResult => {
    const found = report.checks.find((c) => c.id === id);
    if (found === undefined) throw new Error(`no ${id} line in ${JSON.stringify(report.checks, null, 1)}`);
    return found;
  };
  return { report, line };
}

/** Runs the real proxy on a loopback port with the given certificate, for the doctor to connect to. */
async function withRunningProxy<T>(configPath: string, run: (listener: string) => Promise<T>): Promise<T> {
  const proxy: RunningProxy = await startProxy(await loadConfigFile(configPath), { logger: pino({ level: 'silent' }) });
  try {
    return await run(`127.0.0.1:${proxy.listener.address.port}`);
  } finally {
    await proxy.close();
  }
}

describe('doctor TLS checks against a running listener', () => {
  it('fails an expired self-signed certificate on expiry and on trust, and exits non-zero', async () => {
    const config = writeConfig({ cert: pki.expiredCert, key: pki.expiredKey });
    const { report, line } = await withRunningProxy(config, (listener) => doctorTls(config, { listener, hostname: 'expired.doctor.test' }));
    expect(line('tls.handshake').level).toBe('ok');
    expect(line('tls.handshake').message).not.toContain('temporary');
    expect(line('tls.expiry')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION' });
    expect(line('tls.expiry').message).toMatch(/expired on Feb +1 00:00:00 2020 GMT/);
    expect(line('tls.trust').level).toBe('fail');
    expect(line('tls.trust').message).toContain('self-signed');
    expect(line('tls.hostname').level).toBe('ok');
    expect(report.ok).toBe(false);
  });

  it('fails a chain that misses its intermediate and names the missing issuer', async () => {
    const config = writeConfig({ cert: pki.leafOnly, key: pki.leafKey });
    const { line } = await withRunningProxy(config, (listener) => doctorTls(config, { listener, hostname: 'xks.doctor.test', caFiles: [pki.rootCert] }));
    expect(line('tls.chain').level).toBe('fail');
    expect(line('tls.chain').message).toContain('Doctor Test Intermediate');
    expect(line('tls.chain').fix).toContain('full-chain');
    // KMS finds no trusted root either way: a failure, not "cannot tell".
    expect(line('tls.trust').level).toBe('fail');
    expect(line('tls.trust').message).toContain('Doctor Test Intermediate');
  });

  it('says a private root given without --ca is a CA KMS does not trust, not a broken chain', async () => {
    const config = writeConfig({ cert: pki.fullChain, key: pki.leafKey });
    const { line, report } = await withRunningProxy(config, (listener) => doctorTls(config, { listener, hostname: 'xks.doctor.test' }));
    expect(line('tls.trust')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION' });
    expect(line('tls.trust').message).toMatch(/the certificate chains to .*CN=Doctor Test Root/);
    expect(line('tls.trust').message).toContain("not on KMS's trusted list");
    expect(line('tls.chain').level).not.toBe('fail');
    expect(line('tls.chain').message).toContain('--ca');
    expect(report.ok).toBe(false);
  });

  it('fails a certificate whose only name is its CN: KMS checks the subjectAltName', async () => {
    const config = writeConfig({ cert: pki.cnOnlyChain, key: pki.cnOnlyKey });
    const { line, report } = await withRunningProxy(config, (listener) =>
      doctorTls(config, { listener, hostname: 'cn-only.doctor.test', caFiles: [pki.rootCert] }),
    );
    expect(line('tls.hostname')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_INVALID_TLS_CONFIGURATION' });
    expect(line('tls.hostname').message).toContain('only the subject CN');
    expect(line('tls.hostname').fix).toContain('subjectAltName DNS:cn-only.doctor.test');
    expect(report.ok).toBe(false);
  });

  it('fails a host name that is an IP address: KMS needs a DNS name, whatever the certificate says', async () => {
    const config = writeConfig({ cert: pki.fullChain, key: pki.leafKey });
    // The leaf even has IP:127.0.0.1; the endpoint still must be a DNS name.
    const { line } = await withRunningProxy(config, (listener) => doctorTls(config, { listener, hostname: '127.0.0.1', caFiles: [pki.rootCert] }));
    expect(line('tls.hostname').level).toBe('fail');
    expect(line('tls.hostname').message).toContain('must be a DNS name');
    expect(line('tls.hostname').fix).not.toContain('DNS:127.0.0.1');
  });

  it('accepts the complete chain but fails its private root with the explanation', async () => {
    const config = writeConfig({ cert: pki.fullChain, key: pki.leafKey });
    const { line } = await withRunningProxy(config, (listener) => doctorTls(config, { listener, hostname: 'xks.doctor.test', caFiles: [pki.rootCert] }));
    expect(line('tls.chain')).toMatchObject({ level: 'ok' });
    expect(line('tls.chain').message).toContain('Doctor Test Intermediate');
    expect(line('tls.trust').level).toBe('fail');
    expect(line('tls.trust').message).toContain('private CA');
    expect(line('tls.trust').fix).toContain('VPC endpoint service');
    expect(line('tls.expiry').level).toBe('ok');
    expect(line('tls.protocol').message).toContain('TLS_AES_256_GCM_SHA384');
  });

  it('fails a host name the certificate does not carry, and accepts one its wildcard covers', async () => {
    const config = writeConfig({ cert: pki.fullChain, key: pki.leafKey });
    await withRunningProxy(config, async (listener) => {
      const wrong = await doctorTls(config, { listener, hostname: 'kms-proxy.example.com' });
      expect(wrong.line('tls.hostname').level).toBe('fail');
      expect(wrong.line('tls.hostname').message).toContain('DNS:*.wild.doctor.test');
      const deep = await doctorTls(config, { listener, hostname: 'a.b.wild.doctor.test' });
      expect(deep.line('tls.hostname').level).toBe('fail');
      const wildcard = await doctorTls(config, { listener, hostname: 'eu-west-1.wild.doctor.test' });
      expect(wildcard.line('tls.hostname').level).toBe('ok');
    });
  });
});

describe('doctor TLS checks against a running mTLS listener', () => {
  it('connects to the running listener itself when given a client certificate', async () => {
    const mtlsPki = createTestPki();
    try {
      const config = writeConfig({
        cert: pki.fullChain,
        key: pki.leafKey,
        mtls: { clientCa: mtlsPki.caCert, clientSubjectCn: 'cks.kms.us-east-1.amazonaws.com' },
      });
      const { line } = await withRunningProxy(config, (listener) =>
        doctorTls(config, { listener, hostname: 'xks.doctor.test', clientCert: mtlsPki.clientCert, clientKey: mtlsPki.clientKey }),
      );
      expect(line('tls.handshake').level).toBe('ok');
      expect(line('tls.handshake').message).not.toContain('temporary');
      expect(line('tls.protocol').message).toContain('TLSv1.2');
      expect(line('tls.mtls-subject').level).toBe('ok');
    } finally {
      mtlsPki.cleanup();
    }
  });

  it('checks the running mTLS listener without a client certificate and says it requires one, without blaming TLS 1.2', async () => {
    const mtlsPki = createTestPki();
    try {
      const config = writeConfig({
        cert: pki.fullChain,
        key: pki.leafKey,
        mtls: { clientCa: mtlsPki.caCert, clientSubjectCn: 'cks.kms.us-east-1.amazonaws.com' },
      });
      const { line } = await withRunningProxy(config, (listener) => doctorTls(config, { listener, hostname: 'xks.doctor.test', caFiles: [pki.rootCert] }));
      expect(line('tls.handshake').level).toBe('ok');
      expect(line('tls.handshake').message).toContain('this endpoint requires a client certificate');
      expect(line('tls.protocol').level).toBe('ok');
      expect(line('tls.protocol').message).toContain('TLSv1.2 not tested: the server requires a client certificate');
      expect(line('tls.expiry').level).toBe('ok');
    } finally {
      mtlsPki.cleanup();
    }
  });
});

/** A loopback port nothing listens on (taken from the OS, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('doctor TLS checks without a running proxy', () => {
  it('fails when nothing listens on the configured address, checks the certificate files instead, and opens no port of its own', async () => {
    const port = await freePort();
    const config = writeConfig({ cert: pki.soonChain, key: pki.soonKey });
    const listen = vi.spyOn(net.Server.prototype, 'listen');
    try {
      const { line, report } = await doctorTls(config, { hostname: 'xks.doctor.test', listener: `127.0.0.1:${port}` });
      expect(line('tls.handshake')).toMatchObject({ level: 'fail', kmsState: 'XKS_PROXY_NOT_REACHABLE' });
      expect(line('tls.handshake').message).toContain(`nothing accepts connections at 127.0.0.1:${port}`);
      expect(line('tls.handshake').fix).toContain('xks-proxy serve');
      expect(line('tls.files')).toMatchObject({ level: 'ok', message: expect.stringContaining('belongs to the certificate') });
      expect(line('tls.expiry')).toMatchObject({ level: 'warn', subject: expect.stringContaining('(file; not served)') });
      expect(line('tls.expiry').message).toMatch(/expires in (9|10) days/);
      expect(report.checks.some((c) => c.id === 'tls.protocol')).toBe(false);
      expect(report.ok).toBe(false);
      expect(listen).not.toHaveBeenCalled();
    } finally {
      listen.mockRestore();
    }
  });

  it('fails a key file that does not belong to the certificate when nothing serves them', async () => {
    const { line } = await doctorTls(writeConfig({ cert: pki.fullChain, key: pki.soonKey }), { hostname: 'xks.doctor.test' });
    expect(line('tls.files')).toMatchObject({ level: 'fail', message: expect.stringContaining('does not match server.tls.cert') });
  });

  it('fails an mTLS setup that would refuse KMS: wrong region in the subject and a private client CA', async () => {
    const config = writeConfig(
      { cert: pki.fullChain, key: pki.leafKey, mtls: { clientCa: pki.rootCert, clientSubjectCn: 'cks.kms.us-east-1.amazonaws.com' } },
      'eu-west-1',
    );
    const { line } = await doctorTls(config, { hostname: 'xks.doctor.test' });
    expect(line('tls.mtls-subject').level).toBe('fail');
    expect(line('tls.mtls-subject').fix).toContain('cks.kms.eu-west-1.amazonaws.com');
    expect(line('tls.mtls-ca').level).toBe('fail');
    expect(line('tls.mtls-ca').message).toContain('Doctor Test Root');
    expect(line('tls.handshake').level).toBe('fail');
  });

  it('warns that a plain HTTP listener cannot serve KMS unless TLS is checked at the endpoint', async () => {
    const { line } = await doctorTls(writeConfig(undefined));
    expect(line('tls.listener').level).toBe('warn');
    expect(line('tls.listener').fix).toContain('--endpoint');
  });

  it('fails a certificate file that does not exist, naming the fix', async () => {
    const { line } = await doctorTls(writeConfig({ cert: join(pki.dir, 'missing.crt'), key: pki.leafKey }));
    expect(line('tls.handshake').level).toBe('fail');
    expect(line('tls.files').level).toBe('fail');
    expect(line('tls.files').fix).toContain('server.tls.cert');
  });
});

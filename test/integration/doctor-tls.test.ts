import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load-config.ts';
import type { CheckResult } from '../../src/diagnostics/check-result.ts';
import { runDoctor } from '../../src/diagnostics/run-doctor.ts';
import { startProxy, type RunningProxy } from '../../src/server/start-proxy.ts';
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
  const raw = softwareConfig(fx.keystorePath, fx.kekHex, { server: { host: '127.0.0.1', port: 0, ...(tls ? { tls } : {}) } }) as { keyStores: Array<Record<string, unknown>> };
  raw.keyStores[0]!.region = region;
  const file = join(fx.dir, `doctor-tls-${++configCount}.yaml`);
  writeFileSync(file, stringify(raw));
  return file;
}

const TLS_ONLY = { skip: ['credentials', 'keys', 'latency', 'end-to-end', 'clock'] as const, env: {} };

async function doctorTls(configPath: string, extra: { hostname?: string; listener?: string; caFiles?: string[]; clientCert?: string; clientKey?: string } = {}) {
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
    expect(line('tls.trust').level).toBe('skip');
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
});

describe('doctor TLS checks without a running proxy', () => {
  it('serves the configured certificate on a temporary port and says so', async () => {
    const { line } = await doctorTls(writeConfig({ cert: pki.soonChain, key: pki.soonKey }), { hostname: 'xks.doctor.test' });
    expect(line('tls.handshake').message).toContain('nothing runs at 127.0.0.1:0');
    expect(line('tls.expiry').level).toBe('warn');
    expect(line('tls.expiry').message).toMatch(/expires in (9|10) days/);
  });

  it('warns when the host name matches only the subject CN', async () => {
    const { line } = await doctorTls(writeConfig({ cert: pki.cnOnlyChain, key: pki.cnOnlyKey }), { hostname: 'cn-only.doctor.test' });
    expect(line('tls.hostname').level).toBe('warn');
    expect(line('tls.hostname').fix).toContain('subjectAltName');
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
    expect(line('tls.handshake').message).toContain('temporary copy without mTLS');
  });

  it('warns that a plain HTTP listener cannot serve KMS unless TLS is checked at the endpoint', async () => {
    const { line } = await doctorTls(writeConfig(undefined));
    expect(line('tls.listener').level).toBe('warn');
    expect(line('tls.listener').fix).toContain('--endpoint');
  });

  it('fails a certificate file that does not exist, naming the fix', async () => {
    const { line } = await doctorTls(writeConfig({ cert: join(pki.dir, 'missing.crt'), key: pki.leafKey }));
    expect(line('tls.handshake').level).toBe('fail');
    expect(line('tls.handshake').fix).toContain('server.tls.cert');
  });
});

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load-config.ts';

// The config the CDK example app's docs tell users to store in Secrets Manager
// (deploy/cdk/examples/xks-proxy.yaml) must be one the proxy accepts, and must agree with
// what the CDK fleet assumes: TLS on 8443, metrics on 9464 for the metrics peer, a drain
// shorter than the ECS stop timeout, secrets as env: references the task fills in.
describe('deploy/cdk/examples/xks-proxy.yaml', () => {
  const file = 'deploy/cdk/examples/xks-proxy.yaml';
  const config = parseConfig(parseYaml(readFileSync(file, 'utf8')), file);

  it('is a valid proxy config that listens with TLS on the NLB target port', () => {
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8443, tls: { cert: 'tls/server-chain.pem', key: 'tls/server.key' } });
    expect(config.metrics).toMatchObject({ host: '0.0.0.0', port: 9464 });
    // XksProxyFleet's default stopTimeout is drain + 10 s with a 5 s drain.
    expect(config.shutdown.drainTimeoutMs).toBe(5000);
  });

  it('keeps every secret out of the file: env: references the ECS task fills from Secrets Manager', () => {
    const [store] = config.keyStores;
    expect(store?.credentials.map((c) => c.secretAccessKey)).toEqual(['env:XKS_CREDENTIAL_SECRET']);
    expect(store?.provider).toMatchObject({ type: 'software', path: 'keystore/xks.keystore', passphrase: 'env:XKS_KEYSTORE_PASSPHRASE' });
    expect(store?.prefix).toBe('xks');
  });
});

/**
 * The key store contract against the upstream key store: a front key store built from an
 * upstream config, as the proxy builds it, forwarding over HTTPS (a test CA made by
 * openssl) to a real proxy of ours on loopback that serves the software keystore demo.
 * The upstream key store is a KeyStore, not a provider: the contract's provider-level
 * cases run against the back proxy's keys through a provider opened on the same keystore.
 */
import { pino } from 'pino';
import { prepareDemo } from '../../src/cli/demo-command.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { startProxy } from '../../src/composition/start-proxy.ts';
import { createProvider } from '../../src/providers/registry.ts';
import { buildKeyStore } from '../../src/server/build-tenants.ts';
import { createTestPki } from '../support/tls-certs.ts';
import { DEMO_CREDENTIAL } from '../support/xks-client.ts';
import { keyStoreContract } from './key-store-contract.ts';
import { frontKeyStoreEntry } from '../support/upstream-front.ts';

keyStoreContract('upstream', async (dataDir) => {
  const silent = pino({ level: 'silent' });
  const pki = createTestPki();
  const demo = await prepareDemo('software', dataDir, { throwaway: true });
  const backKeyStore = demo.loaded.config.keyStores[0]!;
  // The back proxy reads ciphertexts without our metadata as the AWS sample proxy made them.
  backKeyStore.foreignCiphertextAad = 'aws-sample-sha256';
  demo.loaded.config.server.tls = { cert: pki.serverCert, key: pki.serverKey };
  demo.loaded.config.logging.level = 'silent';
  const back = await startProxy(demo.loaded, { host: '127.0.0.1', port: 0, logger: silent });
  if (!back.url.startsWith('https://')) throw new Error(`the back proxy must serve HTTPS, not ${back.url}`);

  const front = parseConfig(
    {
      keyStores: [
        frontKeyStoreEntry(back.url, {
          prefix: 'front',
          // Generous timeout: a first TLS handshake on shared cores; the contract is not about timing.
          provider: { tls: { ca: pki.caCert }, healthCheckTimeoutMs: 5_000 },
        }),
      ],
    },
    `${dataDir}/front.yaml`,
  );
  const keyStore = buildKeyStore(front.keyStores[0]!, front, { logger: silent, configDir: dataDir, env: { BACK_SECRET: DEMO_CREDENTIAL.secretAccessKey } });

  // The back proxy's keys, opened a second time from its keystore (read-only here).
  if (backKeyStore.provider.type === 'upstream') throw new Error('the back proxy serves the software keystore demo');
  const provider = createProvider(backKeyStore.provider, { logger: silent, configDir: demo.loaded.configDir, env: process.env });
  await provider.init();
  await keyStore.readiness({ deadline: Date.now() + 30_000, signal: AbortSignal.timeout(30_000) });
  return {
    keyStore,
    provider,
    stop: async () => {
      await provider.close();
      await back.close();
      await demo.stop();
      pki.cleanup();
    },
  };
});

/**
 * Issue 15 item 10: when a provider cannot start, or its deep health check does not finish
 * in time, ekmFleetDetails must still name the configured file, tokens or servers (the
 * operator looks for "hsm-a" or "keys.json", not for "pkcs11" or "health-check").
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';
import { buildTenants } from '../../src/server/build-tenants.ts';
import type { Tenant } from '../../src/xks/tenants.ts';
import { createKmipPki, type KmipPkiFiles } from '../../src/providers/kmip/pykmip-certificates.ts';
import { DEMO_CREDENTIAL } from '../support/xks-client.ts';

let dir: string;
let pki: KmipPkiFiles;
/** A TCP listener that accepts connections and never answers (a hung KMIP server). */
let hung: net.Server;
const held = new Set<net.Socket>();
let tenants: Tenant[] = [];

const credentials = [{ accessKeyId: DEMO_CREDENTIAL.accessKeyId, secretAccessKey: DEMO_CREDENTIAL.secretAccessKey }];
const healthReq = { requestMetadata: { kmsRequestId: 'r', kmsOperation: 'KmsHealthCheck' } };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xks-fleet-id-'));
  pki = await createKmipPki(dir);
  hung = net.createServer((s) => {
    held.add(s);
    s.on('close', () => held.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  const hungPort = (hung.address() as net.AddressInfo).port;
  const config = parseConfig(
    {
      keyStores: [
        { prefix: 'sw', credentials, provider: { type: 'software', path: join(dir, 'missing-keys.json'), kek: randomBytes(32).toString('hex') } },
        {
          prefix: 'hsm',
          credentials,
          provider: {
            type: 'pkcs11',
            module: join(dir, 'libvendor-hsm.so'),
            pin: 'env:HSM_PIN',
            tokens: [{ label: 'hsm-a' }, { name: 'hsm-b', serial: '0042' }],
          },
        },
        {
          prefix: 'kmipnotls',
          credentials,
          provider: {
            type: 'kmip',
            servers: [
              { id: 'kmip-east', host: '127.0.0.1', port: 5696 },
              { host: 'kmip.example', port: 5697 },
            ],
            tls: { ca: join(dir, 'missing-ca.pem'), cert: pki.clientCert, key: pki.clientKey },
          },
        },
        {
          prefix: 'kmiphung',
          credentials,
          provider: {
            type: 'kmip',
            servers: [{ id: 'kmip-hung', host: '127.0.0.1', port: hungPort, serverName: 'localhost' }],
            tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey },
          },
        },
      ],
    },
    join(dir, 'config.yaml'),
  );
  tenants = buildTenants(config, { logger: pino({ level: 'silent' }), configDir: dir, env: { HSM_PIN: '1234' } });
});

afterAll(async () => {
  await Promise.allSettled(tenants.map((t) => t.keyStore.close()));
  for (const s of held) s.destroy();
  await new Promise((r) => hung?.close(r));
  await rm(dir, { recursive: true, force: true });
});

async function fleetOf(prefix: string, ms = 2000) {
  const tenant = tenants.find((t) => t.prefix === prefix)!;
  const res = await tenant.keyStore.health(healthReq, { deadline: Date.now() + ms, signal: AbortSignal.timeout(ms) });
  return res.ekmFleetDetails;
}

describe('ekmFleetDetails names the configured instances when the deep check cannot run', () => {
  it('software keystore that cannot be opened: the file name', async () => {
    expect(await fleetOf('sw')).toEqual([{ id: 'missing-keys.json', model: 'xks-proxy software keystore', healthStatus: 'UNAVAILABLE' }]);
  });

  it('PKCS#11 library that cannot be loaded: each token by name, the library file as model', async () => {
    expect(await fleetOf('hsm')).toEqual([
      { id: 'hsm-a', model: 'PKCS#11 token (libvendor-hsm.so)', healthStatus: 'UNAVAILABLE' },
      { id: 'hsm-b', model: 'PKCS#11 token (libvendor-hsm.so)', healthStatus: 'UNAVAILABLE' },
    ]);
  });

  it('KMIP whose TLS material cannot be read: each server by its configured id or host:port', async () => {
    expect(await fleetOf('kmipnotls')).toEqual([
      { id: 'kmip-east', model: 'KMIP server', healthStatus: 'UNAVAILABLE' },
      { id: 'kmip.example:5697', model: 'KMIP server', healthStatus: 'UNAVAILABLE' },
    ]);
  });

  it('KMIP server that accepts and never answers: the deep check times out, the server is still named', async () => {
    expect(await fleetOf('kmiphung', 300)).toEqual([{ id: 'kmip-hung', model: 'KMIP server', healthStatus: 'UNAVAILABLE' }]);
  });
});

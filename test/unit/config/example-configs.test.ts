import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../src/config/load-config.ts';

const CONFIG_DIR = fileURLToPath(new URL('../../../config/', import.meta.url));
const files = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.yaml'));

describe('the committed example configs', () => {
  it('include one example per provider type', () => {
    for (const type of ['software', 'pkcs11', 'kmip', 'upstream']) expect(files).toContain(`${type}.example.yaml`);
  });

  it.each(files)('%s passes the config schema', async (file) => {
    await expect(loadConfigFile(CONFIG_DIR + file)).resolves.toHaveProperty('config.keyStores');
  });
});

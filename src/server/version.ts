import { readFileSync } from 'node:fs';

/** The package version, read once from package.json. */
export const PROXY_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** xksProxyModel for GetHealthStatus: product name and version (spec). */
export const PROXY_MODEL = `xks-proxy ${PROXY_VERSION}`;

import { readFileSync } from 'node:fs';
import { packagePath } from '../package-root.ts';

/** The package version, read once from package.json. */
export const PROXY_VERSION: string = (
  JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }
).version;

/** xksProxyModel for GetHealthStatus: product name and version (spec). */
export const PROXY_MODEL = `xks-proxy ${PROXY_VERSION}`;

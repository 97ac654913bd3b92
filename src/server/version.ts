import { PACKAGE_VERSION } from '../package-root.ts';

/** The package version (package.json, read once at start-up). */
export const PROXY_VERSION: string = PACKAGE_VERSION;

/** xksProxyModel for GetHealthStatus: product name and version (spec). */
export const PROXY_MODEL = `xks-proxy ${PROXY_VERSION}`;

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's name in package.json, which marks its root directory. */
const PACKAGE_NAME = 'xks-proxy';

/** The fields of the proxy's package.json the code uses. */
interface PackageManifest {
  name?: string;
  version: string;
}

/**
 * The proxy's package.json and the directory holding it (and config/, data/, src/). Found
 * by walking up from this module, so it is the same whether the code runs from src/
 * through tsx or from the bundle in dist/ (the container image runs the bundle).
 */
const found = findPackage(dirname(fileURLToPath(import.meta.url)));

/** The package's root directory. */
export const PACKAGE_ROOT: string = found.root;

/** The package's version, from the package.json that marks the root. */
export const PACKAGE_VERSION: string = found.manifest.version;

/** A path inside the package, e.g. packagePath('config', 'demo.yaml'). */
export function packagePath(...segments: string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}

function findPackage(start: string): { root: string; manifest: PackageManifest } {
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as PackageManifest;
      if (manifest.name === PACKAGE_NAME) return { root: dir, manifest };
    }
    if (dirname(dir) === dir) throw new Error(`xks-proxy: no package.json named "${PACKAGE_NAME}" above ${start}`);
  }
}

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's name in package.json, which marks its root directory. */
const PACKAGE_NAME = 'xks-proxy';

/**
 * The directory holding the proxy's package.json (and config/, data/, src/). Found by
 * walking up from this module, so it is the same whether the code runs from src/ through
 * tsx or from the bundle in dist/ (the container image runs the bundle).
 */
export const PACKAGE_ROOT: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, e.g. packagePath('config', 'demo.yaml'). */
export function packagePath(...segments: string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return dir;
    if (dirname(dir) === dir) throw new Error(`xks-proxy: no package.json named "${PACKAGE_NAME}" above ${start}`);
  }
}

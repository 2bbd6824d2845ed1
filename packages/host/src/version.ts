/** This package's version, read from its package.json (the same from `src/` and `dist/`). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The version of this host package: what `engines.airlock` ranges are checked against, and the tracer's version. */
export const HOST_VERSION: string = (() => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@airlock/host' && pkg.version) return pkg.version;
    } catch {
      // keep walking up
    }
  }
  return '0.0.0';
})();

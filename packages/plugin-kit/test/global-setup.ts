// The harness's tests (testing.test.ts) load three fixture plugins. They import
// @airlock/sdk through a link in test/fixtures/node_modules, as a real plugin
// would, and are built here when stale, before any test's time limit starts.
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIfStale } from '../src/testing/index.js';

const pkgDir = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** The guest SDK this package is tested with (a dev dependency). */
const sdkDir = dirname(realpathSync(createRequire(import.meta.url).resolve('@airlock/sdk/package.json')));

/** Make `@airlock/sdk` resolvable from plugins under `dir`. */
export async function linkSdk(dir: string): Promise<void> {
  const link = join(dir, 'node_modules', '@airlock', 'sdk');
  if (existsSync(link)) return;
  await mkdir(join(dir, 'node_modules', '@airlock'), { recursive: true });
  await symlink(sdkDir, link, 'dir');
}

export default async function setup(): Promise<void> {
  if (!existsSync(join(pkgDir, 'dist/build/componentize-child.js'))) throw new Error('build @airlock/plugin-kit before running its tests (`pnpm --filter @airlock/plugin-kit... build`)');
  const fixtures = join(pkgDir, 'test', 'fixtures');
  await linkSdk(fixtures);
  for (const name of ['harness-tool', 'harness-provider', 'harness-auth']) await buildIfStale(join(fixtures, name));
}

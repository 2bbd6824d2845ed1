// The harness's tests (testing.test.ts) load three fixture plugins. They import
// @airlock/sdk through a link in test/fixtures/node_modules, as a real plugin
// would, and are built here when stale, before any test's time limit starts.
import { existsSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIfStale } from '../src/testing/index.js';

const pkgDir = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Make `@airlock/sdk` resolvable from plugins under `dir`. */
export async function linkSdk(dir: string): Promise<void> {
  const link = join(dir, 'node_modules', '@airlock', 'sdk');
  if (existsSync(link)) return;
  await mkdir(join(dir, 'node_modules', '@airlock'), { recursive: true });
  await symlink(pkgDir, link, 'dir');
}

export default async function setup(): Promise<void> {
  if (!existsSync(join(pkgDir, 'dist/build/componentize-child.js'))) throw new Error('build @airlock/sdk before running its tests (`pnpm --filter @airlock/sdk build`)');
  const fixtures = join(pkgDir, 'test', 'fixtures');
  await linkSdk(fixtures);
  for (const name of ['harness-tool', 'harness-provider', 'harness-auth']) await buildIfStale(join(fixtures, name));
}

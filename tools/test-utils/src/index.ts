/**
 * Helpers for Airlock's end-to-end tests (run by vitest from source; not published).
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { AirlockError } from '@airlock/host';

/** Await a promise that must reject with an AirlockError, and return that error. */
export async function rejection(promise: Promise<unknown>): Promise<AirlockError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(AirlockError.isInstance(err), `expected an AirlockError, got ${String(err)}`).toBe(true);
  return err as AirlockError;
}

/**
 * Build a plugin unless its component is up to date. `turbo run test` has
 * normally built it already; this lets `vitest` run alone.
 */
export { buildIfStale } from '@airlock/plugin-kit/testing';

/**
 * Copy a built plugin into `dir` with its package.json changed by `edit`: the
 * same component under another id, asking for other capabilities or limits.
 */
export async function pluginVariant(from: string, dir: string, edit: (pkg: { name: string; airlock: Record<string, unknown> & { limits?: Record<string, unknown> } }) => void): Promise<string> {
  const pkg = JSON.parse(await readFile(join(from, 'package.json'), 'utf8'));
  edit(pkg);
  await mkdir(join(dir, 'dist'), { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
  await copyFile(join(from, 'dist/plugin.wasm'), join(dir, 'dist/plugin.wasm'));
  return dir;
}

/** The common variant: the same component as plugin `id` (in `<base>/<id>`), asking for `capabilities`. */
export function capabilityVariant(from: string, base: string, id: string, capabilities: Record<string, unknown>): Promise<string> {
  return pluginVariant(from, join(base, id), (pkg) => {
    pkg.name = id;
    pkg.airlock.capabilities = capabilities;
  });
}

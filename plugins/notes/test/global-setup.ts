// The component is normally built by `turbo run build` before tests; build it
// here too when it is missing or older than its sources, so `vitest` alone works.
import { stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPlugin } from '@airlock/sdk/build';

const dir = new URL('..', import.meta.url).pathname;

async function newestSource(): Promise<number> {
  const files = [join(dir, 'package.json'), ...(await readdir(join(dir, 'src'))).map((f) => join(dir, 'src', f))];
  const times = await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs));
  return Math.max(...times);
}

export default async function setup(): Promise<void> {
  const built = await stat(join(dir, 'dist/plugin.wasm')).then((s) => s.mtimeMs, () => 0);
  if (built < (await newestSource())) await buildPlugin({ dir });
}

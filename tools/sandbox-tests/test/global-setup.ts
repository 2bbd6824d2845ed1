// Build the fixture plugins when missing or older than their sources.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPlugin } from '@airlock/sdk/build';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;

async function newest(dir: string): Promise<number> {
  const files = [join(dir, 'package.json'), ...(await readdir(join(dir, 'src'))).map((f) => join(dir, 'src', f))];
  return Math.max(...(await Promise.all(files.map(async (f) => (await stat(f)).mtimeMs))));
}

export default async function setup(): Promise<void> {
  for (const name of await readdir(fixtures)) {
    const dir = join(fixtures, name);
    const built = await stat(join(dir, 'dist/plugin.wasm')).then((s) => s.mtimeMs, () => 0);
    // The fixture's code is deliberately untyped in places; the sandbox is what is under test.
    if (built < (await newest(dir))) await buildPlugin({ dir, skipTypecheck: true });
  }
}

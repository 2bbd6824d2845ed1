// Build the fixture plugins when missing or older than their sources: the
// TypeScript ones with the SDK, the hand-written WAT ones with wasm-tools
// (parse, embed the contract's `tool-plugin` world, make a component).
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { buildIfStale } from '@airlock/test-utils';
import { contractSource } from '@airlock/wit';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;

async function buildWat(dir: string): Promise<void> {
  const out = join(dir, 'dist', 'plugin.wasm');
  const built = await stat(out).then((s) => s.mtimeMs, () => 0);
  const source = await stat(join(dir, 'plugin.wat'));
  const worldFile = await stat(join(dir, 'world.wit')).then((w) => w.mtimeMs, () => 0);
  if (built > Math.max(source.mtimeMs, worldFile)) return;
  const wat = await readFile(join(dir, 'plugin.wat'), 'utf8');
  // A hand-written fixture names the contract it was written for (0.1.0) in its export names, and stays a
  // plugin of that version as the contract grows: a plugin of an older 0.1 contract stays under test.
  const version = /"airlock:plugin\/tool@([^#"]+)#/.exec(wat)?.[1];
  if (!version) throw new Error(`${dir}/plugin.wat exports no airlock:plugin/tool@<version>#<function>`);
  const core = await parse(wat);
  // A fixture that imports more than the contract (an integrator's interface) brings its world in world.wit.
  const extra = existsSync(join(dir, 'world.wit')) ? await readFile(join(dir, 'world.wit'), 'utf8') : undefined;
  const world = extra ? /^world ([\w-]+)/m.exec(extra)?.[1] : 'tool-plugin';
  if (!world) throw new Error(`${dir}/world.wit declares no world`);
  const embedded = await componentEmbed({ binary: core, witSource: `${await contractSource(version)}\n${extra ?? ''}`, world });
  await mkdir(join(dir, 'dist'), { recursive: true });
  await writeFile(out, await componentNew(embedded, []));
}

export default async function setup(): Promise<void> {
  for (const name of await readdir(fixtures)) {
    const dir = join(fixtures, name);
    // The TypeScript fixtures' code is deliberately loose; the sandbox is what is under test. One with
    // its own tsconfig.json is type-checked by its build (kb-tool: against the types the build generates).
    if (existsSync(join(dir, 'plugin.wat'))) await buildWat(dir);
    else await buildIfStale(dir, { skipTypecheck: !existsSync(join(dir, 'tsconfig.json')) });
  }
}

// Build the fixture plugins when missing or older than their sources: the
// TypeScript ones with the SDK, the hand-written WAT ones with wasm-tools
// (parse, embed the contract's `tool-plugin` world, make a component).
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { buildIfStale } from '@airlock/test-utils';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const witDir = new URL('../../../wit/', import.meta.url).pathname;

/** The contract as one WIT document (one package declaration, then every file's items). */
async function contractSource(): Promise<string> {
  const files = (await readdir(witDir)).filter((f) => f.endsWith('.wit')).sort();
  const texts = await Promise.all(files.map((f) => readFile(join(witDir, f), 'utf8')));
  const pkg = /^package .*;$/m.exec(texts[0]!)![0];
  return [pkg, ...texts.map((t) => t.replace(/^package .*;$/m, ''))].join('\n');
}

async function buildWat(dir: string): Promise<void> {
  const out = join(dir, 'dist', 'plugin.wasm');
  const built = await stat(out).then((s) => s.mtimeMs, () => 0);
  const source = await stat(join(dir, 'plugin.wat'));
  if (built > source.mtimeMs) return;
  const core = await parse(await readFile(join(dir, 'plugin.wat'), 'utf8'));
  const embedded = await componentEmbed({ binary: core, witSource: await contractSource(), world: 'tool-plugin' });
  await mkdir(join(dir, 'dist'), { recursive: true });
  await writeFile(out, await componentNew(embedded, []));
}

export default async function setup(): Promise<void> {
  for (const name of await readdir(fixtures)) {
    const dir = join(fixtures, name);
    // The TypeScript fixtures' code is deliberately loose; the sandbox is what is under test.
    if (existsSync(join(dir, 'plugin.wat'))) await buildWat(dir);
    else await buildIfStale(dir, { skipTypecheck: true });
  }
}

// What a host keeps of the components it ran: shared while plugins use them,
// dropped once none does (a reload's old build), so reloading changing builds
// for weeks does not grow the host.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { contractSource } from '@airlock/wit';
import { ComponentLoader } from '../src/component-loader.js';
import { ComponentIndex } from '../src/component-index.js';
import { readManifest } from '../src/manifest.js';

/** The contract these are written for: one before the lifecycle hooks, so a tool's two functions are all a module exports. */
const CONTRACT_VERSION = '0.1.1';

/** A hand-written tool plugin whose one tool is named `name` (so each name is another component). */
const wat = (name: string) => `(module
  (memory (export "memory") 1)
  (data (i32.const 16) "\\00\\00\\00\\00\\40\\00\\00\\00\\01\\00\\00\\00")
  (data (i32.const 64) "\\00\\01\\00\\00\\04\\00\\00\\00\\10\\01\\00\\00\\01\\00\\00\\00\\40\\01\\00\\00\\11\\00\\00\\00\\00\\00\\00\\00")
  (data (i32.const 256) "${name}")
  (data (i32.const 272) "x")
  (data (i32.const 320) "{\\"type\\":\\"object\\"}")
  (func (export "airlock:plugin/tool@${CONTRACT_VERSION}#list-tools") (result i32) (i32.const 16))
  (func (export "airlock:plugin/tool@${CONTRACT_VERSION}#call-tool") (param i32 i32 i32 i32) (result i32) unreachable)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 2048)))`;

let base: string;
let loader: ComponentLoader;
const dirs: Record<string, string> = {};

async function plugin(name: string): Promise<string> {
  const embedded = await componentEmbed({ binary: await parse(wat(name)), witSource: await contractSource(CONTRACT_VERSION), world: 'tool-plugin' });
  const dir = join(base, name);
  await mkdir(join(dir, 'dist'), { recursive: true });
  await writeFile(join(dir, 'dist', 'plugin.wasm'), await componentNew(embedded, []));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', airlock: { kind: 'tool' } }));
  return dir;
}

const prepare = async (name: string) => {
  const prepared = await loader.prepare(dirs[name]!, await readManifest(dirs[name]!), 16 * 1024 * 1024);
  await prepared.modules;
  return prepared;
};

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-loader-'));
  const cache = { dir: join(base, 'cache'), digests: join(base, 'digests') };
  await mkdir(cache.dir);
  await mkdir(cache.digests);
  loader = new ComponentLoader(cache, new ComponentIndex(join(base, 'index.json')), () => {});
  for (const name of ['aaaa', 'bbbb']) dirs[name] = await plugin(name);
});

afterAll(async () => {
  await loader.close();
  await rm(base, { recursive: true, force: true });
});

describe('ComponentLoader', () => {
  it('shares what it read and compiled between plugins of one component, and drops it once no loaded plugin uses it', async () => {
    const a = await prepare('aaaa');
    const b = await prepare('bbbb');
    expect(a.component.sha256).not.toBe(b.component.sha256);
    expect(loader.held).toBe(2);
    // A second plugin with the same component gets the same compiled modules.
    expect((await prepare('aaaa')).modules).toBe(a.modules);

    loader.prune(new Set([b.component.sha256]));
    expect(loader.held).toBe(1);
    // Needed again, it is read from the cache entry again (and compiled anew).
    const again = await prepare('aaaa');
    expect(again.component.sha256).toBe(a.component.sha256);
    expect(again.modules).not.toBe(a.modules);
    expect(loader.held).toBe(2);
  });
});

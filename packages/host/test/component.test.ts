import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { contractSource } from '@airlock/wit';
import { CACHE_FORMAT, patchGlue, prepareComponent, sha256, toScript, type ComponentCache } from '../src/component.js';
import { AirlockError } from '../src/errors.js';

const DEBUG_LINE = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }';

/** A stand-in for jco's generated module, holding the lines patchGlue edits. */
const GLUE = [
  '"use components";',
  'const logged = [];',
  `function _debugLog(...args) { ${DEBUG_LINE} logged.push(args.join(' ')); }`,
  'const first = WebAssembly.promising(core.first);',
  'const second = WebAssembly.promising(core.second);',
  "const unrelated = 'promising( stays, as does WebAssembly.validate';",
].join('\n');

type Loaded = { logged: string[]; _debugLog: (...a: unknown[]) => void; first: (x: number) => number; second: (x: number) => number; unrelated: string };

/** Evaluate patched glue with a fake WebAssembly and process environment. */
function load(src: string, env: Record<string, string>, promising: (f: (x: number) => number) => (x: number) => number): Loaded {
  const factory = new Function('WebAssembly', 'globalThis', 'core', `${src}\nreturn { logged, _debugLog, first, second, unrelated };`);
  const core = { first: (x: number) => x + 1, second: (x: number) => x * 2 };
  return factory({ promising }, { process: { env } }, core) as Loaded;
}

describe('patchGlue', () => {
  it('makes the exact edits it is meant to make', () => {
    const out = patchGlue(GLUE);
    expect(out).not.toContain(DEBUG_LINE);
    expect(out).toContain('if (!_AIRLOCK_JCO_DEBUG) { return; }');
    expect(out).toContain('const first = _airlockLazyPromising(core.first);');
    expect(out).toContain('const second = _airlockLazyPromising(core.second);');
    expect(out.startsWith('"use components";\nconst _AIRLOCK_JCO_DEBUG = !!globalThis?.process?.env?.JCO_DEBUG;\nconst _airlockLazyPromising = ')).toBe(true);
    // The only WebAssembly.promising left is the one inside the lazy wrapper.
    expect(out.match(/WebAssembly\.promising\(/g)).toHaveLength(1);
  });

  it('leaves unrelated text untouched', () => {
    const out = patchGlue(GLUE);
    expect(out).toContain('const logged = [];');
    expect(out).toContain("const unrelated = 'promising( stays, as does WebAssembly.validate';");
    const plain = 'export function instantiate() { return WebAssembly.instantiate(x); }\n// "use strict";';
    expect(patchGlue(plain)).toBe(plain);
  });

  it('wraps exports with WebAssembly.promising only on first use, once', () => {
    const wrapped: unknown[] = [];
    const m = load(patchGlue(GLUE), {}, (f) => {
      wrapped.push(f);
      return (x) => f(x) * 100;
    });
    expect(wrapped).toHaveLength(0);
    expect(m.first(1)).toBe(200);
    expect(m.first(2)).toBe(300);
    expect(wrapped).toHaveLength(1);
    expect(m.second(3)).toBe(600);
    expect(wrapped).toHaveLength(2);
  });

  it('reads JCO_DEBUG once, when the module loads', () => {
    const env: Record<string, string> = { JCO_DEBUG: '1' };
    const on = load(patchGlue(GLUE), env, (f) => f);
    on._debugLog('a', 'b');
    expect(on.logged).toEqual(['a b']);
    delete env.JCO_DEBUG;
    on._debugLog('c');
    expect(on.logged).toEqual(['a b', 'c']);

    const off = load(patchGlue(GLUE), {}, (f) => f);
    off._debugLog('x');
    expect(off.logged).toEqual([]);
  });
});

describe('prepareComponent', () => {
  let cacheDir: string;
  let cache: ComponentCache;
  beforeEach(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'airlock-component-'));
    cache = { dir: cacheDir, digests: join(cacheDir, 'digests') };
  });

  /** A hand-made entry for `bytes` and, unless `record` is false, its digest record as the host writes it. */
  async function entry(bytes: Uint8Array, meta: Record<string, unknown>, files: Record<string, string>, record = true): Promise<string> {
    const hash = sha256(bytes);
    const dir = join(cacheDir, `${hash}.v${CACHE_FORMAT}`);
    await mkdir(dir);
    const all: [string, string][] = [['meta.json', JSON.stringify(meta)], ...Object.entries(files)];
    for (const [name, text] of all) await writeFile(join(dir, name), text);
    if (record) {
      await mkdir(cache.digests, { recursive: true });
      const recorded = all.map(([name, text]) => ({ name, size: Buffer.byteLength(text), sha256: sha256(new TextEncoder().encode(text)) }));
      await writeFile(join(cache.digests, `${hash}.v${CACHE_FORMAT}.json`), JSON.stringify({ v: 1, component: hash, format: CACHE_FORMAT, files: recorded }));
    }
    return dir;
  }
  afterEach(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('hashes bytes with sha256', () => {
    const bytes = new TextEncoder().encode('abc');
    expect(sha256(bytes)).toBe(createHash('sha256').update('abc').digest('hex'));
  });

  it.each([
    ['random bytes', () => new Uint8Array(randomBytes(512))],
    ['a core module, not a component', () => Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])],
    ['nothing', () => new Uint8Array(0)],
  ])('rejects %s with COMPONENT_INVALID and leaves nothing behind', async (_, make) => {
    await writeFile(join(cacheDir, 'unrelated.txt'), 'keep me');
    const err = await prepareComponent(make(), cache).catch((e: unknown) => e);
    expect(AirlockError.isInstance(err)).toBe(true);
    expect(err).toMatchObject({ code: 'COMPONENT_INVALID', message: expect.stringMatching(/^not a valid WebAssembly component: ./) });
    expect(await readdir(cacheDir)).toEqual(['unrelated.txt']);
  });

  it('names each import with the version its component binary gives it', async () => {
    // A module importing log.write from contract 0.1.1, exporting a tool: jco reports `airlock:plugin/log`, the binary holds the version.
    const wat = `(module
      (import "airlock:plugin/log@0.1.1" "write" (func (param i32 i32 i32)))
      (memory (export "memory") 1)
      (func (export "airlock:plugin/tool@0.1.1#list-tools") (result i32) unreachable)
      (func (export "airlock:plugin/tool@0.1.1#call-tool") (param i32 i32 i32 i32) (result i32) unreachable)
      (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) unreachable))`;
    const embedded = await componentEmbed({ binary: await parse(wat), witSource: await contractSource('0.1.1'), world: 'tool-plugin' });
    const { component } = await prepareComponent(await componentNew(embedded, []), cache);
    expect(component.imports).toEqual(['airlock:plugin/log@0.1.1']);
    expect(component.exports).toEqual(['airlock:plugin/tool@0.1.1']);
  });

  const META = { format: CACHE_FORMAT, glue: 'plugin.mjs', glueKind: 'module', coreFiles: ['plugin.core.wasm'], imports: ['airlock:plugin/log@0.1.0'], exports: ['airlock:plugin/tool@0.1.0'] };

  it('serves a complete cache entry that matches its digest record without transpiling, with the bytes it checked', async () => {
    // Random bytes: a transpile would fail, so a result proves the entry was served.
    const bytes = new Uint8Array(randomBytes(64));
    const dir = await entry(bytes, META, { 'plugin.mjs': 'export function instantiate() {}', 'plugin.core.wasm': 'core' });
    const loaded = await prepareComponent(bytes, cache);
    expect(loaded.component).toMatchObject({
      sha256: sha256(bytes),
      dir,
      glue: 'plugin.mjs',
      glueKind: 'module',
      glueCode: new TextEncoder().encode('export function instantiate() {}'),
      coreFiles: ['plugin.core.wasm'],
      imports: ['airlock:plugin/log@0.1.0'],
      exports: ['airlock:plugin/tool@0.1.0'],
      transpiled: false,
    });
    expect(new TextDecoder().decode(loaded.core['plugin.core.wasm'])).toBe('core');
  });

  it.each([
    ['a recorded file is missing', 'INTEGRITY_FAILED', async (bytes: Uint8Array) => await rm(join(await entry(bytes, META, { 'plugin.mjs': '', 'plugin.core.wasm': '' }), 'plugin.core.wasm'))],
    ['the format is old', 'INTEGRITY_FAILED', async (bytes: Uint8Array) => void (await entry(bytes, { ...META, format: CACHE_FORMAT - 1 }, { 'plugin.mjs': '', 'plugin.core.wasm': '' }))],
    ['it has no digest record', 'COMPONENT_INVALID', async (bytes: Uint8Array) => void (await entry(bytes, META, { 'plugin.mjs': '', 'plugin.core.wasm': '' }, false))],
    [
      'a file differs from its record',
      'INTEGRITY_FAILED',
      async (bytes: Uint8Array) => {
        const dir = await entry(bytes, META, { 'plugin.mjs': 'export function instantiate() {}', 'plugin.core.wasm': 'core' });
        await writeFile(join(dir, 'plugin.mjs'), 'export function instantiate() { evil() }');
      },
    ],
  ])('does not trust a cache entry when %s (rebuilding it fails: %s)', async (_, code, make) => {
    // Random bytes, so the transpile the broken entry forces fails: a changed entry is then refused, an unrecorded one is just not a component.
    const bytes = new Uint8Array(randomBytes(64));
    await make(bytes);
    await expect(prepareComponent(bytes, cache)).rejects.toMatchObject({ code });
  });

  it('refuses a changed entry that cannot be rebuilt with INTEGRITY_FAILED, saying what changed, and reports it first', async () => {
    // Random bytes: no transpile can rebuild the entry.
    const bytes = new Uint8Array(randomBytes(64));
    const dir = await entry(bytes, META, { 'plugin.mjs': 'export function instantiate() {}', 'plugin.core.wasm': 'core' });
    await writeFile(join(dir, 'plugin.core.wasm'), 'c0re');
    const problems: unknown[] = [];
    const err = await prepareComponent(bytes, cache, sha256(bytes), { pluginId: 'demo', onProblem: (p) => problems.push(p) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTEGRITY_FAILED', plugin: 'demo', message: expect.stringContaining('(plugin.core.wasm differs from what was written), and it could not be rebuilt: not a valid WebAssembly component') });
    expect(problems).toEqual([{ kind: 'changed', path: dir, problem: 'plugin.core.wasm differs from what was written' }]);
  });
});

describe('toScript', () => {
  it('turns the instantiation-mode module into a function expression taking the module URL', () => {
    const src = [
      '"use components";',
      'export function instantiate(getCoreModule, imports) {',
      '  return { url: import.meta.url, imports };',
      '}',
      'export const _util = {',
      '  ',
      '}',
    ].join('\n');
    const script = toScript(src)!;
    expect(script).not.toMatch(/^\s*export\b/m);
    // eslint-disable-next-line no-eval
    const factory = (0, eval)(script) as (url: string) => { instantiate: (g: unknown, i: unknown) => { url: string; imports: unknown } };
    expect(factory('file:///glue.js').instantiate(null, 7)).toEqual({ url: 'file:///glue.js', imports: 7 });
  });

  it('refuses a module of another shape, which is then used as a module', () => {
    expect(toScript('import x from "y";\nexport function instantiate() {}')).toBeUndefined();
    expect(toScript('export default 1;')).toBeUndefined();
  });
});

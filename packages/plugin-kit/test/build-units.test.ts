import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BuildCache, KEPT_ENGINES, KEPT_ENTRIES, cacheKey, writeAtomically, type CacheOutput } from '../src/build/cache.js';
import { checkComponentKind, componentExports } from '../src/build/component-exports.js';
import { BuildError } from '../src/build/errors.js';
import { defaultConcurrency } from '../src/build/index.js';
import { watchPlugin } from '../src/dev/index.js';
import { CONTRACT_VERSION } from '@airlock/wit';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-build-units-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s: string) => [...leb(Buffer.byteLength(s)), ...Buffer.from(s)];
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/** A component binary holding only export sections (enough for the reader; not a valid component). */
function component(...exportSections: number[][][]): Uint8Array {
  const sections = exportSections.map((exports) => section(11, [...leb(exports.length), ...exports.flat()]));
  // A custom section before them, which the reader must skip.
  return Uint8Array.from([...PREAMBLE, ...section(0, str('producers')), ...sections.flat()]);
}

describe('componentExports', () => {
  it('reads the names of instance, function and core module exports, with and without a type ascription', () => {
    const bytes = component(
      [
        [0x00, ...str('airlock:plugin/tool@0.1.0'), 0x05, ...leb(23), 0x00],
        [0x00, ...str('run'), 0x01, ...leb(300), 0x01, 0x01, ...leb(7)],
      ],
      [
        [0x00, ...str('core'), 0x00, 0x11, ...leb(1), 0x01, 0x00, 0x11, ...leb(2)],
        [0x00, ...str('answer'), 0x02, ...leb(0), 0x01, 0x02, 0x01, 0x7d],
        [0x00, ...str('handle'), 0x03, ...leb(4), 0x01, 0x03, 0x01],
        [0x01, ...str('wasi:cli/run'), ...str('0.2.12'), 0x05, ...leb(1), 0x00],
      ],
    );
    expect(componentExports(bytes)).toEqual(['airlock:plugin/tool@0.1.0', 'run', 'core', 'answer', 'handle', 'wasi:cli/run']);
  });

  it('refuses core modules, other files and truncated components', () => {
    expect(() => componentExports(Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]))).toThrow('a core WebAssembly module, not a component');
    expect(() => componentExports(Buffer.from('{"not":"wasm"}'))).toThrow('not a WebAssembly binary');
    const whole = component([[0x00, ...str('airlock:plugin/tool@0.1.0'), 0x05, 0x01, 0x00]]);
    expect(() => componentExports(whole.subarray(0, whole.length - 3))).toThrow(/malformed component/);
  });
});

describe('checkComponentKind', () => {
  const exporting = (...names: string[]) => component(names.map((n) => [0x00, ...str(n), 0x05, 0x00, 0x00]));

  it('accepts a component exporting the interface of the manifest kind', () => {
    expect(() => checkComponentKind(exporting(`airlock:plugin/tool@${CONTRACT_VERSION}`), 'tool', 'src/index.ts')).not.toThrow();
  });

  it('refuses one exporting another kind as KIND_MISMATCH, saying what each says and how to fix it', () => {
    const err = thrown(() => checkComponentKind(exporting(`airlock:plugin/provider@${CONTRACT_VERSION}`), 'tool', 'src/index.ts'));
    expect(err.code).toBe('KIND_MISMATCH');
    expect(err.message).toBe(`the manifest says "kind": "tool", so the component must export airlock:plugin/tool@${CONTRACT_VERSION}, but it exports airlock:plugin/provider@${CONTRACT_VERSION}`);
    expect(err.hint).toBe('If it is meant to be a provider plugin, set "kind": "provider" in the "airlock" manifest; otherwise make src/index.ts `export default` a plugin made with defineToolPlugin().');
  });

  it('names another contract version, and components exporting no plugin interface', () => {
    const old = thrown(() => checkComponentKind(exporting('airlock:plugin/auth@0.0.9'), 'auth', 'src/main.ts'));
    expect(old.message).toBe(`the manifest says "kind": "auth", so the component must export airlock:plugin/auth@${CONTRACT_VERSION}, but it exports airlock:plugin/auth@0.0.9`);
    expect(old.hint).toContain('another contract version');
    const none = thrown(() => checkComponentKind(exporting('wasi:cli/run@0.2.12'), 'tool', 'src/index.ts'));
    expect(none.message).toMatch(/but it exports only wasi:cli\/run@0\.2\.12$/);
    expect(none.hint).toBe('Make src/index.ts `export default` a plugin made with defineToolPlugin() from @airlock/sdk.');
  });

  it('knows hook plugins: accepted by their interface, named with defineHookPlugin when mistaken', () => {
    expect(() => checkComponentKind(exporting(`airlock:plugin/lifecycle@${CONTRACT_VERSION}`, `airlock:plugin/hook@${CONTRACT_VERSION}`), 'hook', 'src/index.ts')).not.toThrow();
    const err = thrown(() => checkComponentKind(exporting(`airlock:plugin/hook@${CONTRACT_VERSION}`), 'tool', 'src/index.ts'));
    expect(err.hint).toBe('If it is meant to be a hook plugin, set "kind": "hook" in the "airlock" manifest; otherwise make src/index.ts `export default` a plugin made with defineToolPlugin().');
    expect(thrown(() => checkComponentKind(exporting(`airlock:plugin/tool@${CONTRACT_VERSION}`), 'hook', 'src/index.ts')).hint).toContain('defineHookPlugin()');
  });

  it('reports bytes that are not a component as COMPONENTIZE_FAILED', () => {
    expect(thrown(() => checkComponentKind(Buffer.from('nonsense'), 'tool', 'src/index.ts')).code).toBe('COMPONENTIZE_FAILED');
  });
});

function thrown(f: () => unknown): BuildError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BuildError);
    return e as BuildError;
  }
  throw new Error('expected a throw');
}

describe('cacheKey', () => {
  const inputs = { bundle: 'export const tool = {};', wit: { 'plugin.wit': 'package airlock:build;', 'deps/a/package.wit': 'a' }, release: false, wasi: '0.2.12' };

  it('is stable, and changes with the bundle, the WIT, the release flag and the WASI version', () => {
    const key = cacheKey(inputs);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey({ ...inputs, wit: { 'deps/a/package.wit': 'a', 'plugin.wit': 'package airlock:build;' } })).toBe(key);
    const others = [
      cacheKey({ ...inputs, bundle: 'export const tool = { x: 1 };' }),
      cacheKey({ ...inputs, wit: { ...inputs.wit, 'plugin.wit': 'package airlock:build2;' } }),
      cacheKey({ ...inputs, release: true }),
      cacheKey({ ...inputs, wasi: '0.2.13' }),
    ];
    expect(new Set([key, ...others]).size).toBe(5);
  });
});

describe('BuildCache', () => {
  it('lives under $AIRLOCK_BUILD_CACHE, a given directory, or the plugin node_modules/.cache, per plugin id', () => {
    vi.stubEnv('AIRLOCK_BUILD_CACHE', '/tmp/shared-cache');
    try {
      expect(BuildCache.for('/p', 'notes').dir).toBe('/tmp/shared-cache/notes');
      expect(BuildCache.for('/p', 'notes', '/elsewhere').dir).toBe('/elsewhere/notes');
      vi.stubEnv('AIRLOCK_BUILD_CACHE', '');
      expect(BuildCache.for('/p', 'odd/id').dir).toBe('/p/node_modules/.cache/airlock-plugin/odd_id');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  /** What an output holds beyond the cached bytes: nothing, or `extra` appended (as a source map is). */
  const output = (key: string, extra = ''): CacheOutput => ({ key: `${key}${extra}`, finish: (cached) => Buffer.concat([cached, Buffer.from(extra)]) });
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  it('restores what it stored, knows an up-to-date output, and keeps the most recently used entries', async () => {
    const cache = new BuildCache(join(root, 'cache'));
    const out = join(root, 'out', 'plugin.wasm');
    const key = (i: number) => String(i).repeat(64).slice(0, 64);
    expect(await cache.restore(key(1), out, output(key(1)))).toBeUndefined();

    const put = async (i: number) => {
      await writeAtomically(out, `component ${i}`);
      await cache.store(key(i), Buffer.from(`component ${i}`), i % 2 === 0, out, output(key(i)), Buffer.from(`component ${i}`));
    };
    await put(1);
    expect(await cache.current(out, output(key(1)))).toEqual({ sha256: sha('component 1'), bytes: 11 });
    expect(await cache.current(out, output(key(2)))).toBeUndefined();

    for (let i = 2; i <= KEPT_ENTRIES + 2; i++) await put(i);
    expect(await readFile(out, 'utf8')).toBe(`component ${KEPT_ENTRIES + 2}`);
    // Restoring an older entry writes it to the output and marks it used.
    expect(await cache.restore(key(4), out, output(key(4)))).toMatchObject({ bytes: 11 });
    expect(await readFile(out, 'utf8')).toBe('component 4');
    expect(await cache.current(out, output(key(4)))).toBeDefined();

    const kept = await cache.keys();
    expect(kept).toHaveLength(KEPT_ENTRIES);
    expect(kept[0]).toBe(key(4));
    expect(kept).not.toContain(key(1));
    expect(kept).not.toContain(key(2));
    expect((await readdir(cache.dir)).filter((f) => f.endsWith('.wasm')).sort()).toEqual(kept.map((k) => `${k}.wasm`).sort());
  });

  it('finishes a cached component anew for another output: same entry, other source map, no componentize', async () => {
    const cache = new BuildCache(join(root, 'finish'));
    const out = join(root, 'finish-out', 'plugin.wasm');
    const key = 'c'.repeat(64);
    const first = output(key, '+map-1');
    await writeAtomically(out, 'core+map-1');
    await cache.store(key, Buffer.from('core'), false, out, first, Buffer.from('core+map-1'));
    expect(await cache.current(out, first)).toEqual({ sha256: sha('core+map-1'), bytes: 10 });
    // Lines moved, the bundle did not: the output is stale, the entry is not.
    const second = output(key, '+map-2');
    expect(await cache.current(out, second)).toBeUndefined();
    expect(await cache.restore(key, out, second)).toEqual({ sha256: sha('core+map-2'), bytes: 10 });
    expect(await readFile(out, 'utf8')).toBe('core+map-2');
    expect(await cache.current(out, second)).toBeDefined();
    expect(await readFile(join(cache.dir, `${key}.wasm`), 'utf8')).toBe('core');
  });

  it('treats a damaged entry or output as a miss', async () => {
    const cache = new BuildCache(join(root, 'damaged'));
    const out = join(root, 'damaged-out', 'plugin.wasm');
    const key = 'a'.repeat(64);
    await writeAtomically(out, 'the real component');
    await cache.store(key, Buffer.from('the real component'), false, out, output(key), Buffer.from('the real component'));
    expect(await cache.current(out, output(key))).toBeDefined();
    await writeFile(out, 'edited by hand');
    expect(await cache.current(out, output(key))).toBeUndefined();
    await writeFile(join(cache.dir, `${key}.wasm`), 'bit rot');
    expect(await cache.restore(key, out, output(key))).toBeUndefined();
    await writeFile(join(cache.dir, 'index.json'), '{ not json');
    expect(await cache.keys()).toEqual([]);
  });

  it('forgets outputs that no longer exist when it next writes its index', async () => {
    const cache = new BuildCache(join(root, 'shared'));
    const key = 'b'.repeat(64);
    const gone = join(root, 'copy-1', 'plugin.wasm');
    const kept = join(root, 'copy-2', 'plugin.wasm');
    await writeAtomically(gone, 'component');
    await cache.store(key, Buffer.from('component'), false, gone, output(key), Buffer.from('component'));
    await rm(join(root, 'copy-1'), { recursive: true });
    expect(await cache.restore(key, kept, output(key))).toBeDefined();
    const index = JSON.parse(await readFile(join(cache.dir, 'index.json'), 'utf8')) as { outputs: Record<string, unknown> };
    expect(Object.keys(index.outputs)).toEqual([kept]);
    expect(await cache.current(kept, output(key))).toBeDefined();
  });
});

describe('BuildCache.forEngines', () => {
  it('keeps development engines in the user cache, shared by projects, unless a cache root is given', () => {
    try {
      vi.stubEnv('AIRLOCK_BUILD_CACHE', '');
      vi.stubEnv('XDG_CACHE_HOME', '/x/cache');
      expect(BuildCache.forEngines().dir).toBe(join('/x/cache', 'airlock-plugin', '_dev-engines'));
      expect(BuildCache.forEngines('/given').dir).toBe(join('/given', '_dev-engines'));
      vi.stubEnv('AIRLOCK_BUILD_CACHE', '/env');
      expect(BuildCache.forEngines().dir).toBe(join('/env', '_dev-engines'));
      vi.stubEnv('AIRLOCK_BUILD_CACHE', '');
      vi.stubEnv('XDG_CACHE_HOME', '');
      expect(BuildCache.forEngines().dir).toBe(join(homedir(), '.cache', 'airlock-plugin', '_dev-engines'));
      expect(BuildCache.forEngines().keep).toBe(KEPT_ENGINES);
      expect(BuildCache.for('/p', 'notes').keep).toBe(KEPT_ENTRIES);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe('defaultConcurrency', () => {
  const GB = 1024 ** 3;
  it('is one build per 1.5 cores, as far as free memory allows ~900 MB each, and at least one', () => {
    expect(defaultConcurrency(8, 64 * GB)).toBe(5);
    expect(defaultConcurrency(8, 2 * GB)).toBe(2);
    expect(defaultConcurrency(4, 64 * GB)).toBe(2);
    expect(defaultConcurrency(2, 64 * GB)).toBe(1);
    expect(defaultConcurrency(2, 0.5 * GB)).toBe(1);
    const n = defaultConcurrency();
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(availableParallelism());
  });
});

describe('watchPlugin', () => {
  it('throws at once for a directory that does not exist', () => {
    expect(() => watchPlugin({ dir: join(root, 'no-such-plugin') })).toThrow(/ENOENT/);
  });

  it('does nothing until a source changes, and closes', async () => {
    const dir = join(root, 'quiet');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'src'), { recursive: true });
    let builds = 0;
    const watcher = watchPlugin({ dir, onBuild: () => builds++, onError: () => builds++ });
    await writeFile(join(dir, 'README.md'), 'not a source');
    await new Promise((r) => setTimeout(r, 300));
    await watcher.idle();
    await watcher.close();
    expect(builds).toBe(0);
  });
});

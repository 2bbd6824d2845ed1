/**
 * Turning a component into something Node can run: jco transpiles it to an ES
 * module plus core wasm files. That takes 0.5–2 s, so the output is cached on
 * disk by the component's sha256 and compiled core modules are kept in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SOURCE_MAP_SECTION, readCustomSection } from '@airlock/wit';
import { AirlockError } from './errors.js';

export interface PreparedComponent {
  sha256: string;
  /** Directory holding the transpiled module and its core wasm files. */
  dir: string;
  /** File name of the transpiled bindings with `instantiate()`, inside `dir`. */
  glue: string;
  /**
   * `script`: a function expression taking the module URL and returning
   * `{ instantiate }`, loadable with a V8 code cache; `module`: jco's ES module
   * as is (used when its shape was not recognised).
   */
  glueKind: 'script' | 'module';
  /** Core wasm file names inside `dir`. */
  coreFiles: string[];
  /** Interfaces the component imports, with versions, e.g. `airlock:plugin/log@0.1.0`. */
  imports: string[];
  /** Interfaces the component exports, with versions. */
  exports: string[];
  /** Whether this call transpiled (false: served from the cache). */
  transpiled: boolean;
  /** The source map of the plugin's bundled JavaScript, when its build attached one (a file inside `dir`). */
  sourceMap: string | undefined;
}

interface Meta {
  format: number;
  glue: string;
  glueKind: 'script' | 'module';
  coreFiles: string[];
  imports: string[];
  exports: string[];
  /** File name of the source map taken from the component, if it had one. */
  sourceMap?: string;
}

/** Bump when the transpile options or the patches below change, to invalidate caches. */
export const CACHE_FORMAT = 3;

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Find the transpiled form of `bytes` in `cacheDir`, or transpile and store it.
 * The cache entry is written to a temporary directory and renamed into place, so
 * a crash never leaves a half-written entry behind.
 */
export async function prepareComponent(bytes: Uint8Array, cacheDir: string, hash = sha256(bytes)): Promise<PreparedComponent> {
  const dir = join(cacheDir, `${hash}.v${CACHE_FORMAT}`);
  const cached = await cachedComponent(cacheDir, hash);
  if (cached) return cached;

  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  let out: Awaited<ReturnType<typeof transpileBytes>>;
  try {
    out = await transpileBytes(bytes, {
      name: 'plugin',
      instantiation: 'async',
      // Hybrid bindings cost 7–9 µs per call instead of 40–50 µs, and do not leak on resource dispose.
      importBindings: 'hybrid',
      noTypescript: true,
      noNamespacedExports: false,
    } as Parameters<typeof transpileBytes>[1]);
  } catch (cause) {
    throw new AirlockError('COMPONENT_INVALID', `not a valid WebAssembly component: ${describeJcoError(cause)}`, {
      cause,
      hint: 'Rebuild the plugin with `airlock-plugin build`.',
    });
  }

  const versioned = (names: string[]) => names.map((n) => versionOf(bytes, n));
  const meta: Meta = {
    format: CACHE_FORMAT,
    glue: 'plugin.js',
    glueKind: 'script',
    coreFiles: [],
    imports: versioned(out.imports),
    // Exports already carry their version (`airlock:plugin/tool@0.1.0`).
    exports: out.exports.filter(([n]) => n.includes(':')).map(([n]) => n),
  };

  const tmp = join(cacheDir, `.tmp-${hash}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { recursive: true });
  try {
    for (const [name, data] of Object.entries(out.files)) {
      if (name.endsWith('.wasm')) {
        meta.coreFiles.push(name);
        await writeFile(join(tmp, name), data);
      } else if (name === 'plugin.js') {
        const patched = patchGlue(new TextDecoder().decode(data));
        const script = toScript(patched);
        if (script === undefined) Object.assign(meta, { glue: 'plugin.mjs', glueKind: 'module' });
        await writeFile(join(tmp, meta.glue), script ?? patched);
      }
    }
    const sourceMap = sourceMapOf(bytes);
    if (sourceMap) {
      meta.sourceMap = 'source-map.json';
      await writeFile(join(tmp, meta.sourceMap), sourceMap);
    }
    await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta));
    await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another process cached the same component first: theirs is as good as ours.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return toPrepared(hash, dir, meta, true);
}

function toPrepared(hash: string, dir: string, meta: Omit<Meta, 'format'>, transpiled: boolean): PreparedComponent {
  const { glue, glueKind, coreFiles, imports, exports } = meta;
  return { sha256: hash, dir, glue, glueKind, coreFiles, imports, exports, transpiled, sourceMap: meta.sourceMap && join(dir, meta.sourceMap) };
}

/** The source map the build attached, if any; a malformed binary is for the transpiler to report, not this. */
function sourceMapOf(bytes: Uint8Array): Uint8Array | undefined {
  try {
    return readCustomSection(bytes, SOURCE_MAP_SECTION);
  } catch {
    return undefined;
  }
}

/** The cached transpiled component for `hash`, if there is one. */
export async function cachedComponent(cacheDir: string, hash: string): Promise<PreparedComponent | undefined> {
  const dir = join(cacheDir, `${hash}.v${CACHE_FORMAT}`);
  const cached = await readMeta(dir);
  return cached && toPrepared(hash, dir, cached, false);
}

async function readMeta(dir: string): Promise<Omit<Meta, 'format'> | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Meta;
    if (meta.format !== CACHE_FORMAT) return undefined;
    const present = new Set(await readdir(dir));
    if (![meta.glue, ...meta.coreFiles, ...(meta.sourceMap ? [meta.sourceMap] : [])].every((f) => present.has(f))) return undefined;
    return meta;
  } catch {
    return undefined;
  }
}

/**
 * jco reports interface names without versions; the component binary holds the
 * versioned name (`airlock:plugin/log@0.1.0`), so read it from there.
 */
function versionOf(bytes: Uint8Array, name: string): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const re = new RegExp(`${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}@([0-9]+\\.[0-9]+\\.[0-9]+(?:-[0-9A-Za-z.-]+)?)`);
  const m = re.exec(text);
  return m ? `${name}@${m[1]}` : name;
}

/**
 * Two surgical edits to jco 1.35's generated module, both measured:
 * - its debug logger reads `process.env` on every call (≈20 µs per call); read it once;
 * - it wraps exports with `WebAssembly.promising` eagerly (≈20 ms per instance) for
 *   async calls we never make; defer that until first use.
 * If a future jco changes these lines the patches simply do not apply.
 */
export function patchGlue(src: string): string {
  return src
    .replace('if (!globalThis?.process?.env?.JCO_DEBUG) { return; }', 'if (!_AIRLOCK_JCO_DEBUG) { return; }')
    .replaceAll('WebAssembly.promising(', '_airlockLazyPromising(')
    .replace(
      '"use components";',
      '"use components";\n' +
        'const _AIRLOCK_JCO_DEBUG = !!globalThis?.process?.env?.JCO_DEBUG;\n' +
        'const _airlockLazyPromising = (f) => { let p; return (...a) => (p ??= WebAssembly.promising(f))(...a); };',
    );
}

/**
 * Turn jco's ES module into a script: `(function (moduleUrl) { …; return { instantiate }; })`.
 * Scripts, unlike ES modules on Node 20, can be loaded with a V8 code cache,
 * which takes loading the ~850 kB module from ~20 ms to ~1 ms. In instantiation
 * mode the module imports nothing and exports `instantiate` and `_util`; any
 * other shape returns undefined and the module is used as is.
 */
export function toScript(src: string): string | undefined {
  const body = src
    .replace('export function instantiate(', 'function instantiate(')
    .replace(/^export const _util = \{[\s\S]*?\n\}\n?/m, '')
    .replaceAll('import.meta.url', '__airlockModuleUrl');
  if (!body.includes('function instantiate(') || /^\s*(import|export)\b/m.test(body)) return undefined;
  return `(function (__airlockModuleUrl) {\n${body}\nreturn { instantiate };\n})`;
}

function describeJcoError(err: unknown): string {
  const e = err as { message?: string; payload?: unknown };
  const text = typeof e?.payload === 'string' ? e.payload : e?.message ?? String(err);
  return text.split('\n').filter(Boolean).slice(0, 4).join(' / ');
}

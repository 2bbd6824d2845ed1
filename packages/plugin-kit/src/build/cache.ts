/**
 * The build cache: components by the hash of everything componentize-js reads
 * (see `cacheKey`), so a build whose bundle did not change skips the slow
 * componentize step. One directory per plugin id holds `<key>.wasm` files and
 * `index.json`, which also records which key each output file was written
 * from, so an up-to-date output is left alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** Bump when what goes into a key or the layout changes. */
const CACHE_FORMAT = 2;
/** Entries kept per plugin: the current dev and release builds, and the previous ones. */
export const KEPT_ENTRIES = 4;
/** Development engines kept (13 MB each): one per kind and contract in use, with room for a tool upgrade. */
export const KEPT_ENGINES = 8;
/** The directory of development engines in a cache root. */
const ENGINES_DIR = '_dev-engines';

export interface CacheKeyInputs {
  /** The bundled ES module componentize-js reads: the plugin's code and its npm dependencies. */
  bundle: string | Uint8Array;
  /** The WIT files of the world the plugin is componentized against, by path. */
  wit: Record<string, string>;
  release: boolean;
  /** The WASI version plugins import. */
  wasi: string;
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The key of a component: sha256 over its inputs and the versions of the tools that build it. */
export function cacheKey(inputs: CacheKeyInputs): string {
  const wit = Object.keys(inputs.wit)
    .sort()
    .map((path) => [path, sha256(inputs.wit[path]!)]);
  return sha256(
    JSON.stringify({
      format: CACHE_FORMAT,
      bundle: sha256(inputs.bundle),
      wit,
      componentizeJs: componentizeJsVersion(),
      kit: kitVersion(),
      release: inputs.release,
      wasi: inputs.wasi,
    }),
  );
}

let kit: string | undefined;
/** This package's version: how the bundle is wrapped and componentized can change with it. */
function kitVersion(): string {
  // One level below the package root, from src/build/, dist/build/ and dist/cli/ alike.
  kit ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return kit;
}

let componentizeJs: string | undefined;
function componentizeJsVersion(): string {
  if (componentizeJs) return componentizeJs;
  // Its exports map hides package.json, so look where Node would look for the package.
  const paths = createRequire(import.meta.url).resolve.paths('@bytecodealliance/componentize-js') ?? [];
  for (const p of paths) {
    const file = join(p, '@bytecodealliance', 'componentize-js', 'package.json');
    if (existsSync(file)) return (componentizeJs = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version);
  }
  throw new Error('cannot find @bytecodealliance/componentize-js');
}

interface Entry {
  sha256: string;
  bytes: number;
  release: boolean;
  /** When the entry was last written or used (ms since the epoch). */
  used: number;
}

interface Index {
  format: number;
  entries: Record<string, Entry>;
  /** Output files (absolute paths) and the key they were last written from. */
  outputs: Record<string, { key: string; sha256: string; bytes: number }>;
}

export interface CachedComponent {
  sha256: string;
  bytes: number;
}

/**
 * What an output file holds beyond the cached component: `finish` turns the
 * cached bytes into the file (attaching the source map), and `key` names the
 * result, so an output is current only if it was written from that key.
 */
export interface CacheOutput {
  key: string;
  finish: (cached: Uint8Array) => Uint8Array;
}

export class BuildCache {
  readonly dir: string;
  /** Entries kept, most recently used first. */
  readonly keep: number;

  constructor(dir: string, keep = KEPT_ENTRIES) {
    this.dir = dir;
    this.keep = keep;
  }

  /** The cache of plugin `id`: under `cacheDir`, `$AIRLOCK_BUILD_CACHE`, or the plugin's `node_modules/.cache/airlock-plugin/`. */
  static for(pluginDir: string, id: string, cacheDir?: string): BuildCache {
    const root = cacheDir ?? (process.env.AIRLOCK_BUILD_CACHE || join(pluginDir, 'node_modules', '.cache', 'airlock-plugin'));
    return new BuildCache(join(root, id.replace(/[^\w.-]/g, '_')));
  }

  /**
   * Where development engines are kept (see dev-engine.ts): under `cacheDir`
   * or `$AIRLOCK_BUILD_CACHE` when given, else in the user's cache
   * (`$XDG_CACHE_HOME/airlock-plugin/`, by default `~/.cache/airlock-plugin/`),
   * so that every project on the machine shares them. An engine depends only
   * on its world and the tools' versions, never on a plugin's code.
   */
  static forEngines(cacheDir?: string): BuildCache {
    const root = cacheDir ?? (process.env.AIRLOCK_BUILD_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'airlock-plugin'));
    return new BuildCache(join(root, ENGINES_DIR), KEPT_ENGINES);
  }

  /** Where TypeScript keeps its incremental state for this plugin. */
  get buildInfoFile(): string {
    return join(this.dir, 'typecheck.tsbuildinfo');
  }

  /** The output file, if it holds what `output` names (checked by its hash). */
  async current(outFile: string, output: CacheOutput): Promise<CachedComponent | undefined> {
    const record = (await this.#read()).outputs[outFile];
    if (record?.key !== output.key) return undefined;
    const bytes = await readFile(outFile).catch(() => undefined);
    return bytes && sha256(bytes) === record.sha256 ? { sha256: record.sha256, bytes: bytes.byteLength } : undefined;
  }

  /** Write the component cached for `key`, finished by `output`, to `outFile`; undefined when there is none (or it is damaged). */
  async restore(key: string, outFile: string, output: CacheOutput): Promise<CachedComponent | undefined> {
    const index = await this.#read();
    const entry = index.entries[key];
    if (!entry) return undefined;
    const cached = await readFile(this.#file(key)).catch(() => undefined);
    if (!cached || sha256(cached) !== entry.sha256) return undefined;
    const bytes = output.finish(cached);
    await writeAtomically(outFile, bytes);
    entry.used = Date.now();
    const written = { key: output.key, sha256: sha256(bytes), bytes: bytes.byteLength };
    index.outputs[outFile] = written;
    await this.#write(index);
    return { sha256: written.sha256, bytes: written.bytes };
  }

  /**
   * `outFile` holding the component cached for `key`: as it is when it already
   * does, else restored from the cache; undefined on a miss. A cache that
   * cannot be read is a miss, not a failed build.
   */
  async find(key: string, outFile: string, output: CacheOutput): Promise<CachedComponent | undefined> {
    return (await this.current(outFile, output).catch(() => undefined)) ?? (await this.restore(key, outFile, output).catch(() => undefined));
  }

  /**
   * Keep `cached` as the component for `key`, record that `outFile` holds
   * `written` (what `output` made of it), and evict old entries.
   */
  async store(key: string, cached: Uint8Array, release: boolean, outFile: string, output: CacheOutput, written: Uint8Array): Promise<void> {
    await writeAtomically(this.#file(key), cached);
    const index = await this.#read();
    index.entries[key] = { sha256: sha256(cached), bytes: cached.byteLength, release, used: Date.now() };
    index.outputs[outFile] = { key: output.key, sha256: sha256(written), bytes: written.byteLength };
    const keep = new Set(
      Object.entries(index.entries)
        .sort(([, a], [, b]) => b.used - a.used)
        .slice(0, this.keep)
        .map(([k]) => k),
    );
    for (const k of Object.keys(index.entries)) {
      if (keep.has(k)) continue;
      delete index.entries[k];
      await rm(this.#file(k), { force: true });
    }
    await this.#write(index);
  }

  /** The keys held, most recently used first. */
  async keys(): Promise<string[]> {
    return Object.entries((await this.#read()).entries)
      .sort(([, a], [, b]) => b.used - a.used)
      .map(([k]) => k);
  }

  #file(key: string): string {
    return join(this.dir, `${key}.wasm`);
  }

  async #read(): Promise<Index> {
    try {
      const index = JSON.parse(await readFile(join(this.dir, 'index.json'), 'utf8')) as Index;
      if (index.format === CACHE_FORMAT && index.entries && index.outputs) return index;
    } catch {
      // Missing or damaged: start over.
    }
    return { format: CACHE_FORMAT, entries: {}, outputs: {} };
  }

  async #write(index: Index): Promise<void> {
    // Forget outputs that are gone (a removed checkout or temporary copy): a
    // shared cache would otherwise record every directory ever built from it.
    for (const file of Object.keys(index.outputs)) if (!existsSync(file)) delete index.outputs[file];
    await writeAtomically(join(this.dir, 'index.json'), JSON.stringify(index, null, 1));
  }
}

/** Write through a sibling temporary file and rename, so readers never see half a file. */
export async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

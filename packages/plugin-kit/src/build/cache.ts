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
import { dirname, join } from 'node:path';

/** Bump when what goes into a key or the layout changes. */
const CACHE_FORMAT = 1;
/** Entries kept per plugin: the current dev and release builds, and the previous ones. */
export const KEPT_ENTRIES = 4;

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

export class BuildCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The cache of plugin `id`: under `cacheDir`, `$AIRLOCK_BUILD_CACHE`, or the plugin's `node_modules/.cache/airlock-plugin/`. */
  static for(pluginDir: string, id: string, cacheDir?: string): BuildCache {
    const root = cacheDir ?? (process.env.AIRLOCK_BUILD_CACHE || join(pluginDir, 'node_modules', '.cache', 'airlock-plugin'));
    return new BuildCache(join(root, id.replace(/[^\w.-]/g, '_')));
  }

  /** Where TypeScript keeps its incremental state for this plugin. */
  get buildInfoFile(): string {
    return join(this.dir, 'typecheck.tsbuildinfo');
  }

  /** The output file, if it holds the component built from `key` (checked by its hash). */
  async current(outFile: string, key: string): Promise<CachedComponent | undefined> {
    const record = (await this.#read()).outputs[outFile];
    if (record?.key !== key) return undefined;
    const bytes = await readFile(outFile).catch(() => undefined);
    return bytes && sha256(bytes) === record.sha256 ? { sha256: record.sha256, bytes: bytes.byteLength } : undefined;
  }

  /** Write the component cached for `key` to `outFile`; undefined when there is none (or it is damaged). */
  async restore(key: string, outFile: string): Promise<CachedComponent | undefined> {
    const index = await this.#read();
    const entry = index.entries[key];
    if (!entry) return undefined;
    const bytes = await readFile(this.#file(key)).catch(() => undefined);
    if (!bytes || sha256(bytes) !== entry.sha256) return undefined;
    await writeAtomically(outFile, bytes);
    entry.used = Date.now();
    index.outputs[outFile] = { key, sha256: entry.sha256, bytes: entry.bytes };
    await this.#write(index);
    return { sha256: entry.sha256, bytes: entry.bytes };
  }

  /** Keep `bytes` as the component for `key`, record that `outFile` holds it, and evict old entries. */
  async store(key: string, bytes: Uint8Array, outFile: string, release: boolean): Promise<CachedComponent> {
    const hash = sha256(bytes);
    await writeAtomically(this.#file(key), bytes);
    const index = await this.#read();
    index.entries[key] = { sha256: hash, bytes: bytes.byteLength, release, used: Date.now() };
    index.outputs[outFile] = { key, sha256: hash, bytes: bytes.byteLength };
    const keep = new Set(
      Object.entries(index.entries)
        .sort(([, a], [, b]) => b.used - a.used)
        .slice(0, KEPT_ENTRIES)
        .map(([k]) => k),
    );
    for (const k of Object.keys(index.entries)) {
      if (keep.has(k)) continue;
      delete index.entries[k];
      await rm(this.#file(k), { force: true });
    }
    await this.#write(index);
    return { sha256: hash, bytes: bytes.byteLength };
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

/**
 * From a plugin's component file to what an instance runs: the component
 * read and hashed, its transpiled output taken from the cache (checked against
 * its digest record) or rebuilt, its contract checked, and its core modules
 * compiled with the plugin's memory cap. What was read and compiled is shared
 * by every plugin with the same component, and dropped once no loaded plugin
 * uses that component (prune), so a host that reloads changing builds for
 * weeks does not keep every build it ever compiled.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { devBundlePath, isDevBuild } from '@airlock/wit';
import { AirlockError } from './errors.js';
import type { Manifest } from './manifest.js';
import { loadCachedComponent, prepareComponent, saveCodeCache, sha256, sha256OfFile, shared, type CacheLookup, type CacheProblem, type ComponentCache, type LoadedComponent, type OnRead, type PreparedComponent } from './component.js';
import { ComponentIndex } from './component-index.js';
import { checkContract } from './contract.js';
import { MemoryCapError, PAGE_BYTES, compileCapped } from './sandbox/memory.js';
import type { Logger } from './logger.js';

/** A component ready to run: its checked transpiled output, its contract version, its compiled core modules. */
export interface PreparedPlugin {
  component: PreparedComponent;
  contract: string;
  modules: Promise<Record<string, WebAssembly.Module>>;
  /** A development build's bundle, as read at this load (see `DEV_BUNDLE_INTERFACE` in @airlock/wit). */
  dev: DevBundle | undefined;
}

/** The bundle beside a development build's engine: what its instances evaluate, and its source map. */
export interface DevBundle {
  source: Uint8Array;
  /** The source map's path, and its sha256 as read at this load (a map changed since is not used). */
  sourceMap: string | undefined;
  sourceMapSha256: string | undefined;
}

export class ComponentLoader {
  readonly #cache: ComponentCache;
  readonly #index: ComponentIndex;
  readonly #log: Logger;
  /** Components whose V8 code cache this host stored, and stores still being written (awaited by close). */
  readonly #codeCachesSaved = new Set<string>();
  readonly #writes = new Set<Promise<void>>();
  /** Compiled core modules by component hash and memory cap, shared by all instances. */
  readonly #modules = new Map<string, Promise<Record<string, WebAssembly.Module>>>();
  /**
   * Cache entries this host has read and checked, by component sha256: a
   * further plugin with the same component (and memory cap) starts from these
   * bytes and the compiled modules, without reading the entry again.
   */
  readonly #checked = new Map<string, LoadedComponent['component']>();
  #closed = false;

  /** Interfaces the integrator added (unversioned ids): a component may import them. */
  readonly #offered: ReadonlySet<string>;

  constructor(cache: ComponentCache, index: ComponentIndex, log: Logger, offered: ReadonlySet<string> = new Set()) {
    this.#offered = offered;
    this.#cache = cache;
    this.#index = index;
    this.#log = log;
  }

  /**
   * Read and hash the component, check its contract, and compile its core
   * modules. When the file is unchanged since a previous load (same path,
   * inode, size and mtime), its cached transpiled output is read and checked
   * against its digest record, and compiled, while the component's hash is
   * confirmed in parallel; nothing is instantiated before both hold. What the
   * instance runs is the bytes that were checked (component.ts).
   */
  async prepare(pluginDir: string, manifest: Manifest, memoryCapBytes: number, expectedSha256?: string, installing = false): Promise<PreparedPlugin> {
    const prepared = await this.#prepare(pluginDir, manifest, memoryCapBytes, expectedSha256);
    if (!isDevBuild(prepared.component.imports)) return { ...prepared, dev: undefined };
    // An installed plugin (whose hash is recorded) is never a development build.
    return { ...prepared, dev: await readDevBundle(join(pluginDir, manifest.component), manifest, installing || expectedSha256 !== undefined) };
  }

  async #prepare(pluginDir: string, manifest: Manifest, memoryCapBytes: number, expectedSha256: string | undefined): Promise<Omit<PreparedPlugin, 'dev'>> {
    const file = join(pluginDir, manifest.component);
    const cache = this.#cache;
    const onProblem = (problem: CacheProblem) => this.#log({ level: 'warn', message: describeCacheProblem(manifest.id, problem), plugin: manifest.id });
    const identity = await ComponentIndex.identity(file);
    const missing = (cause: unknown) => {
      throw new AirlockError('COMPONENT_INVALID', `plugin \`${manifest.id}\` has no component at ${manifest.component}`, {
        plugin: manifest.id,
        cause,
        hint: 'Build it with `airlock-plugin build` in the plugin directory.',
      });
    };
    const expected = this.#index.lookup(file, identity);
    // Known component: hash the file as it streams past (it is 10+ MB, and buffers that size
    // linger in the allocator long after they are freed); read it whole only to transpile it.
    const read = (expected ? sha256OfFile(file).then((hash) => ({ bytes: undefined, hash })) : readFile(file).then((bytes) => ({ bytes, hash: sha256(bytes) }))).catch(missing);
    const checked = expected ? this.#checked.get(expected) : undefined;
    const compiledForCap = expected ? this.#modules.get(`${expected}:${memoryCapBytes}`) : undefined;
    if (checked && compiledForCap) {
      // Read and checked by this host already: only the component file is re-hashed.
      const { hash } = await read;
      if (hash === expected && (expectedSha256 === undefined || hash === expectedSha256)) {
        return { component: checked, contract: checkContract(checked, manifest.kind, manifest.id, manifest.contract, this.#offered), modules: compiledForCap };
      }
    }
    // Core modules start compiling as soon as they are read, while they are hashed; they are used only if the entry checks out.
    const early = new Map<string, Promise<WebAssembly.Module>>();
    const compileEarly = (hash: string): OnRead | undefined => {
      if (this.#modules.has(`${hash}:${memoryCapBytes}`)) return undefined;
      return (name, bytes) => void (name.endsWith('.wasm') && early.set(name, compileCore(bytes, Math.floor(memoryCapBytes / PAGE_BYTES))));
    };
    let found: CacheLookup | undefined;
    if (expected) {
      found = await loadCachedComponent(cache, expected, onProblem, compileEarly(expected));
      if (found.state === 'intact') {
        const { component } = found.loaded;
        const compiled = this.#compile(found.loaded, memoryCapBytes, manifest.id, early);
        const { hash } = await read;
        if (hash === expected && (expectedSha256 === undefined || hash === expectedSha256)) {
          const contract = checkContract(component, manifest.kind, manifest.id, manifest.contract, this.#offered);
          this.#checked.set(hash, component);
          return { component, contract, modules: compiled };
        }
      }
      // The file changed without changing size or mtime, or its entry must be rebuilt: take the slow path with its real hash.
    }
    const bytes = (await read).bytes ?? (await readFile(file).catch(missing));
    const hash = sha256(bytes);
    if (expectedSha256 !== undefined && hash !== expectedSha256) throw tampered(manifest.id, hash, expectedSha256);
    const lookup = hash === expected ? found : undefined;
    if (!lookup) early.clear();
    const loaded = await prepareComponent(bytes, cache, hash, { lookup, onProblem, onRead: lookup ? undefined : compileEarly(hash), pluginId: manifest.id });
    const contract = checkContract(loaded.component, manifest.kind, manifest.id, manifest.contract, this.#offered);
    this.#checked.set(hash, loaded.component);
    this.#index.record(file, identity, hash);
    // Compiles started early belong to the entry that checked out; a rebuilt one is compiled from its own bytes.
    return { component: loaded.component, contract, modules: this.#compile(loaded, memoryCapBytes, manifest.id, loaded.component.transpiled ? undefined : early) };
  }

  /** Store the V8 code cache a worker made for a component's glue, once per component and host. */
  saveCodeCache(prepared: Promise<{ component: PreparedComponent }>, data: Uint8Array): void {
    prepared.then(
      ({ component }) => {
        if (this.#closed || this.#codeCachesSaved.has(component.sha256)) return;
        this.#codeCachesSaved.add(component.sha256);
        // Instances this plugin starts later (a pool, a restart after a trap) start with it.
        component.codeCache = shared(data);
        const writing = saveCodeCache(this.#cache, component, data).finally(() => this.#writes.delete(writing));
        this.#writes.add(writing);
      },
      () => {},
    );
  }

  /** Compiled core modules with memory capped, shared by every instance of a component with the same cap. */
  #compile(loaded: LoadedComponent, memoryCapBytes: number, pluginId: string, early?: Map<string, Promise<WebAssembly.Module>>): Promise<Record<string, WebAssembly.Module>> {
    const { component } = loaded;
    const key = `${component.sha256}:${memoryCapBytes}`;
    let modules = this.#modules.get(key);
    if (!modules) {
      modules = compileModules(loaded.core, Math.floor(memoryCapBytes / PAGE_BYTES), early).catch((err: unknown) => {
        if (!(err instanceof MemoryCapError)) throw err;
        throw new AirlockError('PLUGIN_MEMORY_LIMIT', `plugin \`${pluginId}\` cannot start: ${err.message}`, {
          plugin: pluginId,
          hint: 'Raise `limits.memoryMb` in the plugin manifest (the host caps it at its maxMemoryMb).',
        });
      });
      this.#modules.set(key, modules);
      modules.catch(() => this.#modules.delete(key));
    }
    return modules;
  }

  /** Forget what was read and compiled for components no loaded plugin uses (`inUse`: their sha256). */
  prune(inUse: ReadonlySet<string>): void {
    for (const hash of this.#checked.keys()) if (!inUse.has(hash)) this.#checked.delete(hash);
    for (const key of this.#modules.keys()) if (!inUse.has(key.slice(0, key.indexOf(':')))) this.#modules.delete(key);
    for (const hash of this.#codeCachesSaved) if (!inUse.has(hash)) this.#codeCachesSaved.delete(hash);
  }

  /** Components whose read and compiled output is held now. */
  get held(): number {
    return this.#checked.size;
  }

  /** Finish the writes under way (code caches, the component index); save nothing after. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#index.flush(), ...this.#writes]);
  }
}

/**
 * The bundle of the development build at `file`. An installed plugin is
 * never one: its recorded hash covers the engine, not the bundle beside it.
 */
async function readDevBundle(file: string, manifest: Manifest, installed: boolean): Promise<DevBundle> {
  const id = manifest.id;
  if (installed) {
    throw new AirlockError('COMPONENT_INVALID', `plugin \`${id}\` is a development build, which cannot be installed: its code is in a file beside the component, not in it`, {
      plugin: id,
      hint: 'Build it with `airlock-plugin build` (without --dev), then install it again.',
    });
  }
  const bundleFile = devBundlePath(file);
  const [source, map] = await Promise.all([
    readFile(bundleFile).catch((cause: unknown) => {
      throw new AirlockError('COMPONENT_INVALID', `plugin \`${id}\` has a development build at ${manifest.component} but no bundle beside it (${devBundlePath(manifest.component)})`, {
        plugin: id,
        cause,
        hint: 'Build it again with `airlock-plugin build --dev`, or make a release build with `airlock-plugin build`.',
      });
    }),
    readFile(`${bundleFile}.map`).catch(() => undefined),
  ]);
  return { source: shared(source), sourceMap: map && `${bundleFile}.map`, sourceMapSha256: map && sha256(map) };
}

function tampered(id: string, actual: string, expected: string): AirlockError {
  return new AirlockError('INTEGRITY_FAILED', `the component of \`${id}\` changed since it was installed (sha256 ${actual.slice(0, 12)}…, recorded ${expected.slice(0, 12)}…)`, {
    plugin: id,
    hint: `Do not run it. Reinstall it from a source you trust (\`airlock plugin remove ${id}\`, then add it again).`,
  });
}

/**
 * Compile core modules from the bytes that were checked against the cache
 * entry's digest (`early`: compiles of those same bytes started while they
 * were being checked).
 */
async function compileModules(core: Record<string, Uint8Array>, maxPages: number, early?: Map<string, Promise<WebAssembly.Module>>): Promise<Record<string, WebAssembly.Module>> {
  const entries = await Promise.all(Object.entries(core).map(async ([f, bytes]) => [f, await (early?.get(f) ?? compileCore(bytes, maxPages))] as const));
  return Object.fromEntries(entries);
}

/** One core module with its memory capped; a failure is the caller's to observe. */
function compileCore(bytes: Uint8Array, maxPages: number): Promise<WebAssembly.Module> {
  const compiled = (async () => compileCapped(bytes, maxPages))();
  compiled.catch(() => {});
  return compiled;
}

/** The warning a load logs when it finds a cache entry changed. */
function describeCacheProblem(id: string, p: CacheProblem): string {
  switch (p.kind) {
    case 'changed':
      return `the cached transpiled output of \`${id}\` changed since it was written (${p.problem}, in ${p.path}); discarding it and rebuilding it from the component`;
    case 'unrecorded':
      return `the cached transpiled output of \`${id}\` in ${p.path} has no recorded digest and differs from what its component transpiles to (${p.problem}); replacing it`;
    case 'code-cache':
      return `the V8 code cache of \`${id}\` changed since it was written (${p.problem}, ${p.path}); discarding it`;
  }
}

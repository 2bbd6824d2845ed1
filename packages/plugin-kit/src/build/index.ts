/**
 * `airlock-plugin build`: type-check the plugin's TypeScript, bundle it with
 * its npm dependencies into one ES module, and componentize it against the
 * world of the plugin's kind in a child process, unless the build cache holds
 * the component for that bundle already.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism, freemem, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { SERVED_CONTRACTS, contractTarget, readManifest, type Manifest } from '@airlock/host';
import { CONTRACT_VERSION, COMMON_EXPORTS, DEV_BUNDLE_INTERFACE, DEV_BUNDLE_WIT, INTERFACE_SINCE, SOURCE_MAP_SECTION, WIT_PACKAGE, devBundlePath, exportNameFor, releaseLine, versionBefore, withCustomSection, witDirFor, worldFor } from '@airlock/wit';
import { BuildCache, cacheKey, sha256, writeAtomically, type CacheOutput } from './cache.js';
import { checkComponentKind, definerOf } from './component-exports.js';
import { BuildError, formatDiagnostic, fromEsbuild } from './errors.js';
import { typecheck } from './typecheck.js';
import { ENGINE_FILE, engineSource, hostInterfacesOf } from './dev-engine.js';
import { INTERFACES_WORLD, INTERFACE_TYPES_FILE, declarationInputs, explainWitError, interfaceDeclarations, pluginWorld, projectInterfaces, readProjectWit, type InterfaceImport, type ProjectInterfaces } from './interfaces.js';

export { BuildError, formatDiagnostic } from './errors.js';
export type { BuildDiagnostic, BuildErrorCode } from './errors.js';
export { componentExports } from './component-exports.js';
export { INTERFACE_TYPES_FILE, PROJECT_WIT_DIR } from './interfaces.js';

export interface BuildOptions {
  /** The plugin directory (holding package.json). Default: the current directory. */
  dir?: string;
  /** Drop JS stack traces from the component (smaller, silent traps). Default false. */
  release?: boolean;
  /**
   * A development build: write the kind's prebuilt engine component (built
   * once and cached) and the plugin's bundle beside it (`dist/plugin.dev.js`),
   * which the engine evaluates when the host starts it. A change then takes a
   * bundle, not a componentize. Such a build runs in the same sandbox under the
   * same contract, but cannot be installed, packed or published; see
   * `DEV_BUNDLE_INTERFACE` in @airlock/wit. Not with `release`. Default false.
   */
  dev?: boolean;
  /** Skip the TypeScript type check. Default false. */
  skipTypecheck?: boolean;
  /**
   * Use the build cache: a build whose bundle and tools are unchanged restores
   * the component instead of componentizing. `false` componentizes anyway
   * (and caches the result). Default true.
   */
  cache?: boolean;
  /**
   * Where the cache lives (a subdirectory per plugin id). Default:
   * `$AIRLOCK_BUILD_CACHE`, else `node_modules/.cache/airlock-plugin/` in the
   * plugin directory. Development engines default to the user's cache
   * instead (`~/.cache/airlock-plugin/`), shared by every project.
   */
  cacheDir?: string;
  /** Progress lines ("type-checking", "bundling", …). */
  onProgress?: (step: string) => void;
  /** Stops the build (and a running componentize child); the build rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface BuildResult {
  id: string;
  kind: Manifest['kind'];
  /** The plugin directory. */
  dir: string;
  /** Absolute path of the written component. */
  component: string;
  bytes: number;
  /** sha256 of the component. */
  sha256: string;
  /** Whether the component came from the build cache (componentize did not run). For a development build: the engine. */
  cached: boolean;
  /** A development build (see {@link BuildOptions.dev}). */
  dev: boolean;
  /** A development build's bundle, beside the component (absolute path); undefined for a release build. */
  bundle: string | undefined;
  /** The cache key: sha256 over the bundle, the WIT world, the tool versions and the release flag. */
  key: string;
  release: boolean;
  ms: { typecheck: number; bundle: number; componentize: number; total: number };
}

/**
 * A script the build runs in a child process. Resolved from dist/build/ and from
 * the bundles that inline this module (dist/cli/, dist/testing/); when this
 * module runs from source (the SDK's own tests), from the built dist/build/.
 */
function buildScript(name: string): string {
  const beside = fileURLToPath(new URL(`../build/${name}`, import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL(`../../dist/build/${name}`, import.meta.url));
}
const childScript = buildScript('componentize-child.js');
const preopensScript = buildScript('preopens.js');
const witChildScript = buildScript('wit-child.js');
/** Changes when the declarations written for the same WIT would change (the generator's version, how they are put together). */
const TYPES_GENERATOR = 'jco-transpile 0.15.0; 1';
/** The WASI packages plugins may import directly (see worldFiles). */
const wasiWitDir = fileURLToPath(new URL('../../wit/deps/', import.meta.url));

/**
 * The WASI version plugin code imports. It must be the version the
 * componentize-js engine itself links (StarlingMonkey in componentize-js
 * 0.23 imports wasi:*@0.2.12), so the component has one copy of each
 * interface. Changing componentize-js means checking this.
 */
export const WASI_VERSION = '0.2.12';

interface World {
  /** WIT files by path inside the WIT directory. */
  files: Record<string, string>;
  worldName: string;
}

const worlds = new Map<string, Promise<Record<string, string>>>();

/**
 * The contract version the plugin is built against: the latest this
 * plugin-kit knows in the manifest's `contract` range (the current one when
 * it declares none). A plugin of a kind the version lacks cannot be built.
 */
function targetOf(manifest: Manifest): string {
  const target = contractTarget(manifest.contract);
  if (!target) {
    throw new BuildError('CONTRACT_UNSUPPORTED', `the manifest asks for contract ${manifest.contract}, but this @airlock/plugin-kit builds ${SERVED_CONTRACTS}`, undefined, `Make "contract" in the "airlock" manifest a range that holds one of those (e.g. "^${CONTRACT_VERSION}"), or use a plugin-kit that builds ${manifest.contract}.`);
  }
  const since = INTERFACE_SINCE[manifest.kind];
  if (since && versionBefore(target, since)) {
    throw new BuildError('CONTRACT_UNSUPPORTED', `${manifest.kind} plugins came with contract ${since}, but the manifest asks for contract ${manifest.contract}`, undefined, `Make "contract" in the "airlock" manifest "^${since}" or later, or leave it out.`);
  }
  return target;
}

/** The WASI interfaces the SDK's `env` and `fs` import. */
const PLUGIN_WASI = [`wasi:cli/environment@${WASI_VERSION}`, `wasi:filesystem/preopens@${WASI_VERSION}`];

/**
 * The world a plugin is componentized against: the kind's contract world (of
 * contract `version`) plus the WASI interfaces the SDK's `env` and `fs` use,
 * plus the integrator's interfaces the manifest names (from the project's
 * `wit/`). The contract itself stays free of WASI (the host provides those
 * interfaces anyway, gated by the grant); the build adds them so plugin code
 * can import them. `dev`: the world of a development build's engine.
 */
async function worldFiles(kind: Manifest['kind'], version: string, interfaces: ProjectInterfaces, dev = false): Promise<World> {
  const base = await contractFiles(version);
  const name = worldFor(kind);
  const files: Record<string, string> = { ...base, ...interfaces.files, ...(dev ? { 'deps/airlock-dev/bundle.wit': DEV_BUNDLE_WIT } : {}) };
  files['plugin.wit'] = pluginWorld({
    contract: `${WIT_PACKAGE}/${name}@${version}`,
    world: name,
    // A development build's engine imports one interface more (see dev-engine.ts).
    wasi: [...PLUGIN_WASI, ...(dev ? [DEV_BUNDLE_INTERFACE] : [])],
    interfaces: interfaces.imports,
  });
  return { files, worldName: `airlock:build/${name}` };
}

/** The WASI packages and the contract of `version`, as the build's WIT directory holds them (read once per process). */
function contractFiles(version: string): Promise<Record<string, string>> {
  let files = worlds.get(version);
  if (!files) {
    files = (async () => {
      const files: Record<string, string> = {};
      for (const f of await readdir(wasiWitDir, { recursive: true })) {
        if (f.endsWith('.wit')) files[join('deps', f)] = await readFile(join(wasiWitDir, f), 'utf8');
      }
      const contract = join('deps', WIT_PACKAGE.replace(':', '-'));
      const source = witDirFor(version);
      for (const f of (await readdir(source)).filter((f) => f.endsWith('.wit'))) files[join(contract, f)] = await readFile(join(source, f), 'utf8');
      return files;
    })();
    files.catch(() => worlds.delete(version));
    worlds.set(version, files);
  }
  return files;
}

/**
 * Write the TypeScript declarations of the integrator's interfaces to
 * `.airlock-plugin/interfaces.d.ts` (jco's guest types, generated in a child
 * process, which also checks the WIT fully), unless the file there was made
 * from the same WIT; remove a stale one when the manifest names none. Returns
 * the file's path, or undefined when there are no interfaces.
 */
async function writeInterfaceTypes(dir: string, world: World, interfaces: ProjectInterfaces, progress: (step: string) => void, signal: AbortSignal | undefined): Promise<string | undefined> {
  const file = join(dir, INTERFACE_TYPES_FILE);
  if (interfaces.imports.length === 0) {
    await rm(file, { force: true });
    return undefined;
  }
  const inputs = sha256(JSON.stringify([TYPES_GENERATOR, world.files, interfaces.imports]));
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (declarationInputs(existing) === inputs) return file;
  progress('generating interface types');
  const work = await mkdtemp(join(tmpdir(), 'airlock-types-'));
  try {
    const witPath = await writeWorld(work, world);
    const report = await runChild<{ files: Record<string, string> }>(witChildScript, { witPath, worldName: `airlock:build/${INTERFACES_WORLD}` }, 'jco type generation', signal);
    if (!report.ok) throw explainWitError(report.message, witPath, interfaces);
    await mkdir(dirname(file), { recursive: true });
    await writeAtomically(file, new TextEncoder().encode(interfaceDeclarations(report.files, interfaces.imports, inputs)));
    return file;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Run a build script in a child process (after the preopens preload) and read
 * the JSON report it writes last on stdout. Aborting kills the child and
 * rejects with the signal's reason.
 */
function runChild<T extends object>(script: string, job: object, what: string, signal: AbortSignal | undefined): Promise<({ ok: true } & T) | { ok: false; message: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', pathToImport(preopensScript), script, JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Aborting kills the child; 'error' then rejects with an AbortError.
      ...(signal ? { signal } : {}),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      let report: ({ ok: boolean; message?: string } & T) | undefined;
      try {
        report = JSON.parse(out.trim().split('\n').pop() ?? '');
      } catch {
        report = undefined;
      }
      if (code === 0 && report?.ok) return resolvePromise(report as { ok: true } & T);
      if (signal?.aborted) return reject(signal.reason);
      resolvePromise({ ok: false, message: report?.message ?? `${what} exited with code ${code}`, stderr: err });
    });
  });
}

async function writeWorld(work: string, world: World): Promise<string> {
  const witPath = join(work, 'wit');
  for (const [path, text] of Object.entries(world.files)) {
    await mkdir(dirname(join(witPath, path)), { recursive: true });
    await writeFile(join(witPath, path), text);
  }
  return witPath;
}

/**
 * Build the plugin in `options.dir` into its manifest's component path
 * (default dist/plugin.wasm). The type check always runs (unless skipped);
 * componentize runs only when the cache has no component for the bundle.
 */
export async function buildPlugin(options: BuildOptions = {}): Promise<BuildResult> {
  const dir = resolve(options.dir ?? '.');
  const signal = options.signal;
  const progress = (step: string) => {
    signal?.throwIfAborted();
    options.onProgress?.(step);
  };
  const release = !!options.release;
  const devBuild = !!options.dev;
  if (devBuild && release) throw new BuildError('OPTIONS_CONFLICT', 'a build is either a development build or a release build, not both', undefined, 'Drop `dev` (--dev) or `release` (--release).');
  const useCache = options.cache !== false;
  const t0 = performance.now();
  const manifest = await readManifest(dir);
  const entry = join(dir, manifest.entry);
  if (!existsSync(entry)) {
    throw new BuildError('ENTRY_NOT_FOUND', `${manifest.entry} does not exist in ${dir}`, undefined, 'Create it, or set "entry" in the "airlock" manifest to your plugin\'s source file.');
  }
  const cache = BuildCache.for(dir, manifest.id, options.cacheDir);
  const target = targetOf(manifest);
  // The integrator's interfaces the manifest names, from the project's wit/: checked, and their types written, first.
  const interfaces = projectInterfaces(manifest.capabilities.interfaces, await readProjectWit(dir));
  const world = await worldFiles(manifest.kind, target, interfaces);
  const types = await writeInterfaceTypes(dir, world, interfaces, progress, signal);

  let t = performance.now();
  if (!options.skipTypecheck) {
    progress('type-checking');
    await typecheck(dir, entry, { buildInfoFile: cache.buildInfoFile, fresh: !useCache, declarations: types ? [types] : [] });
  }
  const typecheckMs = performance.now() - t;

  t = performance.now();
  progress('bundling');
  const { code: bundle, map } = await bundlePlugin(dir, entry, manifest, target, interfaces.imports, devBuild ? 'cjs' : 'esm');
  const key = cacheKey({ bundle, wit: world.files, release, wasi: WASI_VERSION });
  // The component carries the bundle's source map, so errors and traps can name src/ lines.
  // A cached component is stored without it: an edit that moves lines but bundles the same
  // bytes reuses the componentized core and attaches the new map.
  const bundleMs = performance.now() - t;

  const outFile = join(dir, manifest.component);
  const bundleFile = devBundlePath(outFile);
  const done = (component: { sha256: string; bytes: number }, cached: boolean, componentizeMs: number): BuildResult => ({
    id: manifest.id,
    kind: manifest.kind,
    dir,
    component: outFile,
    bytes: component.bytes,
    sha256: component.sha256,
    cached,
    dev: devBuild,
    bundle: devBuild ? bundleFile : undefined,
    key,
    release,
    ms: { typecheck: typecheckMs, bundle: bundleMs, componentize: componentizeMs, total: performance.now() - t0 },
  });

  if (devBuild) {
    const engine = await devEngine(manifest, target, interfaces, { useCache, cacheDir: options.cacheDir, outFile, progress, signal });
    // The bundle after the engine: a host never reads a new bundle beside an old component.
    await writeAtomically(`${bundleFile}.map`, map);
    await writeAtomically(bundleFile, bundle);
    return done(engine.component, engine.cached, engine.ms);
  }
  const output: CacheOutput = { key: sha256(`${key}:${sha256(map)}`), finish: (raw) => withCustomSection(raw, SOURCE_MAP_SECTION, map) };
  // Once the release component is in place, a development build's bundle left beside it would only mislead.
  const dropDevBundle = () => Promise.all([rm(bundleFile, { force: true }), rm(`${bundleFile}.map`, { force: true })]);

  if (useCache) {
    const hit = await cache.find(key, outFile, output);
    if (hit) {
      progress('cached');
      await dropDevBundle();
      return done(hit, true, 0);
    }
  }

  t = performance.now();
  progress('componentizing');
  const raw = await componentizeSource(bundle, 'plugin.js', world, manifest, target, !release, signal);
  const bytes = output.finish(raw);
  await writeAtomically(outFile, bytes);
  await dropDevBundle();
  // A cache that cannot be written costs the next build time, not this one.
  await cache.store(key, raw, release, outFile, output, bytes).catch(() => undefined);
  return done({ sha256: sha256(bytes), bytes: bytes.byteLength }, false, performance.now() - t);
}

/**
 * Componentize `source` (written as `name`, the file its stack frames carry)
 * against `world` in a child process, in a temporary directory; the component,
 * checked to export the manifest kind's interface.
 */
async function componentizeSource(source: string | Uint8Array, name: string, world: World, manifest: Manifest, target: string, debug: boolean, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const work = await mkdtemp(join(tmpdir(), 'airlock-build-'));
  try {
    const sourcePath = join(work, name);
    await writeFile(sourcePath, source);
    const witPath = await writeWorld(work, world);
    const outFile = join(work, 'component.wasm');
    await runComponentize({ sourcePath, witPath, worldName: world.worldName, outFile, debug }, manifest, signal);
    signal?.throwIfAborted();
    const raw = await readFile(outFile);
    checkComponentKind(raw, manifest.kind, manifest.entry, target);
    return raw;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Put the development engine of the plugin's world at `outFile`: left alone
 * when it is there already, else restored from the engine cache, else
 * componentized (once per world, contract and tool versions) and cached.
 */
async function devEngine(
  manifest: Manifest,
  target: string,
  interfaces: ProjectInterfaces,
  o: { useCache: boolean; cacheDir: string | undefined; outFile: string; progress: (step: string) => void; signal: AbortSignal | undefined },
): Promise<{ component: { sha256: string; bytes: number }; cached: boolean; ms: number }> {
  const world = await worldFiles(manifest.kind, target, interfaces, true);
  const contractWorlds = world.files[join('deps', WIT_PACKAGE.replace(':', '-'), 'worlds.wit')] ?? '';
  const source = engineSource({
    imports: [...hostInterfacesOf(contractWorlds).map((name) => `${WIT_PACKAGE}/${name}@${target}`), ...PLUGIN_WASI, ...interfaces.imports.map((i) => i.versioned)],
    exports: [exportNameFor(manifest.kind), ...COMMON_EXPORTS],
  });
  const key = cacheKey({ bundle: source, wit: world.files, release: false, wasi: WASI_VERSION });
  const cache = BuildCache.forEngines(o.cacheDir);
  const output: CacheOutput = { key, finish: (raw) => raw };
  if (o.useCache) {
    const hit = await cache.find(key, o.outFile, output);
    if (hit) {
      o.progress('cached');
      return { component: hit, cached: true, ms: 0 };
    }
  }
  const t = performance.now();
  o.progress('componentizing the development engine');
  const raw = await componentizeSource(source, ENGINE_FILE, world, manifest, target, true, o.signal);
  await writeAtomically(o.outFile, raw);
  await cache.store(key, raw, false, o.outFile, output, raw).catch(() => undefined);
  return { component: { sha256: sha256(raw), bytes: raw.byteLength }, cached: false, ms: performance.now() - t };
}

/**
 * Write only the TypeScript declarations of the integrator's interfaces the
 * manifest in `dir` names (`.airlock-plugin/interfaces.d.ts`), checking them
 * against the project's `wit/` as a build does: for the editor, without a
 * build. Resolves with the file's path, or undefined when the manifest names
 * no interfaces (a stale file is removed).
 */
export async function generateInterfaceTypes(options: Pick<BuildOptions, 'dir' | 'signal'> = {}): Promise<string | undefined> {
  const dir = resolve(options.dir ?? '.');
  const manifest = await readManifest(dir);
  const interfaces = projectInterfaces(manifest.capabilities.interfaces, await readProjectWit(dir));
  const world = await worldFiles(manifest.kind, targetOf(manifest), interfaces);
  return writeInterfaceTypes(dir, world, interfaces, () => options.signal?.throwIfAborted(), options.signal);
}

/** What became of one plugin of {@link buildPlugins}. */
export type BuildOutcome = { dir: string; ok: true; result: BuildResult } | { dir: string; ok: false; error: Error };

export interface BuildPluginsOptions extends Omit<BuildOptions, 'dir' | 'onProgress'> {
  /** Builds at once. Default: {@link defaultConcurrency}. */
  concurrency?: number;
  /** Progress of each plugin, by its directory as given. */
  onProgress?: (dir: string, step: string) => void;
  /** Called as each plugin finishes, in the order they finish. */
  onDone?: (outcome: BuildOutcome) => void;
}

/**
 * Memory one build may take. A componentize-js 0.23 child peaks at 755–770 MiB
 * RSS (VmHWM, measured building the sample plugins, 12–13 MB components:
 * notes 765 MiB, 755 MiB with --release; provider-openai and auth-device-flow
 * up to 770 MiB); the rest is headroom. It also keeps ~1.5 cores busy.
 */
const BYTES_PER_BUILD = 900 * 1024 * 1024;

/**
 * Cores one build keeps busy. Measured on 2 cores: the three sample plugins
 * took 37–38 s two at a time and 31.5–37 s one at a time, so two builds on two
 * cores only compete.
 */
const CORES_PER_BUILD = 1.5;

/** Builds that fit the machine: one per 1.5 cores, as far as free memory allows ~900 MB each, at least one. */
export function defaultConcurrency(cores = availableParallelism(), freeBytes = freemem()): number {
  return Math.max(1, Math.min(Math.floor(cores / CORES_PER_BUILD), Math.floor(freeBytes / BYTES_PER_BUILD)));
}

/**
 * Build several plugins, `concurrency` at a time. A failure does not stop the
 * others; the outcomes come back in the order of `dirs`.
 */
export async function buildPlugins(dirs: string[], options: BuildPluginsOptions = {}): Promise<BuildOutcome[]> {
  const { concurrency = defaultConcurrency(), onProgress, onDone, ...build } = options;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const outcomes: BuildOutcome[] = new Array(dirs.length);
  let next = 0;
  const worker = async () => {
    while (next < dirs.length) {
      const i = next++;
      const dir = dirs[i]!;
      const outcome: BuildOutcome = await buildPlugin({ ...build, dir, onProgress: (step) => onProgress?.(dir, step) }).then(
        (result) => ({ dir, ok: true as const, result }),
        (error: unknown) => ({ dir, ok: false as const, error: error instanceof Error ? error : new Error(String(error)) }),
      );
      outcomes[i] = outcome;
      onDone?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, dirs.length) }, worker));
  return outcomes;
}

/** The bundle componentize-js reads, and its source map (paths relative to the plugin, no sources content). */
async function bundlePlugin(dir: string, entry: string, manifest: Manifest, target: string, interfaces: readonly InterfaceImport[], format: 'esm' | 'cjs'): Promise<{ code: Uint8Array; map: Uint8Array }> {
  const exportName = exportNameFor(manifest.kind);
  // The shim checks at build time (componentize-js runs top-level code while
  // snapshotting) that the default export is a plugin of the manifest's kind.
  const shim = [
    `import plugin from ${JSON.stringify(entry)};`,
    `if (!plugin || typeof plugin !== 'object' || !('kind' in plugin)) {`,
    `  throw new Error(${JSON.stringify(`${manifest.entry} must \`export default\` a plugin made with ${definerOf(manifest.kind)}() from @airlock/sdk`)});`,
    `}`,
    `if (plugin.kind !== ${JSON.stringify(manifest.kind)}) {`,
    `  throw new Error(${JSON.stringify(`the manifest says "kind": "${manifest.kind}", but ${manifest.entry} exports a `)} + plugin.kind + ' plugin');`,
    `}`,
    ...(releaseLine(target) === '0.1' && manifest.kind === 'provider' ? PROVIDER_0_1 : [`export const ${exportName} = plugin.exports;`]),
    // Every plugin world exports the hooks; a plugin made with an SDK from before them gets ones that do nothing.
    `export const lifecycle = plugin.lifecycle ?? { init() {}, shutdown() {}, onEvent() {} };`,
  ].join('\n');
  try {
    const out = await esbuild.build({
      stdin: { contents: shim, resolveDir: dir, sourcefile: 'airlock-entry.js', loader: 'js' },
      // Paths in messages and in the bundle's comments are relative to the
      // plugin, so the bundle (and the cache key) does not depend on the cwd.
      absWorkingDir: dir,
      bundle: true,
      // A development build's engine evaluates the bundle as a function body, its imports calls to `require`.
      format,
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      external: ['airlock:*', 'wasi:*'],
      // The SDK names the current contract's interfaces; a build for an earlier line names that line's.
      plugins: [...(target === CONTRACT_VERSION ? [] : [contractImports(target)]), integratorImports(interfaces)],
      outfile: 'plugin.js',
      write: false,
      logLevel: 'silent',
      keepNames: true,
      // External: the bundle itself stays the same bytes whatever the map says.
      sourcemap: 'external',
      sourcesContent: false,
    });
    const file = (suffix: string) => out.outputFiles.find((f) => f.path.endsWith(suffix))!.contents;
    return { code: file('plugin.js'), map: file('plugin.js.map') };
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    if (!failure.errors) throw new BuildError('BUNDLE_FAILED', `could not bundle ${manifest.entry}: ${String(err)}`);
    const found = fromEsbuild(failure.errors);
    // A development build's engine runs the bundle as a function body, where a top-level `await` cannot be.
    const topLevelAwait = format === 'cjs' && failure.errors.some((e) => /top-level await/i.test(e.text));
    const hint = topLevelAwait ? 'A development build cannot run top-level `await`: move that work into `init()` (or into the first call), or run `airlock-plugin dev --release`.' : undefined;
    throw new BuildError('BUNDLE_FAILED', `could not bundle ${manifest.entry}`, found.map(formatDiagnostic).join('\n'), hint, found);
  }
}

/**
 * The provider export for a build against contract 0.1: its `next` returns
 * one event (`undefined` at the end) where the SDK's returns a list, its
 * stream has no `cancel` (so the SDK must not read ahead: a 0.1 host only
 * drops the stream), and its info has no limits.
 */
const PROVIDER_0_1 = [
  `const disposeKey = Symbol.dispose ?? Symbol.for('dispose');`,
  `class ChatStream {`,
  `  #inner;`,
  `  constructor(inner) { this.#inner = inner; }`,
  `  async next() { return (await this.#inner.next())[0]; }`,
  `  [disposeKey]() { this.#inner[disposeKey]?.(); }`,
  `}`,
  `const { ChatStream: _batched, isAvailable: _isAvailable, ...common } = plugin.exports;`,
  `export const provider = {`,
  `  ...common,`,
  `  ChatStream,`,
  `  info: async () => { const { limits: _limits, ...rest } = await plugin.exports.info(); return rest; },`,
  `  streamChat: async (request) => new ChatStream(await plugin.exports.streamChat(request, { lookahead: false })),`,
  `};`,
];

/** An esbuild plugin that points the SDK's `airlock:plugin/<name>@<current>` imports at contract `version`. */
function contractImports(version: string): esbuild.Plugin {
  return {
    name: 'airlock-contract-version',
    setup(build) {
      build.onResolve({ filter: /^airlock:plugin\// }, (args) => ({ path: args.path.replace(/@[^@/]+$/, `@${version}`), external: true }));
    },
  };
}

/**
 * An esbuild plugin that makes `acme:kb/search` (and `acme:kb/search@<version>`)
 * the versioned import of the integrator's interface the manifest names, and
 * refuses, where it is imported, an interface the manifest does not name.
 */
export function integratorImports(interfaces: readonly InterfaceImport[]): esbuild.Plugin {
  return {
    name: 'airlock-integrator-interfaces',
    setup(build) {
      build.onResolve({ filter: /^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*(?:\/[a-z][a-z0-9-]*)+(?:@[^/]+)?$/ }, (args) => {
        const id = args.path.replace(/@[^@/]+$/, '');
        const ns = id.slice(0, id.indexOf(':'));
        // The host's own packages are external as they are; `node:` is not an interface.
        if (ns === 'airlock' || ns === 'wasi' || ns === 'node') return undefined;
        const found = interfaces.find((i) => i.id === id);
        if (!found) {
          return {
            errors: [
              {
                text: `${id} is not in "capabilities.interfaces" of the manifest`,
                notes: [{ text: `Add "${id}" to "capabilities.interfaces" in the "airlock" manifest, and put the integrator's WIT for it in wit/.` }],
              },
            ],
          };
        }
        if (args.path !== id && args.path !== found.versioned) {
          return { errors: [{ text: `${args.path} is not the version wit/ declares: import "${id}" (the build imports ${found.versioned})` }] };
        }
        return { path: found.versioned, external: true };
      });
    },
  };
}

interface Job {
  sourcePath: string;
  witPath: string;
  worldName: string;
  outFile: string;
  debug: boolean;
}

async function runComponentize(job: Job, manifest: Manifest, signal: AbortSignal | undefined): Promise<void> {
  const report = await runChild(childScript, job, 'componentize-js', signal);
  if (!report.ok) throw explainComponentizeError(report.message, report.stderr, manifest);
}

function pathToImport(file: string): string {
  return pathToFileURL(file).href;
}

/** componentize-js errors are terse; point at the likely cause. */
function explainComponentizeError(message: string, stderr: string, manifest: Manifest): BuildError {
  const output = [message, stderr].filter(Boolean).join('\n').trim();
  const thrown = /Error: (.*(must `export default`|the manifest says).*)/.exec(output);
  if (thrown) {
    const other = /exports a (\w+) plugin/.exec(thrown[1]!)?.[1];
    const hint = other
      ? `Set "kind": "${other}" in the "airlock" manifest if it is meant to be a ${other} plugin; otherwise make ${manifest.entry} \`export default\` a plugin made with ${definerOf(manifest.kind)}().`
      : undefined;
    return new BuildError('KIND_MISMATCH', thrown[1]!, output, hint);
  }
  const missing = /(missing|not exported|does not export)[^\n]*/i.exec(output);
  if (missing) {
    return new BuildError('COMPONENTIZE_FAILED', `the plugin does not provide what a ${manifest.kind} plugin must export: ${missing[0]}`, output);
  }
  return new BuildError('COMPONENTIZE_FAILED', `componentize-js failed: ${output.split('\n')[0]}`, output);
}

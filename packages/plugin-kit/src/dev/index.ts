/**
 * `watchPlugin`: rebuild a plugin when its sources change and hot-reload it
 * into a running host. This is what `airlock-plugin dev` runs; integrators
 * with their own host can run it too.
 *
 * @example
 * const host = await createHost({ home: '.airlock' });
 * await host.load('plugins/notes', { grant: 'manifest' });
 * const watcher = watchPlugin({ dir: 'plugins/notes', host, onBuild: (e) => console.log(`reloaded in ${e.ms.total} ms`) });
 * // … later
 * await watcher.close();
 */
import { readdirSync, statSync, watch, type Dirent, type FSWatcher } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { type Host, type LoadOptions, type PluginInfo } from '@airlock/host';
import { buildPlugin, type BuildResult } from '../build/index.js';

export interface WatchOptions {
  /** The plugin directory. Default: the current directory. */
  dir?: string;
  /** The running host to reload the plugin into after each successful build. */
  host?: Pick<Host, 'plugins' | 'reload' | 'load'>;
  /**
   * When the plugin is not loaded in `host` yet (say, its first build failed),
   * load it with these options after a successful build. Without them the
   * watcher only reloads a plugin that is already loaded.
   */
  load?: LoadOptions;
  /** Build before the first change. Default false. */
  buildOnStart?: boolean;
  /** Make release builds (componentized on every change, without JS stack traces). Default false. */
  release?: boolean;
  /**
   * Make development builds: the kind's prebuilt engine and the bundle beside
   * it, so that a change takes a bundle, not a componentize (see
   * `BuildOptions.dev`). Default: true unless `release`.
   */
  dev?: boolean;
  /** Skip the type check. Default false. */
  skipTypecheck?: boolean;
  /** The build cache directory (see BuildOptions.cacheDir). */
  cacheDir?: string;
  /** How long to wait for more changes before building, in ms. Default 100. */
  debounceMs?: number;
  /** After each successful build (and reload). */
  onBuild?: (event: WatchBuildEvent) => void;
  /** When a build or a reload fails. The plugin loaded before keeps serving. */
  onError?: (error: Error, event: WatchErrorEvent) => void;
  /** Build steps as they start ("type-checking", "bundling", …). */
  onProgress?: (step: string) => void;
  /** Stops watching when aborted, like `close()`. */
  signal?: AbortSignal;
}

export interface WatchBuildEvent {
  result: BuildResult;
  /** The changed files that caused the build, relative to the plugin directory (empty for the first build). */
  files: string[];
  /** Whether the new build replaced a loaded plugin (`host.reload`). */
  reloaded: boolean;
  /** Whether the build was loaded for the first time (see `load`). */
  loaded: boolean;
  /** The host's view of the plugin after a reload or load. */
  plugin: PluginInfo | undefined;
  ms: { build: number; reload: number; total: number };
}

export interface WatchErrorEvent {
  /** `build`: type check, bundle or componentize failed; `reload`/`load`: the host refused the new build. */
  phase: 'build' | 'reload' | 'load';
  files: string[];
}

export interface PluginWatcher {
  /** Stop watching, and stop a build in progress. */
  close(): Promise<void>;
  /** Build (and reload) now, as if a file had changed; resolves when that build is done. */
  rebuild(): Promise<void>;
  /** Resolves when no build is running or waiting. */
  idle(): Promise<void>;
}

/** Top-level directories not watched: dependencies and outputs (nor node_modules and hidden directories at any depth). */
const IGNORED_DIRS = new Set(['node_modules', 'dist', 'coverage']);
/** Files whose change can change a build (`.wit`: the integrator's interfaces in wit/). */
const SOURCE_FILE = /\.(?:[cm]?[jt]sx?|json|wit)$/;

/**
 * Watch the plugin in `options.dir`: on a change of its sources (`src/**`,
 * package.json, tsconfig, …, but not dist/ or node_modules/), wait
 * `debounceMs`, rebuild through the build cache (an unchanged bundle skips
 * componentize) and `host.reload()` the plugin. A failed build or reload
 * leaves the loaded plugin serving. Changes during a build start one more
 * build when it ends.
 */
export function watchPlugin(options: WatchOptions = {}): PluginWatcher {
  const dir = resolve(options.dir ?? '.');
  const debounceMs = options.debounceMs ?? 100;
  const watchers = new Map<string, FSWatcher>();
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  /** Stops a build in progress when the watcher closes. */
  const stop = new AbortController();
  const waiting: (() => void)[] = [];

  /** A directory worth watching: not dependencies, outputs or anything hidden. */
  const watchable = (rel: string): boolean => {
    const parts = rel.split(sep);
    return !IGNORED_DIRS.has(parts[0]!) && !parts.some((p) => p === 'node_modules' || p.startsWith('.'));
  };
  /** A file whose change can change the build. */
  const relevant = (rel: string): boolean => {
    const parts = rel.split(sep);
    const name = parts.pop()!;
    return (parts.length === 0 || watchable(parts.join(sep))) && !name.startsWith('.') && SOURCE_FILE.test(name);
  };

  const changedFile = (rel: string) => {
    if (closed || !relevant(rel)) return;
    changed.add(rel.split(sep).join('/'));
    clearTimeout(timer);
    timer = setTimeout(kick, debounceMs);
  };

  /**
   * Watch `rel` and the directories under it, one watcher per directory.
   * Directory watchers see files created, replaced (editors that save by
   * renaming a temporary file) and removed, where Node 20's recursive watch
   * on Linux watches each file and loses it once replaced.
   */
  const watchTree = (rel: string, added = false) => {
    if (closed || watchers.has(rel)) return;
    const abs = join(dir, rel);
    let entries: Dirent[];
    try {
      const w = watch(abs, (event, name) => name && changedIn(rel, name.toString(), event));
      w.on('error', () => unwatch(rel));
      watchers.set(rel, w);
      entries = readdirSync(abs, { withFileTypes: true });
    } catch (err) {
      if (rel === '') throw err; // The plugin directory itself.
      return; // Gone already.
    }
    for (const e of entries) {
      const child = join(rel, e.name);
      if (e.isDirectory() && watchable(child)) watchTree(child, added);
      // Files that arrived with a new directory (a checkout, a move) count as changed.
      else if (added) changedFile(child);
    }
  };

  const unwatch = (rel: string) => {
    for (const [path, w] of watchers) {
      if (path === rel || path.startsWith(rel + sep)) {
        w.close();
        watchers.delete(path);
      }
    }
  };

  const changedIn = (parent: string, name: string, event: string) => {
    if (closed) return;
    const rel = join(parent, name);
    if (event === 'rename' && watchable(rel)) {
      // Created or removed: a new directory gets watched, a removed one forgotten.
      let isDir = false;
      try {
        isDir = statSync(join(dir, rel)).isDirectory();
      } catch {
        if (watchers.has(rel)) unwatch(rel);
      }
      if (isDir) watchTree(rel, true);
    }
    changedFile(rel);
  };

  // Synchronously, so that a change right after watchPlugin() returns is seen.
  watchTree('');

  async function cycle(): Promise<void> {
    const files = [...changed].sort();
    changed.clear();
    const t0 = performance.now();
    let result: BuildResult;
    try {
      result = await buildPlugin({ dir, release: options.release, dev: options.dev ?? !options.release, skipTypecheck: options.skipTypecheck, cacheDir: options.cacheDir, onProgress: options.onProgress, signal: stop.signal });
    } catch (err) {
      if (!closed) options.onError?.(asError(err), { phase: 'build', files });
      return;
    }
    const built = performance.now();
    let plugin: PluginInfo | undefined;
    let reloaded = false;
    let loaded = false;
    const host = options.host;
    if (host && !closed) {
      const isLoaded = host.plugins().some((p) => p.id === result.id);
      const phase = isLoaded ? 'reload' : 'load';
      try {
        if (isLoaded) {
          plugin = await host.reload(result.id, dir);
          reloaded = true;
        } else if (options.load) {
          plugin = await host.load(dir, options.load);
          loaded = true;
        }
      } catch (err) {
        options.onError?.(asError(err), { phase, files });
        return;
      }
    }
    const end = performance.now();
    options.onBuild?.({ result, files, reloaded, loaded, plugin, ms: { build: built - t0, reload: end - built, total: end - t0 } });
  }

  function kick(): Promise<void> {
    timer = undefined;
    if (running) {
      again = true;
      return running;
    }
    running = cycle()
      .catch(() => {})
      .finally(() => {
        running = undefined;
        if (again && !closed) {
          again = false;
          void kick();
        } else if (timer === undefined) {
          for (const resolveIdle of waiting.splice(0)) resolveIdle();
        }
      });
    return running;
  }

  const idle = (): Promise<void> => (running || timer ? new Promise((r) => waiting.push(r)) : Promise.resolve());

  const close = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      stop.abort();
      clearTimeout(timer);
      timer = undefined;
      for (const w of watchers.values()) w.close();
      watchers.clear();
      options.signal?.removeEventListener('abort', onAbort);
    }
    await running;
    for (const resolveIdle of waiting.splice(0)) resolveIdle();
  };
  const onAbort = () => void close();
  if (options.signal?.aborted) void close();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  if (options.buildOnStart && !closed) void kick();

  return {
    close,
    rebuild: async () => {
      if (closed) return;
      clearTimeout(timer);
      if (running) {
        again = true;
        await idle();
      } else await kick();
    },
    idle,
  };
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** Build a plugin's component when it is missing or older than what it is built from. */
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, utimes } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readManifest } from '@airlock/host';
import { devBundlePath } from '@airlock/wit';
import { BuildError, buildPlugin, type BuildResult } from '../build/index.js';
import { TestHostError } from './errors.js';
import { pluginDir } from './paths.js';

export interface BuildIfStaleOptions {
  /** Skip the TypeScript type check (faster; type errors then surface only in your editor). Default false. */
  skipTypecheck?: boolean;
  /** Build without JS stack traces, as `airlock-plugin build --release`. Default false. */
  release?: boolean;
  /** Progress lines ("type-checking", "bundling", …). */
  onProgress?: (step: string) => void;
}

const mtime = (file: string): Promise<number> =>
  stat(file).then(
    (s) => s.mtimeMs,
    () => 0,
  );

/** The newest modification time among what the component is built from. */
async function newestInput(dir: string, entry: string): Promise<number> {
  const files = [join(dir, 'package.json'), join(dir, 'tsconfig.json'), join(dir, entry)];
  // Sources, and the integrator's WIT the plugin imports interfaces from.
  for (const sub of ['src', 'wit']) {
    if (existsSync(join(dir, sub))) files.push(...(await readdir(join(dir, sub), { recursive: true })).map((f) => join(dir, sub, f)));
  }
  // The SDK the plugin bundles: a newer SDK means a new runtime in the component.
  try {
    files.push(createRequire(join(dir, 'package.json')).resolve('@airlock/sdk'));
  } catch {
    // A plugin that does not use the SDK.
  }
  return Math.max(...(await Promise.all(files.map(mtime))));
}

/**
 * Whether the plugin in `dir` needs a build: its component (the manifest's
 * `component`, default dist/plugin.wasm) is missing or older than its
 * package.json, tsconfig.json, entry file, anything under src/ or wit/, or the
 * `@airlock/sdk` it bundles. A component shipped without its entry file
 * (a prebuilt plugin) is never stale; a development build always is.
 */
export async function isStale(dir: string | URL): Promise<boolean> {
  const root = pluginDir(dir);
  const manifest = await readPluginManifest(root);
  const built = await mtime(join(root, manifest.component));
  if (built === 0) return true;
  // A development build (`airlock-plugin dev`) is not what ships: tests run a full build.
  if (existsSync(join(root, devBundlePath(manifest.component)))) return true;
  // A prebuilt plugin shipped without its sources: nothing to build from.
  if (!existsSync(join(root, manifest.entry))) return false;
  return built < (await newestInput(root, manifest.entry));
}

/** Builds in progress in this process, by directory: two test files asking at once share one build. */
const building = new Map<string, Promise<BuildResult | undefined>>();

/**
 * Build the plugin in `dir` (a path or file URL) when {@link isStale} says so.
 * Resolves with the build's result, or undefined when the component was up to
 * date. A failed build rejects with a TestHostError `BUILD_FAILED` whose
 * message and `details` hold the compiler output.
 *
 * @example
 * // vitest globalSetup: build once before the test files run.
 * export default () => buildIfStale(new URL('..', import.meta.url));
 */
export function buildIfStale(dir: string | URL, options: BuildIfStaleOptions = {}): Promise<BuildResult | undefined> {
  const root = pluginDir(dir);
  let pending = building.get(root);
  if (!pending) {
    pending = (async () => ((await isStale(root)) ? build(root, options) : undefined))().finally(() => building.delete(root));
    building.set(root, pending);
  }
  return pending;
}

async function build(dir: string, options: BuildIfStaleOptions): Promise<BuildResult> {
  try {
    const result = await buildPlugin({ dir, skipTypecheck: options.skipTypecheck, release: options.release, onProgress: options.onProgress });
    // A build cache hit may leave the component as it was, older than the
    // input that made it stale (a rebuilt SDK that bundles the same): mark it
    // up to date, or it would stay stale and be built on every run.
    if (result.cached) {
      const now = new Date();
      await utimes(result.component, now, now);
    }
    return result;
  } catch (err) {
    if (!(err instanceof BuildError)) throw err;
    const details = err.details?.trim();
    throw new TestHostError('BUILD_FAILED', `building the plugin in ${dir} failed (${err.code}): ${err.message}${details ? `\n${details}` : ''}`, {
      details,
      cause: err,
      hint: 'Fix the plugin source and run the test again; `airlock-plugin build` in the plugin directory shows the same errors.',
    });
  }
}

/** The plugin's manifest; a directory that is not a plugin is a PLUGIN_DIR_INVALID naming it. */
export async function readPluginManifest(dir: string): ReturnType<typeof readManifest> {
  const file = join(dir, 'package.json');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) {
    throw new TestHostError('PLUGIN_DIR_INVALID', `${dir} is not a plugin directory: it has no package.json`, {
      hint: "Pass the plugin package's directory, e.g. `plugin: new URL('..', import.meta.url)` from a file in its test/ folder.",
    });
  }
  let pkg: unknown;
  try {
    pkg = JSON.parse(text);
  } catch {
    pkg = undefined; // readManifest reports the JSON error with its position
  }
  if (typeof pkg === 'object' && pkg !== null && !('airlock' in pkg)) {
    throw new TestHostError('PLUGIN_DIR_INVALID', `${file} has no "airlock" manifest, so ${dir} is not a plugin`, {
      hint: 'Add an "airlock" field with at least "kind" (tool, auth or provider) to package.json, or pass the directory of the plugin itself.',
    });
  }
  return readManifest(dir);
}

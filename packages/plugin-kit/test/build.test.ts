/**
 * Builds with real componentize runs: the cache, parallel builds, release
 * builds, `watchPlugin` and `airlock-plugin dev`. Componentizing takes 10–30 s
 * on a busy machine, so the plugins here share one cache directory and return
 * to sources built before wherever they can; assertions are on `cached` flags
 * and events, never on durations.
 *
 * The componentize step runs in a child process whose scripts exist only in
 * dist/, so this file runs the built package (`pnpm --filter @airlock/plugin-kit... build`).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkSdk } from './global-setup.js';
import { createHost, type LogEntry } from '@airlock/host';
import type * as Build from '../src/build/index.js';
import type * as Dev from '../src/dev/index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const bin = join(pkgDir, 'bin/airlock-plugin.js');
// Loaded from dist/ by a computed path: the type check of this file must not need dist/ to exist.
const dist = (entry: string) => join(pkgDir, 'dist', entry, 'index.js');
let build: typeof Build;
let dev: typeof Dev;

let root: string;
/** One cache for every plugin here, so sources built once are not componentized again. */
let cacheDir: string;

beforeAll(async () => {
  expect(existsSync(join(pkgDir, 'dist/build/componentize-child.js')), 'build @airlock/plugin-kit before running this test').toBe(true);
  build = (await import(dist('build'))) as typeof Build;
  dev = (await import(dist('dev'))) as typeof Dev;
  // Inside the workspace, so the plugins resolve the guest SDK's dependencies.
  root = await mkdtemp(join(pkgDir, 'test', '.tmp-build-'));
  cacheDir = join(root, 'cache');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * The echo plugin, version `version`: `echo` returns its value and the
 * version, and prints a line (a log line from a dev build; a release build
 * drops stdio). `line2` goes on line 2 of src/index.ts.
 */
function echoSource(version: number, line2 = ''): string {
  return [
    "import { defineTool, defineToolPlugin } from '@airlock/sdk';",
    line2,
    'const echo = defineTool({',
    "  name: 'echo',",
    "  description: 'Return the value, and which version of the plugin answered.',",
    "  parameters: { type: 'object', properties: { value: {} }, additionalProperties: false },",
    '  run: ({ value }) => {',
    "    console.log('echo called');",
    `    return { value, version: ${version} };`,
    '  },',
    '});',
    'export default defineToolPlugin({ tools: [echo] });',
    '',
  ].join('\n');
}

/** A plugin directory `root/<name>` (all at one depth, so equal sources bundle to equal bytes). */
async function echoPlugin(name: string, id = 'echo', source = echoSource(1)): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, 'src'), { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: `test-${name}`, version: '0.1.0', type: 'module', airlock: { id, kind: 'tool' } }, null, 2));
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: true, noEmit: true, types: [] }, include: ['src'] }),
  );
  await writeFile(join(dir, 'src/index.ts'), source);
  // @airlock/sdk resolves as it does for a real plugin.
  await linkSdk(dir);
  return dir;
}

const setSource = (dir: string, source: string) => writeFile(join(dir, 'src/index.ts'), source);

async function rejectionOf(promise: Promise<unknown>): Promise<Build.BuildError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the build to fail').toBeInstanceOf(Error);
  return err as Build.BuildError;
}

function runBin(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

describe('the build cache', () => {
  let dir: string;
  let first: Build.BuildResult;
  let firstBytes: Buffer;

  it('builds once, and a second build with no change is cached: same key, same bytes, output untouched, no componentize', { timeout: 300_000 }, async () => {
    dir = await echoPlugin('cached');
    first = await build.buildPlugin({ dir, cacheDir });
    expect(first).toMatchObject({ id: 'echo', kind: 'tool', dir, component: join(dir, 'dist/plugin.wasm'), cached: false, release: false });
    expect(first.key).toMatch(/^[0-9a-f]{64}$/);
    expect(first.bytes).toBeGreaterThan(1_000_000);
    expect(first.ms.componentize).toBeGreaterThan(0);
    firstBytes = await readFile(first.component);
    expect(first.bytes).toBe(firstBytes.byteLength);
    const written = await stat(first.component);

    const steps: string[] = [];
    const second = await build.buildPlugin({ dir, cacheDir, onProgress: (s) => steps.push(s) });
    expect(second).toMatchObject({ cached: true, key: first.key, sha256: first.sha256, bytes: first.bytes });
    expect(second.ms.componentize).toBe(0);
    expect(steps).toEqual(['type-checking', 'bundling', 'cached']);
    expect((await readFile(second.component)).equals(firstBytes)).toBe(true);
    // The output already held this key's component, so it was left alone.
    const after = await stat(second.component);
    expect([after.ino, after.mtimeMs]).toEqual([written.ino, written.mtimeMs]);

    // A deleted output comes back from the cache.
    await rm(first.component);
    const restored = await build.buildPlugin({ dir, cacheDir });
    expect(restored).toMatchObject({ cached: true, key: first.key });
    expect((await readFile(first.component)).equals(firstBytes)).toBe(true);
  });

  it('stops when its signal is aborted, leaving the output as it was', { timeout: 120_000 }, async () => {
    const controller = new AbortController();
    const steps: string[] = [];
    const stopped = build.buildPlugin({
      dir,
      cacheDir,
      cache: false,
      signal: controller.signal,
      onProgress: (step) => {
        steps.push(step);
        if (step === 'componentizing') controller.abort();
      },
    });
    await expect(stopped).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps).toEqual(['type-checking', 'bundling', 'componentizing']);
    expect((await readFile(first.component)).equals(firstBytes)).toBe(true);
    await expect(build.buildPlugin({ dir, cacheDir, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('type-checks on every build: a type-only change is cached, a type error fails at file:line:col', { timeout: 120_000 }, async () => {
    await setSource(dir, echoSource(1, 'export interface Unused { a: string }'));
    const steps: string[] = [];
    const typeOnly = await build.buildPlugin({ dir, cacheDir, onProgress: (s) => steps.push(s) });
    expect(typeOnly).toMatchObject({ cached: true, key: first.key });
    expect(steps).toContain('type-checking');
    expect(steps).not.toContain('componentizing');

    await setSource(dir, echoSource(1, "const broken: number = 'one';"));
    const err = await rejectionOf(build.buildPlugin({ dir, cacheDir }));
    expect(err.code).toBe('TYPE_ERROR');
    expect(err.details).toBe("src/index.ts:2:7: error TS2322: Type 'string' is not assignable to type 'number'.");
    expect(err.diagnostics).toEqual([{ file: 'src/index.ts', line: 2, column: 7, code: 'TS2322', message: "Type 'string' is not assignable to type 'number'." }]);
    // --no-typecheck skips it; the bundle (types erased) is the cached one.
    await expect(build.buildPlugin({ dir, cacheDir, skipTypecheck: true })).resolves.toMatchObject({ cached: true, key: first.key });
  });

  it('componentizes after a one-line change, and returning to the old source is cached again', { timeout: 300_000 }, async () => {
    await setSource(dir, echoSource(2));
    const changed = await build.buildPlugin({ dir, cacheDir });
    expect(changed.cached).toBe(false);
    expect(changed.key).not.toBe(first.key);

    await setSource(dir, echoSource(1));
    const back = await build.buildPlugin({ dir, cacheDir });
    expect(back).toMatchObject({ cached: true, key: first.key, sha256: first.sha256 });
    expect((await readFile(back.component)).equals(firstBytes)).toBe(true);
  });

  it('keys release builds apart; a release build drops stdio, a dev build keeps it', { timeout: 300_000 }, async () => {
    const release = await build.buildPlugin({ dir, cacheDir, release: true });
    expect(release).toMatchObject({ cached: false, release: true });
    expect(release.key).not.toBe(first.key);
    const releaseDir = await echoPlugin('release-copy', 'echo-release');
    await mkdir(join(releaseDir, 'dist'));
    await writeFile(join(releaseDir, 'dist/plugin.wasm'), await readFile(release.component));

    // Back to a dev build: from the cache.
    const devBuild = await build.buildPlugin({ dir, cacheDir });
    expect(devBuild).toMatchObject({ cached: true, key: first.key, release: false });

    const logs: LogEntry[] = [];
    const host = await createHost({ home: join(root, 'home-release'), logger: (e) => logs.push(e) });
    try {
      await host.load(dir, { grant: 'manifest' });
      await host.load(releaseDir, { grant: 'manifest' });
      await expect(host.callTool('echo.echo', { value: 1 })).resolves.toEqual({ value: 1, version: 1 });
      await expect(host.callTool('echo-release.echo', { value: 2 })).resolves.toEqual({ value: 2, version: 1 });
    } finally {
      await host.close();
    }
    expect(logs.filter((e) => e.message.includes('echo called')).map((e) => e.plugin)).toEqual(['echo']);
  });

  it('componentizes with cache: false even though the cache holds the component', { timeout: 300_000 }, async () => {
    const steps: string[] = [];
    const forced = await build.buildPlugin({ dir, cacheDir, cache: false, onProgress: (s) => steps.push(s) });
    expect(forced).toMatchObject({ cached: false, key: first.key });
    expect(steps).toContain('componentizing');
    await expect(build.buildPlugin({ dir, cacheDir })).resolves.toMatchObject({ cached: true, key: first.key });
    // Old entries are evicted: a few per plugin stay.
    const index = JSON.parse(await readFile(join(cacheDir, 'echo', 'index.json'), 'utf8')) as { entries: Record<string, unknown> };
    expect(Object.keys(index.entries).length).toBeLessThanOrEqual(4);
    expect(Object.keys(index.entries)).toContain(first.key);
  });
});

describe('several plugins', () => {
  it('builds them in parallel; a broken one fails alone, and the command exits 1', { timeout: 300_000 }, async () => {
    const a = await echoPlugin('parallel-a', 'echo-a');
    const b = await echoPlugin('parallel-b', 'echo-b', echoSource(2));
    const broken = await echoPlugin('parallel-broken', 'echo-broken', echoSource(1, "const broken: number = 'one';"));
    const { code, stdout, stderr } = await runBin(['build', a, broken, b, '--json', '--jobs', '2']);
    expect(code).toBe(1);
    const out = JSON.parse(stdout) as (Build.BuildResult | { dir: string; error: { code: string; details: string } })[];
    expect(out).toHaveLength(3);
    expect(out[0]).toMatchObject({ id: 'echo-a', cached: false, component: join(a, 'dist/plugin.wasm') });
    expect(out[1]).toMatchObject({ dir: broken, error: { code: 'TYPE_ERROR', details: expect.stringContaining('src/index.ts:2:7: error TS2322') } });
    expect(out[2]).toMatchObject({ id: 'echo-b', cached: false, component: join(b, 'dist/plugin.wasm') });
    for (const r of [out[0], out[2]] as Build.BuildResult[]) expect((await stat(r.component)).size).toBe(r.bytes);
    expect(existsSync(join(broken, 'dist'))).toBe(false);
    // Errors still go to stderr with --json.
    expect(stderr).toContain(`build failed: ${broken}: type errors in`);

    // Without --json: a line per plugin as it finishes, and a summary; both are cached now.
    const human = await runBin(['build', a, b, broken]);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(/^building 3 plugins, \d at a time\n/);
    expect(human.stderr).toMatch(/built echo-a \(tool\) → .*\n {2}[\d.]+ MB in [\d.]+ s \(cached; typecheck/);
    expect(human.stderr).toMatch(/built echo-b \(tool\)/);
    expect(human.stderr).toContain('src/index.ts:2:7: error TS2322');
    expect(human.stderr).toMatch(/1 failed, 2 built in [\d.]+ s\n$/);

    const api = await build.buildPlugins([a, b], { concurrency: 2 });
    expect(api.map((o) => o.ok && o.result.cached)).toEqual([true, true]);
  });
});

describe('watchPlugin', () => {
  it('rebuilds and reloads on change; a type error leaves the old build serving; the fix serves again', { timeout: 300_000 }, async () => {
    const dir = await echoPlugin('watched');
    await build.buildPlugin({ dir, cacheDir });
    const host = await createHost({ home: join(root, 'home-watch'), logger: () => {} });
    type Event = { build: Dev.WatchBuildEvent } | { error: Error; phase: string; files: string[] };
    const events: Event[] = [];
    let wake: (() => void) | undefined;
    const next = async (): Promise<Event> => {
      while (events.length === 0) await new Promise<void>((r) => (wake = r));
      return events.shift()!;
    };
    const push = (e: Event) => {
      events.push(e);
      wake?.();
    };
    const watcher = dev.watchPlugin({ dir, host, cacheDir, onBuild: (e) => push({ build: e }), onError: (error, e) => push({ error, ...e }) });
    try {
      await host.load(dir, { grant: 'manifest' });
      await expect(host.callTool('echo', { value: 'a' })).resolves.toEqual({ value: 'a', version: 1 });

      await setSource(dir, echoSource(2));
      const rebuilt = await next();
      // A development build: the engine, and the bundle beside it.
      expect(rebuilt).toMatchObject({ build: { reloaded: true, loaded: false, files: ['src/index.ts'], result: { id: 'echo', dev: true, bundle: join(dir, 'dist/plugin.dev.js') }, plugin: { id: 'echo' } } });
      await expect(host.callTool('echo', { value: 'b' })).resolves.toEqual({ value: 'b', version: 2 });

      // Saved the way many editors do: a temporary file renamed over the source.
      await writeFile(join(dir, 'src/.index.ts.tmp'), echoSource(2, "const broken: number = 'one';"));
      await rename(join(dir, 'src/.index.ts.tmp'), join(dir, 'src/index.ts'));
      const failed = await next();
      expect('error' in failed && failed.phase).toBe('build');
      const err = (failed as { error: unknown }).error as Build.BuildError;
      expect(err.code).toBe('TYPE_ERROR');
      expect(`${err.message}\n${err.details}`).toContain("src/index.ts:2:7: error TS2322: Type 'string' is not assignable to type 'number'.");
      await expect(host.callTool('echo', { value: 'c' })).resolves.toEqual({ value: 'c', version: 2 });

      // The replaced file is still watched; the engine is not componentized again.
      await setSource(dir, echoSource(1));
      const fixed = await next();
      expect(fixed).toMatchObject({ build: { reloaded: true, result: { cached: true, dev: true, ms: { componentize: 0 } } } });
      await expect(host.callTool('echo', { value: 'd' })).resolves.toEqual({ value: 'd', version: 1 });

      // Changes outside the sources (the output, dependencies, editor backups) start nothing.
      await writeFile(join(dir, 'dist/notes.txt'), 'x');
      await writeFile(join(dir, 'node_modules/x.ts'), 'x');
      await writeFile(join(dir, 'src/.index.ts.swp'), 'x');
      await new Promise((r) => setTimeout(r, 500));
      await watcher.idle();
      expect(events).toEqual([]);
    } finally {
      await watcher.close();
      await host.close();
    }
    // A release build afterwards is the cached one of the first build, and takes the development bundle away.
    expect(existsSync(join(dir, 'dist/plugin.dev.js'))).toBe(true);
    const full = await build.buildPlugin({ dir, cacheDir });
    expect(full).toMatchObject({ dev: false, bundle: undefined, cached: true });
    expect(existsSync(join(dir, 'dist/plugin.dev.js'))).toBe(false);
    expect(existsSync(join(dir, 'dist/plugin.dev.js.map'))).toBe(false);
  });
});

describe('development builds', () => {
  /** A tool plugin whose `fail` tool throws from line 3 of src/index.ts. */
  const failingSource = [
    "import { defineTool, defineToolPlugin } from '@airlock/sdk';",
    '// line 2',
    "const fail = (why: string): never => { throw new Error(`failed on purpose: ${why}`); };",
    "const tool = defineTool({ name: 'fail', description: 'Throw.', parameters: { type: 'object', properties: { why: { type: 'string' } }, required: ['why'] }, run: ({ why }) => fail(why) });",
    'export default defineToolPlugin({ tools: [tool] });',
    '',
  ].join('\n');

  it('share one engine per kind: each plugin runs its own bundle, logs, and has its stack traces mapped to its sources', { timeout: 300_000 }, async () => {
    const a = await echoPlugin('dev-a', 'dev-a', echoSource(1));
    const b = await echoPlugin('dev-b', 'dev-b', failingSource);
    const first = await build.buildPlugin({ dir: a, dev: true, cacheDir });
    expect(first).toMatchObject({ id: 'dev-a', dev: true, release: false, bundle: join(a, 'dist/plugin.dev.js'), component: join(a, 'dist/plugin.wasm') });
    const second = await build.buildPlugin({ dir: b, dev: true, cacheDir });
    // The engine is shared: the same component, from the cache, without componentizing.
    expect(second).toMatchObject({ dev: true, cached: true, sha256: first.sha256, ms: { componentize: 0 } });
    expect(await readFile(join(b, 'dist/plugin.dev.js'), 'utf8')).toContain('failed on purpose');
    expect(await readFile(join(a, 'dist/plugin.dev.js'), 'utf8')).not.toContain('failed on purpose');

    const logs: LogEntry[] = [];
    const host = await createHost({ home: join(root, 'home-dev-builds'), logger: (e) => logs.push(e) });
    try {
      await host.load(a, { grant: 'manifest' });
      await host.load(b, { grant: 'manifest' });
      await expect(host.callTool('dev-a.echo', { value: 'x' })).resolves.toEqual({ value: 'x', version: 1 });
      expect(logs).toContainEqual(expect.objectContaining({ plugin: 'dev-a', message: 'echo called' }));
      const err = (await host.callTool('dev-b.fail', { why: 'test' }).catch((e: unknown) => e)) as Error & { code?: string; details?: string };
      expect(err.code).toBe('TOOL_FAILED');
      expect(err.message).toContain('failed on purpose: test');
      // The bundle's frames, mapped through the bundle's source map to the line that threw.
      expect(err.details).toMatch(/src\/index\.ts:3:\d+/);
    } finally {
      await host.close();
    }
  });

  it('fail clearly: a bundle of another kind, a missing bundle, an install, a top-level await, and --dev with --release', { timeout: 300_000 }, async () => {
    const dir = await echoPlugin('dev-kind', 'dev-kind', "export default { kind: 'hook', exports: {} };\n");
    const built = await build.buildPlugin({ dir, dev: true, cacheDir, skipTypecheck: true });
    expect(built).toMatchObject({ dev: true });
    const host = await createHost({ home: join(root, 'home-dev-refusals'), logger: () => {} });
    try {
      // The check a release build makes while componentizing runs when the engine starts the bundle.
      const wrongKind = (await host.load(dir, { grant: 'manifest' }).catch((e: unknown) => e)) as Error;
      expect(wrongKind.message).toContain('the manifest says "kind": "tool", but src/index.ts exports a hook plugin');

      await setSource(dir, echoSource(3));
      await build.buildPlugin({ dir, dev: true, cacheDir });
      const installed = (await host.registry.install(dir).catch((e: unknown) => e)) as Error & { code?: string; hint?: string };
      expect(installed).toMatchObject({ code: 'COMPONENT_INVALID' });
      expect(installed.message).toContain('is a development build, which cannot be installed');
      expect(installed.hint).toContain('airlock-plugin build` (without --dev)');
      expect(host.registry.list()).toEqual([]);

      await rm(join(dir, 'dist/plugin.dev.js'));
      const missing = (await host.load(dir, { grant: 'manifest' }).catch((e: unknown) => e)) as Error & { code?: string; hint?: string };
      expect(missing).toMatchObject({ code: 'COMPONENT_INVALID' });
      expect(missing.message).toContain('no bundle beside it (dist/plugin.dev.js)');
      expect(missing.hint).toContain('airlock-plugin build --dev');
      expect(host.plugins()).toEqual([]);
    } finally {
      await host.close();
    }
    // A top-level await cannot run in the engine's function body: the build says what to do instead.
    await setSource(dir, `${echoSource(3)}await Promise.resolve();\n`);
    const awaited = await rejectionOf(build.buildPlugin({ dir, dev: true, cacheDir, skipTypecheck: true }));
    expect(awaited.code).toBe('BUNDLE_FAILED');
    expect(awaited.details).toMatch(/src\/index\.ts:\d+:\d+: error: Top-level await/);
    expect(awaited.hint).toContain('move that work into `init()`');
    const both = await rejectionOf(build.buildPlugin({ dir, dev: true, release: true, cacheDir }));
    expect(both.code).toBe('OPTIONS_CONFLICT');
    expect(await runBin(['build', dir, '--dev', '--release'])).toMatchObject({ code: 2, stderr: 'error: --dev and --release do not go together: a build is one or the other\n' });
  });
});

describe('airlock-plugin dev', () => {
  it('without a terminal: builds and loads, rebuilds and reloads on change, exits 0 on SIGTERM', { timeout: 300_000 }, async () => {
    const dir = await echoPlugin('dev');
    const child = spawn(process.execPath, [bin, 'dev', dir, '--no-repl', '--home', join(root, 'home-dev')], {
      env: { ...process.env, NO_COLOR: '1', AIRLOCK_BUILD_CACHE: cacheDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let seen: (() => void) | undefined;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      seen?.();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const waitFor = async (pattern: RegExp, from: number) => {
      while (!pattern.test(stderr.slice(from))) {
        if (child.exitCode !== null) throw new Error(`dev exited (${child.exitCode}):\n${stderr}`);
        await new Promise<void>((r) => (seen = r));
      }
    };
    try {
      await waitFor(/loaded echo into a dev host/, 0);
      expect(stderr).toMatch(/built echo \(tool, development build\) → .*plugin\.wasm \+ plugin\.dev\.js\n {2}[\d.]+ MB in [\d.]+ s \(/);
      expect(stderr).toContain(`watching ${dir}`);

      const mark = stderr.length;
      await setSource(dir, echoSource(2));
      await waitFor(/rebuilt in [\d.]+ m?s \(development build\), reloaded in [\d.]+ m?s \(src\/index\.ts\)\n/, mark);

      const mark2 = stderr.length;
      await setSource(dir, echoSource(2, "const broken: number = 'one';"));
      await waitFor(/the previous build keeps serving/, mark2);
      expect(stderr.slice(mark2)).toMatch(/build failed: type errors in .* \(1\) \(src\/index\.ts\)\nsrc\/index\.ts:2:7: error TS2322/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/stopped\n$/);
  });
});

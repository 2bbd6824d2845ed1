import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { linkSdk } from './global-setup.js';
import { main, type Io } from '../src/cli/main.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const pkgVersion = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;

/** Run the CLI in-process, capturing its output. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

interface JsonFailure {
  error: { code: string; message: string; details?: string; hint?: string; diagnostics?: unknown[] };
}

// Plugin directories live under test/ (gitignored), inside the workspace.
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(pkgDir, 'test', '.tmp-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  vi.stubEnv('NO_COLOR', '1');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

let counter = 0;
/** Write a plugin directory with the given package.json fields and source files. */
async function plugin(airlock: unknown, files: Record<string, string>, extra: Record<string, unknown> = {}): Promise<string> {
  const dir = join(root, `plugin-${++counter}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: `test-plugin-${counter}`, version: '0.1.0', type: 'module', airlock, ...extra }, null, 2));
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: true, noEmit: true, types: [] },
      include: ['src'],
    }),
  );
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

describe('airlock-plugin CLI', () => {
  it('prints its help', async () => {
    const { code, stdout, stderr } = await run(['--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatchInlineSnapshot(`
      "airlock-plugin — build Airlock plugins

      Usage
        airlock-plugin build [dir...] [options]   Type-check, bundle and componentize plugins
        airlock-plugin dev [dir] [options]        Build, load into a local host, then rebuild
                                                  and reload on every change
        airlock-plugin types [dir]                Write the types of the integrator's interfaces
                                                  the manifest names (from wit/) to
                                                  .airlock-plugin/interfaces.d.ts (builds do too)

      Build options
        --release                Drop JS stack traces from the component (smaller; traps are silent)
        --dev                    A development build: the kind's prebuilt engine component (built
                                 once, then cached) and the bundle beside it (dist/plugin.dev.js),
                                 which the engine runs; a change rebuilds in well under a second.
                                 Runs in the same sandbox, but cannot be installed or published
        --no-typecheck           Skip the TypeScript type check
        --no-cache               Componentize even when the build cache holds the component
        -j, --jobs <n>           Plugins built at once (default: one per 1.5 cores, ~900 MB free memory each)
        --json                   Print the result as JSON on stdout (an array for several dirs)

      Dev options (and --no-typecheck)
        --release                Make a release build on every change (componentizes each time)
                                 instead of a development build (see --dev above)
        --grant <manifest|none>  What the plugin may do (default: what its manifest asks for)
        --config <key=value>     Plugin configuration; the value is JSON when it parses (repeatable)
        --env <NAME[=VALUE]>     Give the host only these environment variables, from yours or as
                                 given (repeatable; default: all of yours)
        --home <dir>             Host home (storage, caches); default: a temporary directory
        --no-repl                Only watch and log, even on a terminal

        -h, --help               Show this help
        -v, --version            Show the version

      Examples
        airlock-plugin build
        airlock-plugin build plugins/notes --json
        airlock-plugin build plugins/* --jobs 2
        airlock-plugin dev plugins/notes
        airlock-plugin dev --config baseUrl=https://api.example.com --env API_KEY

      Components are cached in each plugin's node_modules/.cache/airlock-plugin/, and the
      development engines of --dev and dev in ~/.cache/airlock-plugin/ (or $XDG_CACHE_HOME),
      shared by every project; set AIRLOCK_BUILD_CACHE to keep both elsewhere.
      "
    `);
  });

  it('prints the help with -h, and with no command as a usage error', async () => {
    const help = (await run(['--help'])).stdout;
    expect(await run(['-h'])).toEqual({ code: 0, stdout: help, stderr: '' });
    expect(await run([])).toEqual({ code: 2, stdout: help, stderr: '' });
  });

  it('prints the package version', async () => {
    expect(await run(['--version'])).toEqual({ code: 0, stdout: `${pkgVersion}\n`, stderr: '' });
    expect((await run(['-v'])).stdout).toBe(`${pkgVersion}\n`);
  });

  it('refuses an unknown command with exit code 2', async () => {
    const { code, stdout, stderr } = await run(['deploy']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^error: unknown command `deploy`\n/);
    expect(stderr).toContain('Usage');
  });

  it('refuses an unknown option with exit code 2', async () => {
    const { code, stdout, stderr } = await run(['build', '--fast']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^error: .*--fast/);
  });

  it('refuses more than one directory for dev', async () => {
    const { code, stderr } = await run(['dev', 'a', 'b']);
    expect(code).toBe(2);
    expect(stderr).toBe('error: dev takes one directory, got 2\n');
  });

  it('refuses options of the other command, and bad values, with exit code 2', async () => {
    expect(await run(['build', '--grant', 'none'])).toEqual({ code: 2, stdout: '', stderr: 'error: --grant does not apply to `build`\n' });
    expect(await run(['dev', '--jobs', '2'])).toEqual({ code: 2, stdout: '', stderr: 'error: --jobs does not apply to `dev`\n' });
    expect(await run(['dev', '--json'])).toEqual({ code: 2, stdout: '', stderr: 'error: --json does not apply to `dev`\n' });
    expect(await run(['build', '--jobs', '0'])).toEqual({ code: 2, stdout: '', stderr: 'error: --jobs takes a positive whole number, got `0`\n' });
    expect(await run(['build', '-j', 'many'])).toEqual({ code: 2, stdout: '', stderr: 'error: --jobs takes a positive whole number, got `many`\n' });
    expect(await run(['dev', '--grant', 'all'])).toEqual({ code: 2, stdout: '', stderr: 'error: --grant takes `manifest` or `none`, got `all`\n' });
    expect(await run(['dev', '--config', 'novalue'])).toEqual({ code: 2, stdout: '', stderr: 'error: --config takes key=value, got `novalue`\n' });
    expect(await run(['dev', '--env', '1BAD'])).toEqual({ code: 2, stdout: '', stderr: 'error: --env takes NAME or NAME=VALUE, got `1BAD`\n' });
  });

  it('reports type errors as TYPE_ERROR, naming the file and line', async () => {
    const dir = await plugin({ kind: 'tool' }, { 'src/index.ts': "export const label: string = 'ok';\nconst count: number = 'three';\nexport default count;\n" });
    const { code, stdout } = await run(['build', dir, '--json']);
    expect(code).toBe(1);
    const out = JSON.parse(stdout) as JsonFailure;
    expect(out.error.code).toBe('TYPE_ERROR');
    expect(out.error.message).toMatch(/^type errors in .* \(1\)$/);
    expect(out.error.details).toContain('src/index.ts:2:7: error TS2322: Type \'string\' is not assignable to type \'number\'.');
    expect(out.error.diagnostics).toEqual([{ file: 'src/index.ts', line: 2, column: 7, code: 'TS2322', message: "Type 'string' is not assignable to type 'number'." }]);
    expect(existsSync(join(dir, 'dist'))).toBe(false);
  });

  it('shows type errors, with progress, on stderr without --json', async () => {
    const dir = await plugin({ kind: 'tool' }, { 'src/index.ts': 'const n: number = true;\nexport default n;\n' });
    const { code, stdout, stderr } = await run(['build', dir]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('type-checking…');
    expect(stderr).toMatch(/build failed: type errors in .* \(1\)\n/);
    expect(stderr).toContain('src/index.ts:1:7: error TS2322');
  });

  it('type-checks tool arguments against their schema', async () => {
    const dir = await plugin(
      { kind: 'tool' },
      {
        'src/index.ts': [
          "import { defineTool, defineToolPlugin } from '@airlock/sdk';",
          'const shout = defineTool({',
          "  name: 'shout',",
          "  description: 'Shout',",
          "  parameters: { type: 'object', properties: { times: { type: 'integer' } }, required: ['times'] },",
          '  run: ({ times }) => times.toUpperCase(),',
          '});',
          'export default defineToolPlugin({ tools: [shout] });',
          '',
        ].join('\n'),
      },
    );
    // Make @airlock/sdk resolvable from the plugin, as it is for a real plugin.
    await linkSdk(dir);
    const { code, stdout } = await run(['build', dir, '--json']);
    expect(code).toBe(1);
    const out = JSON.parse(stdout) as JsonFailure;
    expect(out.error.code).toBe('TYPE_ERROR');
    expect(out.error.details).toMatch(/^src\/index\.ts:6:29: error TS2339: Property 'toUpperCase' does not exist on type 'number'/);
  });

  it('reports what the bundler cannot resolve as BUNDLE_FAILED, at file:line:col', async () => {
    const dir = await plugin({ kind: 'tool' }, { 'src/index.ts': "// a plugin\nimport helper from './helper.js';\nexport default helper;\n" });
    const { code, stdout, stderr } = await run(['build', dir, '--json', '--no-typecheck']);
    expect(code).toBe(1);
    const out = JSON.parse(stdout) as JsonFailure;
    expect(out.error.code).toBe('BUNDLE_FAILED');
    expect(out.error.message).toBe('could not bundle src/index.ts');
    expect(out.error.details).toBe('src/index.ts:2:20: error: Could not resolve "./helper.js"');
    expect(stderr).toContain('src/index.ts:2:20: error: Could not resolve "./helper.js"');
  });

  it('reports a missing entry file as ENTRY_NOT_FOUND', async () => {
    const dir = await plugin({ kind: 'tool', entry: 'src/main.ts' }, { 'src/index.ts': 'export default 1;\n' });
    const { code, stdout, stderr } = await run(['build', dir, '--json']);
    expect(code).toBe(1);
    const out = JSON.parse(stdout) as JsonFailure;
    expect(out.error.code).toBe('ENTRY_NOT_FOUND');
    expect(out.error.message).toBe(`src/main.ts does not exist in ${dir}`);
    expect(stderr).toContain('build failed: src/main.ts does not exist');
  });

  it('reports an invalid manifest as MANIFEST_INVALID, with its hint', async () => {
    const dir = await plugin({ kind: 'tool', capabilites: { storage: true } }, { 'src/index.ts': 'export default 1;\n' });
    const { code, stdout, stderr } = await run(['build', dir, '--json']);
    expect(code).toBe(1);
    const out = JSON.parse(stdout) as JsonFailure;
    expect(out.error.code).toBe('MANIFEST_INVALID');
    expect(out.error.message).toContain('airlock.capabilites');
    expect(stderr).toContain('hint: Did you mean `capabilities`?');
  });

  it('reports a directory without a plugin as PLUGIN_NOT_FOUND', async () => {
    const { code, stdout } = await run(['build', join(root, 'does-not-exist'), '--json']);
    expect(code).toBe(1);
    expect((JSON.parse(stdout) as JsonFailure).error.code).toBe('PLUGIN_NOT_FOUND');
  });

  // The componentize step runs in a child process whose scripts exist only in
  // dist/, so this test runs the built command (`pnpm --filter @airlock/plugin-kit... build`).
  it('refuses a default export that is not a plugin as KIND_MISMATCH', { timeout: 120_000 }, async () => {
    const bin = join(pkgDir, 'bin/airlock-plugin.js');
    expect(existsSync(join(pkgDir, 'dist/cli/bin.js')), 'build @airlock/plugin-kit before running this test').toBe(true);
    const dir = await plugin({ kind: 'tool' }, { 'src/index.ts': 'export default { hello: 1 };\n' });
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, [bin, 'build', dir, '--json'], { env: { ...process.env, NO_COLOR: '1' } }, (err, stdout) =>
        resolve({ code: err ? (err as { code?: number }).code ?? null : 0, stdout }),
      );
    });
    expect(result.code).toBe(1);
    const out = JSON.parse(result.stdout) as JsonFailure;
    expect(out.error.code).toBe('KIND_MISMATCH');
    expect(out.error.message).toBe('src/index.ts must `export default` a plugin made with defineToolPlugin() from @airlock/sdk');
    expect(existsSync(join(dir, 'dist/plugin.wasm'))).toBe(false);
  });
});

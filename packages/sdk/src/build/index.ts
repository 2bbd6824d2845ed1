/**
 * `airlock-plugin build`: type-check the plugin's TypeScript, bundle it with
 * its npm dependencies into one ES module, and componentize it against the
 * world of the plugin's kind in a child process.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import ts from 'typescript';
import { readManifest, type Manifest } from '@airlock/host';
import { CONTRACT_VERSION, WIT_PACKAGE, exportNameFor, witDir, worldFor } from '@airlock/wit';

export interface BuildOptions {
  /** The plugin directory (holding package.json). Default: the current directory. */
  dir?: string;
  /** Drop JS stack traces from the component (smaller, silent traps). Default false. */
  release?: boolean;
  /** Skip the TypeScript type check. Default false. */
  skipTypecheck?: boolean;
  /** Progress lines ("type-checking", "bundling", …). */
  onProgress?: (step: string) => void;
}

export interface BuildResult {
  id: string;
  kind: Manifest['kind'];
  /** Absolute path of the written component. */
  component: string;
  bytes: number;
  ms: { typecheck: number; bundle: number; componentize: number; total: number };
}

/** A build failed; `message` says where and why, `details` holds compiler output. */
export class BuildError extends Error {
  readonly code: string;
  readonly details: string | undefined;

  constructor(code: 'TYPE_ERROR' | 'BUNDLE_FAILED' | 'COMPONENTIZE_FAILED' | 'ENTRY_NOT_FOUND' | 'KIND_MISMATCH', message: string, details?: string) {
    super(message);
    this.name = 'BuildError';
    this.code = code;
    this.details = details;
  }
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
/** The WASI packages plugins may import directly (see buildWorld). */
const wasiWitDir = fileURLToPath(new URL('../../wit/deps/', import.meta.url));

/**
 * The WASI version plugin code imports. It must be the version the
 * componentize-js engine itself links (StarlingMonkey in componentize-js
 * 0.23 imports wasi:*@0.2.12), so the component has one copy of each
 * interface. Changing componentize-js means checking this.
 */
export const WASI_VERSION = '0.2.12';

/**
 * Write the world a plugin is componentized against into `work`: the kind's
 * contract world plus the WASI interfaces the SDK's `env` and `fs` use. The
 * contract itself stays free of WASI (the host provides those interfaces
 * anyway, gated by the grant); the build adds them so plugin code can import
 * them. Returns the WIT directory and the world's name.
 */
async function buildWorld(work: string, kind: Manifest['kind']): Promise<{ witPath: string; worldName: string }> {
  const witPath = join(work, 'wit');
  await cp(wasiWitDir, join(witPath, 'deps'), { recursive: true });
  const contract = join(witPath, 'deps', WIT_PACKAGE.replace(':', '-'));
  await mkdir(contract, { recursive: true });
  for (const f of (await readdir(witDir())).filter((f) => f.endsWith('.wit'))) await cp(join(witDir(), f), join(contract, f));
  const world = worldFor(kind);
  await writeFile(
    join(witPath, 'plugin.wit'),
    [
      'package airlock:build;',
      `world ${world} {`,
      `  include ${WIT_PACKAGE}/${world}@${CONTRACT_VERSION};`,
      `  import wasi:cli/environment@${WASI_VERSION};`,
      `  import wasi:filesystem/preopens@${WASI_VERSION};`,
      '}',
      '',
    ].join('\n'),
  );
  return { witPath, worldName: `airlock:build/${world}` };
}

/** Build the plugin in `options.dir` into its manifest's component path (default dist/plugin.wasm). */
export async function buildPlugin(options: BuildOptions = {}): Promise<BuildResult> {
  const dir = resolve(options.dir ?? '.');
  const progress = options.onProgress ?? (() => {});
  const t0 = performance.now();
  const manifest = await readManifest(dir);
  const entry = join(dir, manifest.entry);
  if (!existsSync(entry)) {
    throw new BuildError('ENTRY_NOT_FOUND', `${manifest.entry} does not exist in ${dir}`, 'Create it, or set "entry" in the "airlock" manifest to your plugin\'s source file.');
  }

  let t = performance.now();
  if (!options.skipTypecheck) {
    progress('type-checking');
    typecheck(dir, entry);
  }
  const typecheckMs = performance.now() - t;

  t = performance.now();
  progress('bundling');
  const work = await mkdtemp(join(tmpdir(), 'airlock-build-'));
  try {
    const bundle = join(work, 'plugin.js');
    await bundlePlugin(dir, entry, manifest, bundle);
    const bundleMs = performance.now() - t;

    t = performance.now();
    progress('componentizing');
    const outFile = join(dir, manifest.component);
    await mkdir(dirname(outFile), { recursive: true });
    const tmpOut = join(work, 'plugin.wasm');
    const world = await buildWorld(work, manifest.kind);
    await runComponentize({ sourcePath: bundle, ...world, outFile: tmpOut, debug: !options.release }, manifest);
    await rename(tmpOut, outFile).catch(async () => {
      // Across filesystems rename fails; copy through a sibling temp file instead.
      const { copyFile } = await import('node:fs/promises');
      await copyFile(tmpOut, `${outFile}.tmp`);
      await rename(`${outFile}.tmp`, outFile);
    });
    const { size } = await stat(outFile);
    return {
      id: manifest.id,
      kind: manifest.kind,
      component: outFile,
      bytes: size,
      ms: { typecheck: typecheckMs, bundle: bundleMs, componentize: performance.now() - t, total: performance.now() - t0 },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function typecheck(dir: string, entry: string): void {
  const configFile = ts.findConfigFile(dir, ts.sys.fileExists, 'tsconfig.json');
  let parsed: ts.ParsedCommandLine;
  if (configFile && dirname(configFile) === dir) {
    const read = ts.readConfigFile(configFile, ts.sys.readFile);
    parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dir);
  } else {
    parsed = { options: { strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true }, fileNames: [entry], errors: [] };
  }
  const program = ts.createProgram(parsed.fileNames.length ? parsed.fileNames : [entry], { ...parsed.options, noEmit: true });
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (diagnostics.length === 0) return;
  const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' };
  const text = process.stderr.isTTY && !process.env.NO_COLOR ? ts.formatDiagnosticsWithColorAndContext(diagnostics, host) : ts.formatDiagnostics(diagnostics, host);
  throw new BuildError('TYPE_ERROR', `type errors in ${relative(process.cwd(), dir) || '.'} (${diagnostics.length})`, text);
}

async function bundlePlugin(dir: string, entry: string, manifest: Manifest, outfile: string): Promise<void> {
  const exportName = exportNameFor(manifest.kind);
  // The shim checks at build time (componentize-js runs top-level code while
  // snapshotting) that the default export is a plugin of the manifest's kind.
  const shim = [
    `import plugin from ${JSON.stringify(entry)};`,
    `if (!plugin || typeof plugin !== 'object' || !('kind' in plugin)) {`,
    `  throw new Error(${JSON.stringify(`${manifest.entry} must \`export default\` a plugin made with define${cap(manifest.kind)}Plugin() from @airlock/sdk`)});`,
    `}`,
    `if (plugin.kind !== ${JSON.stringify(manifest.kind)}) {`,
    `  throw new Error(${JSON.stringify(`the manifest says "kind": "${manifest.kind}", but ${manifest.entry} exports a `)} + plugin.kind + ' plugin');`,
    `}`,
    `export const ${exportName} = plugin.exports;`,
  ].join('\n');
  try {
    await esbuild.build({
      stdin: { contents: shim, resolveDir: dir, sourcefile: 'airlock-entry.js', loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      external: ['airlock:*', 'wasi:*'],
      outfile,
      logLevel: 'silent',
      keepNames: true,
      sourcemap: false,
    });
  } catch (err) {
    const failure = err as esbuild.BuildFailure;
    const text = failure.errors ? (await esbuild.formatMessages(failure.errors, { kind: 'error', color: false })).join('\n') : String(err);
    throw new BuildError('BUNDLE_FAILED', `could not bundle ${manifest.entry}`, text);
  }
}

const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);

interface Job {
  sourcePath: string;
  witPath: string;
  worldName: string;
  outFile: string;
  debug: boolean;
}

function runComponentize(job: Job, manifest: Manifest): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', pathToImport(preopensScript), childScript, JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      let report: { ok: boolean; message?: string } | undefined;
      try {
        report = JSON.parse(line);
      } catch {
        report = undefined;
      }
      if (code === 0 && report?.ok) return resolvePromise();
      const message = report?.message ?? `componentize-js exited with code ${code}`;
      reject(explainComponentizeError(message, err, manifest));
    });
  });
}

function pathToImport(file: string): string {
  return pathToFileURL(file).href;
}

/** componentize-js errors are terse; point at the likely cause. */
function explainComponentizeError(message: string, stderr: string, manifest: Manifest): BuildError {
  const output = [message, stderr].filter(Boolean).join('\n').trim();
  const thrown = /Error: (.*(must `export default`|the manifest says).*)/.exec(output);
  if (thrown) return new BuildError('KIND_MISMATCH', thrown[1]!, output);
  const missing = /(missing|not exported|does not export)[^\n]*/i.exec(output);
  if (missing) {
    return new BuildError('COMPONENTIZE_FAILED', `the plugin does not provide what a ${manifest.kind} plugin must export: ${missing[0]}`, output);
  }
  return new BuildError('COMPONENTIZE_FAILED', `componentize-js failed: ${output.split('\n')[0]}`, output);
}

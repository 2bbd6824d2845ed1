/**
 * Plugin projects as an author gets them: scaffolded by create-airlock-plugin
 * into a directory outside this workspace, installed from tarballs of the
 * workspace packages (packed as they would be published), built and tested
 * with the project's own scripts.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scaffold } from 'create-airlock-plugin';

/** @typedef {import('create-airlock-plugin').PluginKind} PluginKind */
/** @typedef {{ code: number, stdout: string, stderr: string, ms: number }} Run */
/** @typedef {{ scaffold?: Run, install?: Run, build?: Run, test?: Run, dir: string }} Project */

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The packages a plugin project installs, in dependency order. */
export const PUBLISHED = /** @type {const} */ ({ '@airlock/wit': 'packages/wit', '@airlock/host': 'packages/host', '@airlock/sdk': 'packages/sdk' });

/**
 * Run a command; never throws for a non-zero exit (the caller asserts).
 * @param {string} cmd @param {string[]} args @param {string} cwd @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<Run>}
 */
export function run(cmd, args, cwd, env = {}) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0', ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/**
 * `pnpm pack` each published package into `dest`; returns name → tarball path. The packages must be built.
 * @param {string} dest
 * @returns {Promise<Record<string, string>>}
 */
export async function packWorkspace(dest) {
  await mkdir(dest, { recursive: true });
  /** @type {Record<string, string>} */
  const out = {};
  for (const [name, dir] of Object.entries(PUBLISHED)) {
    const before = new Set(await readdir(dest));
    const r = await run('pnpm', ['pack', '--pack-destination', dest], join(root, dir));
    if (r.code !== 0) throw new Error(`pnpm pack ${name} failed:\n${r.stderr}${r.stdout}`);
    const made = (await readdir(dest)).filter((f) => f.endsWith('.tgz') && !before.has(f));
    if (made.length !== 1) throw new Error(`pnpm pack ${name} wrote ${made.length} tarballs: ${made.join(', ')}`);
    out[name] = join(dest, /** @type {string} */ (made[0]));
  }
  return out;
}

/**
 * Scaffold a `kind` project under `parent` (outside the workspace), point its
 * Airlock dependencies at the tarballs, then install, build and test it the
 * way its README says. Steps stop at the first failure (later ones are absent).
 * @param {PluginKind} kind @param {string} parent @param {Record<string, string>} tarballs
 * @returns {Promise<Project>}
 */
export async function scaffoldAndTest(kind, parent, tarballs) {
  const dir = join(parent, `my-${kind}-plugin`);
  const t0 = performance.now();
  await scaffold({ dir, kind });
  /** @type {Project} */
  const steps = { dir, scaffold: { code: 0, stdout: '', stderr: '', ms: performance.now() - t0 } };
  await useTarballs(dir, tarballs);
  // pnpm, not npm: its store shares the compiled native addon (better-sqlite3)
  // between projects; with npm each install compiles it again (about a minute).
  steps.install = await run('pnpm', ['install', '--prefer-offline', '--config.confirmModulesPurge=false'], dir);
  if (steps.install.code !== 0) return steps;
  steps.build = await run('pnpm', ['run', 'build'], dir);
  if (steps.build.code !== 0) return steps;
  steps.test = await run('pnpm', ['test'], dir);
  return steps;
}

/**
 * Resolve the Airlock packages from local tarballs instead of the registry (as if just published).
 * @param {string} dir @param {Record<string, string>} tarballs
 */
export async function useTarballs(dir, tarballs) {
  const file = join(dir, 'package.json');
  const pkg = JSON.parse(await readFile(file, 'utf8'));
  const specs = Object.fromEntries(Object.entries(tarballs).map(([name, tgz]) => [name, `file:${tgz}`]));
  pkg.dependencies['@airlock/sdk'] = specs['@airlock/sdk'];
  pkg.pnpm.overrides = { ...pkg.pnpm.overrides, ...specs };
  await writeFile(file, JSON.stringify(pkg, null, 2) + '\n');
}

/** A fresh directory outside the workspace tree. @param {string} prefix */
export const outsideWorkspace = (prefix) => mkdtemp(join(tmpdir(), prefix));

/** The `Tests  N passed` count of a vitest run's output. @param {string} output */
export function passedTests(output) {
  const m = /Tests\s+(\d+) passed/.exec(output.replace(/\x1b\[[0-9;]*m/g, ''));
  return m ? Number(m[1]) : 0;
}

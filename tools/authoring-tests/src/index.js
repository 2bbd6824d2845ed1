/**
 * Plugin projects as an author gets them: the workspace's packages published
 * to a local npm registry (`@airlock/registry`), then, in a directory outside
 * the workspace and with an environment a fresh shell would have, exactly the
 * commands the README gives: `npm create airlock-plugin@latest <dir>
 * --registry <url> -- --kind <kind>`, `npm install`, `npm test`, a one-line
 * edit and `npm run build`. Used by the end-to-end test and by the bench.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @typedef {'tool' | 'auth' | 'provider'} PluginKind */
/** @typedef {{ code: number, stdout: string, stderr: string, ms: number }} Run */
/**
 * @typedef {{ dir: string, create?: Run, install?: Run, test?: Run, build?: Run, testedComponent?: string }} Project
 * Steps stop at the first failure; later ones are absent. `testedComponent` is
 * the sha256 of the component `npm test` built, before the edit.
 */

export const workspaceRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** npm settings a user may have in their environment (a registry, a CA, a cache), which npm should keep seeing. */
const USER_NPM_SETTINGS = /^npm_config_(registry|cache|userconfig|globalconfig|cafile|ca|strict_ssl|proxy|https_proxy|noproxy)$/i;

/**
 * The environment of a fresh shell on this machine: nothing pnpm, npm or the
 * test runner set for the script running this (only the user's own npm
 * settings), and no directory of this workspace on PATH (a project must find
 * every command in its own node_modules). The Node that runs this process
 * stays first on PATH.
 * @param {NodeJS.ProcessEnv} [extra]
 * @returns {NodeJS.ProcessEnv}
 */
export function userEnv(extra = {}) {
  /** @type {NodeJS.ProcessEnv} */
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    const runners = /^(npm_|pnpm_|PNPM_|NPM_CONFIG_|TURBO_|VITEST|INIT_CWD$|NODE_OPTIONS$|NODE_PATH$)/i.test(key);
    if (runners && !USER_NPM_SETTINGS.test(key)) continue;
    env[key] = value;
  }
  const inWorkspace = (/** @type {string} */ p) => resolve(p).startsWith(workspaceRoot);
  const path = (process.env.PATH ?? '').split(delimiter).filter((p) => p && !inWorkspace(p));
  env.PATH = [dirname(process.execPath), ...path].join(delimiter);
  return { ...env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0', ...extra };
}

/**
 * Run a command; never throws for a non-zero exit (the caller asserts).
 * @param {string} cmd @param {string[]} args @param {string} cwd @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<Run>}
 */
export function run(cmd, args, cwd, env = userEnv()) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
    // Nothing to answer: a command that asks would wait forever.
    child.stdin?.end();
  });
}

/**
 * The one-line edit each template gets before `npm run build`: a string the
 * plugin shows, so the bundle (and so the component) changes.
 * @type {Record<PluginKind, [RegExp, string]>}
 */
export const ONE_LINE_EDIT = {
  tool: [/description: 'Turn a title into a URL slug/, "description: 'Turn a title (any text) into a URL slug"],
  auth: [/log\.info\('API key saved'\)/, "log.info('API key saved in plugin storage')"],
  provider: [/displayName: '/, "displayName: 'Edited "],
};

/**
 * Make a `kind` project under `parent` and take it through the README's
 * steps with the packages of `registry`. `npm create` gets its own npm cache
 * (`createCache`): npm exec reuses an install of the same version from an
 * earlier run, which may have come from another registry; `npm install` uses
 * the user's cache, as an author's would.
 * @param {{ registry: string, kind: PluginKind, parent: string, createCache: string }} options
 * @returns {Promise<Project>}
 */
export async function authorFlow({ registry, kind, parent, createCache }) {
  const name = `my-${kind}`;
  const dir = join(parent, name);
  /** @type {Project} */
  const steps = { dir };
  // npm_config_yes answers npm exec's "Ok to proceed?" (install create-airlock-plugin) as a user would.
  steps.create = await run('npm', ['create', 'airlock-plugin@latest', name, '--registry', registry, '--', '--kind', kind], parent, userEnv({ npm_config_cache: createCache, npm_config_yes: 'true' }));
  if (steps.create.code !== 0) return steps;
  steps.install = await run('npm', ['install'], dir);
  if (steps.install.code !== 0) return steps;
  steps.test = await run('npm', ['test'], dir);
  if (steps.test.code !== 0) return steps;
  steps.testedComponent = createHash('sha256').update(await readFile(join(dir, 'dist', 'plugin.wasm'))).digest('hex');
  await editOneLine(dir, kind);
  steps.build = await run('npm', ['run', 'build'], dir);
  return steps;
}

/** @param {string} dir @param {PluginKind} kind */
export async function editOneLine(dir, kind) {
  const file = join(dir, 'src', 'index.ts');
  const source = await readFile(file, 'utf8');
  const [pattern, replacement] = ONE_LINE_EDIT[kind];
  if (!pattern.test(source)) throw new Error(`the ${kind} template no longer has ${pattern}; update ONE_LINE_EDIT`);
  await writeFile(file, source.replace(pattern, replacement));
}

/**
 * Bytes under `dir` (files and links, as `du --apparent-size` counts them), and the largest packages in it.
 * @param {string} nodeModules
 * @returns {Promise<{ bytes: number, largest: { name: string, bytes: number }[] }>}
 */
export async function nodeModulesSize(nodeModules) {
  /** @type {{ name: string, bytes: number }[]} */
  const packages = [];
  let total = 0;
  for (const entry of await readdir(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const names = entry.name.startsWith('@') ? (await readdir(join(nodeModules, entry.name))).map((n) => `${entry.name}/${n}`) : [entry.name];
    for (const name of names) {
      const bytes = await treeBytes(join(nodeModules, name));
      packages.push({ name, bytes });
      total += bytes;
    }
  }
  return { bytes: total, largest: packages.sort((a, b) => b.bytes - a.bytes).slice(0, 8) };
}

/** @param {string} path @returns {Promise<number>} */
async function treeBytes(path) {
  const info = await lstat(path);
  if (!info.isDirectory()) return info.size;
  let sum = 0;
  for (const entry of await readdir(path)) sum += await treeBytes(join(path, entry));
  return sum;
}

/** A fresh directory outside the workspace tree. @param {string} prefix */
export const outsideWorkspace = (prefix) => mkdtemp(join(tmpdir(), prefix));

/** The `Tests  N passed` count of a vitest run's output. @param {string} output */
export function passedTests(output) {
  const m = /Tests\s+(\d+) passed/.exec(output.replace(/\x1b\[[0-9;]*m/g, ''));
  return m ? Number(m[1]) : 0;
}

/**
 * A real npm registry on loopback, for installing this clone's packages the
 * way users get them: verdaccio serves the workspace's public packages,
 * published by `changeset publish` (pnpm packs each one, running its
 * `prepack` build and rewriting `workspace:` and `catalog:` ranges), and
 * passes every other package through from the registry npm is configured
 * with. The Airlock names are served only from here, never from upstream, so
 * an install can only get what this clone published.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runServer } from 'verdaccio';

/** @typedef {{ name: string, version: string, dir: string }} PublicPackage */
/** @typedef {{ url: string, uplink: string, dir: string, close: () => Promise<void> }} Registry */

export const workspaceRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The workspace's packages that are published (not `"private": true`).
 * @returns {PublicPackage[]}
 */
export function publicPackages() {
  /** @type {PublicPackage[]} */
  const out = [];
  for (const group of ['packages', 'plugins', 'tools']) {
    const base = join(workspaceRoot, group);
    for (const entry of readdirSync(base)) {
      const file = join(base, entry, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      if (!pkg.private) out.push({ name: pkg.name, version: pkg.version, dir: join(base, entry) });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The registry npm is configured with (what `npm config get registry` says), from the environment or npm itself.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<string>}
 */
export async function npmRegistry(env = process.env) {
  const fromEnv = env.npm_config_registry ?? env.NPM_CONFIG_REGISTRY;
  if (fromEnv) return withSlash(fromEnv);
  const { stdout } = await exec('npm', ['config', 'get', 'registry'], { cwd: tmpdir(), env });
  return withSlash(stdout.trim() || 'https://registry.npmjs.org/');
}

/**
 * Start verdaccio on `host:port` (port 0: any free one) with its storage in
 * `dir` (default: a new temporary directory, removed by `close`).
 * @param {{ port?: number, host?: string, dir?: string, uplink?: string, log?: 'warn' | 'http' | 'info' }} [options]
 * @returns {Promise<Registry>}
 */
export async function startRegistry(options = {}) {
  const owned = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'airlock-registry-')));
  await mkdir(dir, { recursive: true });
  const uplink = options.uplink ?? (await npmRegistry());
  /** @type {Record<string, unknown>} */
  const local = { access: '$all', publish: '$authenticated', unpublish: '$authenticated' };
  const app = await runServer({
    self_path: dir,
    storage: join(dir, 'storage'),
    auth: { htpasswd: { file: join(dir, 'htpasswd'), max_users: 1000 } },
    uplinks: { upstream: { url: uplink, timeout: '120s', max_fails: 5, cache: true } },
    packages: {
      // This clone's packages: only what it published, never a namesake from upstream.
      ...Object.fromEntries(publicPackages().map((p) => [p.name, local])),
      '@airlock/*': local,
      '**': { access: '$all', publish: '$authenticated', proxy: 'upstream' },
    },
    web: { enable: false },
    log: { type: 'stdout', format: 'pretty', level: options.log ?? 'warn' },
  });
  /** @type {import('node:http').Server} */
  const server = app;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve(undefined));
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
  return {
    url,
    uplink,
    dir,
    close: async () => {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
      if (owned) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An npm user config that holds a token for `registry` (a user is registered
 * on first use), for the commands that publish to it.
 * @param {string} registry @param {string} dir where the config file goes
 * @returns {Promise<string>} the config file's path
 */
export async function publisherConfig(registry, dir) {
  const name = 'airlock-publisher';
  const res = await fetch(new URL(`-/user/org.couchdb.user:${name}`, registry), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password: 'airlock-local-publisher', type: 'user', roles: [] }),
  });
  const body = /** @type {{ token?: string, error?: string }} */ (await res.json().catch(() => ({})));
  if (!res.ok || !body.token) throw new Error(`${registry} did not register a publisher (${res.status}): ${body.error ?? 'no token'}`);
  const file = join(dir, 'publisher.npmrc');
  const auth = registry.replace(/^https?:/, '');
  await writeFile(file, `registry=${registry}\n${auth}:_authToken=${body.token}\n`, { mode: 0o600 });
  return file;
}

/**
 * Publish every public workspace package to `registry` with `changeset
 * publish` (no git tags), from a copy of their sources: each package's
 * `prepack` builds it there from scratch, as on a release machine, and the
 * workspace's own `dist/` folders, which other test suites may be importing
 * at the same time, are never rewritten.
 * @param {string} registry
 * @param {{ onOutput?: (chunk: string) => void }} [options]
 * @returns {Promise<PublicPackage[]>} what is now served there
 */
export async function publishWorkspace(registry, options = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-publish-'));
  try {
    const source = await sourceCopy(join(dir, 'workspace'));
    const userconfig = await publisherConfig(registry, dir);
    const env = { ...process.env, npm_config_registry: registry, npm_config_userconfig: userconfig, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' };
    const changeset = join(workspaceRoot, 'node_modules', '.bin', 'changeset');
    const result = await exec(changeset, ['publish', '--no-git-tag'], { cwd: source, env, onOutput: options.onOutput });
    const packages = publicPackages();
    const missing = [];
    for (const p of packages) {
      const res = await fetch(new URL(`${p.name.replace('/', '%2f')}/${p.version}`, registry));
      if (!res.ok) missing.push(`${p.name}@${p.version}`);
    }
    if (missing.length) throw new Error(`changeset publish left out ${missing.join(', ')}:\n${result.stdout}\n${result.stderr}`);
    return packages;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What a build produces or installs; never copied. */
const NOT_SOURCES = new Set(['node_modules', 'dist', '.turbo', 'coverage']);

/**
 * The sources the public packages are built from, copied into `dest`: the
 * root's files, `wit/`, `.changeset/` and each public package, without
 * build output. Installed dependencies are linked, not copied (pnpm's links
 * inside them are relative to where they really are).
 * @param {string} dest
 * @returns {Promise<string>} `dest`
 */
async function sourceCopy(dest) {
  const skip = (/** @type {string} */ path) => !NOT_SOURCES.has(basename(path)) && !path.endsWith('.tsbuildinfo');
  await mkdir(dest, { recursive: true });
  for (const entry of await readdir(workspaceRoot, { withFileTypes: true })) {
    if (entry.isFile()) await cp(join(workspaceRoot, entry.name), join(dest, entry.name));
  }
  for (const dir of ['wit', '.changeset']) await cp(join(workspaceRoot, dir), join(dest, dir), { recursive: true, filter: skip });
  await symlink(join(workspaceRoot, 'node_modules'), join(dest, 'node_modules'), 'dir');
  for (const p of publicPackages()) {
    const to = join(dest, relative(workspaceRoot, p.dir));
    await cp(p.dir, to, { recursive: true, filter: skip });
    await symlink(join(p.dir, 'node_modules'), join(to, 'node_modules'), 'dir');
  }
  return dest;
}

/** @param {string} url */
const withSlash = (url) => (url.endsWith('/') ? url : `${url}/`);

/**
 * @param {string} cmd @param {string[]} args
 * @param {{ cwd: string, env?: NodeJS.ProcessEnv, onOutput?: (chunk: string) => void }} options
 * @returns {Promise<{ stdout: string, stderr: string }>}
 */
function exec(cmd, args, { cwd, env, onOutput }) {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`), { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
    if (onOutput) {
      child.stdout?.on('data', (d) => onOutput(String(d)));
      child.stderr?.on('data', (d) => onOutput(String(d)));
    }
  });
}

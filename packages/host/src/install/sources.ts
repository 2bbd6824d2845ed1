/**
 * Where a plugin comes from, fetched into a staging directory: a local
 * directory, a `.tgz` (as `npm pack` makes), an npm spec (`npm:@scope/name@^1`,
 * through the npm client), or a git URL with a ref (`git+https://…#v1.2.0`).
 * Only what an installed plugin needs is kept: package.json, the component,
 * the signature, README and LICENSE.
 */
import { execFile } from 'node:child_process';
import { copyFile, lstat, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { AirlockError } from '../errors.js';
import { extractTarball } from './archive.js';

const run = promisify(execFile);

export type SourceKind = 'directory' | 'tarball' | 'npm' | 'git';

export interface Source {
  kind: SourceKind;
  /** The source as the user gave it (recorded, and used again by `update`). */
  given: string;
  /** A path (directory, tarball), an npm spec, or a git URL without its ref. */
  location: string;
  /** For git: the branch, tag or commit after `#`. */
  ref?: string;
}

/** Largest component accepted, in bytes. */
export const MAX_COMPONENT_BYTES = 64 * 1024 * 1024;

const FORMS = 'a plugin directory, a .tgz file, `npm:<package spec>`, or a git URL (`git+https://…`, `git+file://…`, `….git`) with an optional `#ref`';

/** Read a source string. Paths are resolved against `cwd`. */
export async function parseSource(given: string, cwd = process.cwd()): Promise<Source> {
  const text = given.trim();
  if (text.startsWith('npm:')) {
    const spec = text.slice(4);
    if (!spec) throw invalid(given, 'the npm spec after `npm:` is empty');
    return { kind: 'npm', given, location: spec };
  }
  const git = /^(git\+)?((?:https?|ssh|file|git):\/\/[^#]+?|[^#]+\.git)(?:#(.+))?$/.exec(text);
  if (git && (git[1] || git[2]!.startsWith('git://') || git[2]!.endsWith('.git'))) {
    return { kind: 'git', given, location: git[2]!, ...(git[3] ? { ref: git[3] } : {}) };
  }
  const path = resolve(cwd, text);
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) return { kind: 'directory', given, location: path };
  if (info?.isFile() && /\.(tgz|tar\.gz|tar)$/.test(path)) return { kind: 'tarball', given, location: path };
  throw invalid(given, info ? 'it is neither a directory nor a .tgz/.tar file' : 'no such file or directory');
}

function invalid(given: string, why: string): AirlockError {
  return new AirlockError('SOURCE_INVALID', `cannot install from \`${given}\`: ${why}`, { hint: `Give ${FORMS}.` });
}

/**
 * Fetch `source` into `staging` (an empty directory the caller owns and
 * deletes). Resolves with the directory that holds the package.
 */
export async function fetchSource(source: Source, staging: string, progress: (message: string) => void = () => {}): Promise<string> {
  const target = join(staging, 'package');
  switch (source.kind) {
    case 'directory':
      await copyPackage(source.location, target);
      return target;
    case 'tarball':
      progress(`unpacking ${basename(source.location)}`);
      await mkdir(target);
      await extractTarball(source.location, target);
      return target;
    case 'npm': {
      progress(`fetching ${source.location} with npm`);
      const downloads = join(staging, 'npm');
      await mkdir(downloads);
      let out: string;
      try {
        ({ stdout: out } = await run('npm', ['pack', source.location, '--pack-destination', downloads, '--json', '--ignore-scripts', '--silent'], { maxBuffer: 16 << 20, timeout: 300_000 }));
      } catch (err) {
        throw unavailable(source, (err as { stderr?: string }).stderr?.trim().split('\n').slice(-3).join(' ') || (err as Error).message, 'Check the spec with `npm view <spec>`, and the registry in your npm config.');
      }
      const packed = (JSON.parse(out) as { filename: string }[])[0];
      if (!packed) throw unavailable(source, 'npm pack produced no tarball');
      progress(`unpacking ${basename(packed.filename)}`);
      await mkdir(target);
      await extractTarball(join(downloads, basename(packed.filename)), target);
      return target;
    }
    case 'git': {
      progress(`cloning ${source.location}${source.ref ? `#${source.ref}` : ''}`);
      const clone = join(staging, 'git');
      const isCommit = source.ref !== undefined && /^[0-9a-f]{7,40}$/i.test(source.ref);
      // No hooks, no submodules, no prompts: cloning must not run anything from the repository.
      const git = (args: string[]) =>
        run('git', ['-c', 'core.hooksPath=/dev/null', '-c', 'submodule.recurse=false', ...args], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0' }, timeout: 300_000 });
      try {
        await git(['clone', '--quiet', '--no-recurse-submodules', ...(source.ref && !isCommit ? ['--depth', '1', '--branch', source.ref] : []), '--', source.location, clone]);
        if (isCommit) await git(['-C', clone, 'checkout', '--quiet', '--detach', source.ref!]);
      } catch (err) {
        throw unavailable(source, (err as { stderr?: string }).stderr?.trim() || (err as Error).message, 'Check the URL and that the ref (branch, tag or commit) exists.');
      }
      await copyPackage(clone, target);
      return target;
    }
  }
}

function unavailable(source: Source, why: string, hint?: string): AirlockError {
  return new AirlockError('SOURCE_UNAVAILABLE', `cannot fetch \`${source.given}\`: ${why}`, hint ? { hint } : {});
}

/**
 * Copy what an installed plugin needs from a package directory: package.json,
 * the component its manifest names, and the signature, README and LICENSE
 * when present. Symlinks are refused: the host must read only the package's own files.
 */
async function copyPackage(from: string, to: string): Promise<void> {
  const pkgFile = join(from, 'package.json');
  let pkg: { airlock?: { component?: unknown } };
  try {
    pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as typeof pkg;
  } catch (err) {
    throw new AirlockError('SOURCE_INVALID', `${from} has no readable package.json: ${(err as Error).message}`, { hint: 'A plugin is a package whose package.json holds an "airlock" manifest.' });
  }
  const component = typeof pkg.airlock?.component === 'string' ? pkg.airlock.component : 'dist/plugin.wasm';
  const extras = (await readdir(from)).filter((f) => /^(README|LICENSE|LICENCE|NOTICE)(\.\w+)?$/i.test(f) || f === 'airlock.sig.json');
  for (const file of ['package.json', component, ...extras]) {
    const src = resolve(from, file);
    if (!src.startsWith(resolve(from) + '/')) throw new AirlockError('SOURCE_INVALID', `the component path \`${file}\` leaves the package`, {});
    const info = await lstat(src).catch(() => undefined);
    if (!info) {
      if (file === component) {
        throw new AirlockError('COMPONENT_INVALID', `${from} has no component at ${component}`, { hint: 'Build the plugin (`airlock-plugin build`) before installing it, or install a packed tarball that contains dist/.' });
      }
      continue;
    }
    if (!info.isFile()) throw new AirlockError('SOURCE_INVALID', `\`${file}\` in ${from} is not a regular file (symlinks are not installed)`, { hint: 'Replace the link with the file itself.' });
    if (file === component && info.size > MAX_COMPONENT_BYTES) {
      throw new AirlockError('SOURCE_INVALID', `the component ${component} is ${info.size} bytes, over the ${MAX_COMPONENT_BYTES}-byte limit`, {});
    }
    await mkdir(dirname(join(to, file)), { recursive: true });
    await copyFile(src, join(to, file));
  }
}

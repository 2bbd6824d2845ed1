/**
 * Granted directories: from the manifest's paths to what the plugin's thread
 * serves (see sandbox/wasi-fs.ts for how paths inside them are confined).
 */
import { lstatSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { AirlockError } from '../errors.js';
import type { FsAccess } from '../manifest.js';
import { SPACE_PER_ENTRY, type Preopen } from '../sandbox/wasi-fs.js';
import type { CapabilitySpec } from './spec.js';

/** A manifest path as an absolute path: `~` and `~/…` are the user's home directory. */
export function expandPath(path: string, home: string = homedir()): string {
  const expanded = path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
  return normalize(expanded).replace(/(.)\/+$/, '$1');
}

/** Why a manifest path cannot name a granted directory, or undefined when it can. */
export function pathProblem(path: string): string | undefined {
  if (path.includes('\0')) return 'must not contain NUL';
  if (!isAbsolute(path) && path !== '~' && !path.startsWith('~/')) return 'must be an absolute path or start with `~/`';
  if (path.split('/').includes('..')) return 'must not contain `..`';
  if (path === SCRATCH_PATH || path.startsWith(`${SCRATCH_PATH}/`)) return `is where the plugin's own scratch directory is (${SCRATCH_PATH}, always there, no grant needed)`;
  return undefined;
}

/** Where a plugin finds its private scratch directory. */
export const SCRATCH_PATH = '/scratch';

/** What a directory holds, as a space cap counts it: each file's size, and SPACE_PER_ENTRY per file and directory. */
function spaceUsed(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    total += SPACE_PER_ENTRY;
    if (entry.isFile()) total += lstatSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/**
 * A plugin's private scratch directory, `<home>/scratch/<id>`, offered to it
 * at SCRATCH_PATH without any grant: created on first use, capped at
 * `capBytes` (shared by the plugin's threads), deleted when the plugin is
 * removed.
 */
export function scratchPreopen(home: string, pluginId: string, capBytes: number): Preopen {
  const dir = join(home, 'scratch', pluginId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const used = new Int32Array(new SharedArrayBuffer(4));
  used[0] = Math.min(spaceUsed(dir), 2 ** 31 - 1);
  return { guestPath: SCRATCH_PATH, hostPath: realpathSync(dir), readOnly: false, space: { used, capBytes } };
}

/**
 * The directories a plugin may use, resolved on this machine. Each must exist
 * and be a directory; the plugin names it by its (expanded) manifest path.
 */
export function preopensFor(pluginId: string, entries: readonly { path: string; access: FsAccess }[] | undefined, home?: string): Preopen[] {
  return (entries ?? []).map(({ path, access }) => {
    const guestPath = expandPath(path, home);
    let hostPath: string | undefined;
    let why: string | undefined;
    try {
      hostPath = realpathSync(guestPath);
      if (!statSync(hostPath).isDirectory()) why = 'is not a directory';
    } catch (err) {
      why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message;
    }
    if (why || !hostPath) {
      throw new AirlockError('CAPABILITY_UNAVAILABLE', `plugin \`${pluginId}\` is granted the directory ${path}, which ${why}`, {
        plugin: pluginId,
        hint: `Create the directory (mkdir -p ${guestPath}), or leave it out of capabilities.filesystem.`,
      });
    }
    return { guestPath, hostPath, readOnly: access !== 'read-write' };
  });
}

const samePath = (a: string, b: string) => expandPath(a) === expandPath(b);

export const filesystemCapability: CapabilitySpec<'filesystem'> = {
  name: 'filesystem',
  form: 'filesystem <path>[:read-write]',
  items: (dirs) => dirs.map(({ path, access }) => ({ capability: 'filesystem', path, access })),
  covers: (granted, item) => granted?.some((g) => samePath(g.path, item.path) && (g.access === 'read-write' || item.access === 'read-only')) ?? false,
  add: (granted, item) => [...(granted ?? []).filter((d) => !samePath(d.path, item.path)), { path: item.path, access: item.access }],
  remove(granted, item, explicitAccess) {
    // `<path>:read-write` takes the write access back and leaves the directory readable; `<path>` takes it all.
    const kept =
      explicitAccess && item.access === 'read-write'
        ? (granted ?? []).map((d) => (samePath(d.path, item.path) ? { ...d, access: 'read-only' as const } : d))
        : (granted ?? []).filter((d) => !samePath(d.path, item.path));
    return kept.length > 0 ? kept : undefined;
  },
  parse(value) {
    const m = /^(.+?)(?::(read-only|read-write))?$/.exec(value ?? '');
    const problem = m ? pathProblem(m[1]!) : 'no path';
    if (problem !== undefined) return { problem: `\`${value}\`: the path ${problem}` };
    return { capability: 'filesystem', path: m![1]!, access: (m![2] as FsAccess | undefined) ?? 'read-only' };
  },
  describe: (item) => `filesystem ${item.path} (${item.access})`,
  show: (item) => ({ value: `${item.path} (${item.access})`, risky: item.access === 'read-write' }),
};

/**
 * Granted directories: from the manifest's paths to what the plugin's thread
 * serves (see sandbox/wasi-fs.ts for how paths inside them are confined).
 */
import { realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { AirlockError } from '../errors.js';
import type { FsAccess } from '../manifest.js';
import type { Preopen } from '../sandbox/wasi-fs.js';

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
  return undefined;
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

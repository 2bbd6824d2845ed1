/**
 * The host's home directory: checked before anything is written to it.
 *
 * Invariants:
 * - A home that must not be created (`create: false`) and is missing fails
 *   with `HOME_NOT_FOUND`, and nothing is created.
 * - A path that cannot hold a home (a file, a directory under a virtual
 *   filesystem such as `/proc`, one without write permission) fails with
 *   `HOME_UNUSABLE`, naming the path and the reason.
 * - Directories are created one level at a time. Node's recursive `mkdir`
 *   never returns for some paths (`/proc/x` keeps answering ENOENT and it
 *   retries forever), so it is not used on a path the user chose.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AirlockError } from './errors.js';

/** Make sure `home` is a usable directory, creating it (and missing parents) when `create` allows. */
export async function prepareHome(home: string, create: boolean): Promise<void> {
  const found = await kindOf(home, 'the Airlock home');
  if (found === 'missing' && !create) {
    throw new AirlockError('HOME_NOT_FOUND', `there is no Airlock home at ${home}`, {
      hint: 'Nothing is installed there yet: install a plugin first (it creates the home), or point to an existing home (`--home <dir>` or AIRLOCK_HOME).',
    });
  }
  await makeDirectories(home, 'the Airlock home');
  try {
    await access(home, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw unusable(home, 'the Airlock home', `it is not writable (${(error as NodeJS.ErrnoException).code})`);
  }
}

/**
 * `mkdir -p`, one level at a time, with errors that name the path. `what`
 * says what the directory is for ("the Airlock home", "the component cache").
 */
export async function makeDirectories(path: string, what: string): Promise<void> {
  const found = await kindOf(path, what);
  if (found === 'directory') return;
  if (found === 'other') throw unusable(path, what, 'it exists and is not a directory');
  const parent = dirname(path);
  if (parent !== path) await makeDirectories(parent, what);
  try {
    await mkdir(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await kindOf(path, what)) === 'directory') return;
    throw unusable(path, what, reasonOf(code));
  }
}

async function kindOf(path: string, what: string): Promise<'missing' | 'directory' | 'other'> {
  try {
    return (await stat(path)).isDirectory() ? 'directory' : 'other';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'ENOTDIR') return 'other';
    throw unusable(path, what, reasonOf(code));
  }
}

function reasonOf(code: string | undefined): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the filesystem is read-only';
    case 'ENOSPC':
      return 'the disk is full';
    case 'ENOENT':
      // mkdir in an existing directory answering ENOENT: a virtual filesystem such as /proc or /sys.
      return 'the filesystem does not allow creating directories there';
    default:
      return `the system answered ${code ?? 'an unknown error'}`;
  }
}

function unusable(path: string, what: string, reason: string): AirlockError {
  return new AirlockError('HOME_UNUSABLE', `cannot use ${path} for ${what}: ${reason}`, {
    hint: 'Choose a directory on a local disk that you can write to (`--home <dir>`, AIRLOCK_HOME, or createHost({ home })).',
  });
}

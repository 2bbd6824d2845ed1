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
 * - Everything the host creates under its home is its owner's alone:
 *   directories 0700, files 0600, set explicitly (chmod), whatever the umask.
 *   Opening a home tightens the paths the host owns in it (`tightenHome`), so a
 *   home an older host left group- or world-readable is closed too.
 */
import { chmodSync, closeSync, constants, fchmodSync, lstatSync, openSync } from 'node:fs';
import { access, chmod, lstat, mkdir, open, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AirlockError } from './errors.js';

/** Mode of every directory the host creates under its home: its owner's only. */
export const PRIVATE_DIR = 0o700;
/** Mode of every file the host writes under its home. */
export const PRIVATE_FILE = 0o600;

/** Make sure `home` is a usable directory, creating it (and missing parents) when `create` allows. */
export async function prepareHome(home: string, create: boolean): Promise<void> {
  const found = await kindOf(home, 'the Airlock home');
  if (found === 'missing' && !create) {
    throw new AirlockError('HOME_NOT_FOUND', `there is no Airlock home at ${home}`, {
      hint: 'Nothing is installed there yet: install a plugin first (it creates the home), or point to an existing home (`--home <dir>` or AIRLOCK_HOME).',
    });
  }
  await makeDirectories(home, 'the Airlock home', PRIVATE_DIR);
  try {
    await access(home, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw unusable(home, 'the Airlock home', `it is not writable (${(error as NodeJS.ErrnoException).code})`);
  }
}

/**
 * `mkdir -p`, one level at a time, with errors that name the path. `what`
 * says what the directory is for ("the Airlock home", "the component cache").
 * With `mode`, every directory it creates gets exactly that mode (existing
 * ones are left as they are).
 */
export async function makeDirectories(path: string, what: string, mode?: number): Promise<void> {
  const found = await kindOf(path, what);
  if (found === 'directory') return;
  if (found === 'other') throw unusable(path, what, 'it exists and is not a directory');
  const parent = dirname(path);
  if (parent !== path) await makeDirectories(parent, what, mode);
  try {
    await mkdir(path, mode === undefined ? undefined : { mode });
    if (mode !== undefined) await chmod(path, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await kindOf(path, what)) === 'directory') return;
    throw unusable(path, what, reasonOf(code));
  }
}

/** Create the directory `path` (its parent exists) with mode 0700, whatever the umask. */
export async function makePrivateDirectory(path: string): Promise<void> {
  await mkdir(path, { mode: PRIVATE_DIR });
  await chmod(path, PRIVATE_DIR);
}

/** `mkdir -p` inside the home (never on a path the user chose), every level it creates 0700. */
export async function makePrivateDirectories(path: string): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode: PRIVATE_DIR });
  if (first === undefined) return;
  for (let dir = path; ; dir = dirname(dir)) {
    await chmod(dir, PRIVATE_DIR);
    if (dir === first || dirname(dir) === dir) break;
  }
}

/**
 * Write `data` to the new file `path` with mode 0600, whatever the umask; fails
 * if `path` exists. Callers write a temporary name and rename it into place.
 */
export async function writePrivateFile(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'wx', PRIVATE_FILE);
  try {
    await handle.chmod(PRIVATE_FILE);
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

/**
 * Give the paths the host owns in `home` their private modes, when they exist
 * with looser ones (a home written by an older host, or under a loose umask).
 * Only what this user owns and is not a symlink is changed; the home itself is
 * left alone (it may be a directory the user chose for other things too), as
 * are files the user put there (`config.json`, `keys/`). Best effort: a path
 * that cannot be changed is left as it is.
 */
export async function tightenHome(home: string): Promise<void> {
  const dirs = ['cache', join('cache', 'components'), 'cache-digests', 'staging', 'plugins'].map((p) => join(home, p));
  const files = ['state.db', 'storage.db'].flatMap((db) => [db, `${db}-wal`, `${db}-shm`]).concat(join('cache', 'component-index.json')).map((p) => join(home, p));
  await Promise.all([...dirs.map((d) => tighten(d, PRIVATE_DIR)), ...files.map((f) => tighten(f, PRIVATE_FILE))]);
}

/**
 * Give a plugin package about to be placed in the home private modes:
 * directories 0700, files 0600 (nothing in it is executed as a file). Symlinks
 * are left alone (sources refuse them anyway).
 */
export async function privatePackage(path: string): Promise<void> {
  const s = await lstat(path);
  if (s.isDirectory()) {
    await chmod(path, PRIVATE_DIR);
    for (const entry of await readdir(path)) await privatePackage(join(path, entry));
  } else if (s.isFile()) {
    await chmod(path, PRIVATE_FILE);
  }
}

/** chmod `path` to `mode` if it exists, is ours, is not a symlink, and allows more than `mode`. */
export async function tighten(path: string, mode: number): Promise<void> {
  try {
    const s = await lstat(path);
    if (s.isSymbolicLink() || (process.getuid !== undefined && s.uid !== process.getuid())) return;
    if ((s.mode & 0o777 & ~mode) !== 0) await chmod(path, mode);
  } catch {
    // Missing, or not ours to change.
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

/**
 * Before SQLite opens `file`: create it, empty, with mode 0600 when it is
 * missing (SQLite gives the -wal and -shm files it makes the database's mode),
 * and tighten it and those files when they exist with looser modes. An existing
 * file is never opened here: closing a descriptor would drop the locks another
 * connection of this process holds on it.
 */
export function preparePrivateDatabase(file: string): void {
  try {
    const fd = openSync(file, 'wx', PRIVATE_FILE);
    try {
      fchmodSync(fd, PRIVATE_FILE);
    } finally {
      closeSync(fd);
    }
  } catch {
    // It exists (tightened below), or cannot be made: SQLite reports that when it opens it.
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      const s = lstatSync(f);
      if (!s.isSymbolicLink() && (process.getuid === undefined || s.uid === process.getuid()) && (s.mode & 0o077) !== 0) chmodSync(f, PRIVATE_FILE);
    } catch {
      // Missing, or not ours to change.
    }
  }
}

/**
 * Files in the directories the user granted (manifest
 * `capabilities.filesystem`), by their full paths. The host confines every
 * path to those directories: `..`, absolute paths and symlinks that lead
 * outside are refused, and so is writing under a read-only grant. Failures
 * are HostErrors with interface `filesystem` and the WASI error code
 * (`no-entry`, `not-permitted`, `read-only`, `exist`, `not-empty`, …).
 */
/// <reference path="../types/wasi.d.ts" />
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';
import type { Descriptor, DescriptorType } from 'wasi:filesystem/types@0.2.12';
import { close } from './dispose.js';
import { HostError } from './errors.js';

export interface DirEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
}

export interface FileStat {
  type: DirEntry['type'];
  size: number;
  /** Last modification, when the host knows it. */
  modified: Date | undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CHUNK = 1 << 20;

const EXPLAIN: Record<string, string> = {
  'no-entry': 'does not exist',
  'not-permitted': 'is outside the directories this plugin was granted (or reached through a link that leads outside)',
  'read-only': 'is in a directory granted read-only',
  exist: 'already exists',
  'not-empty': 'is a directory that is not empty',
  'is-directory': 'is a directory',
  'not-directory': 'is not a directory',
  access: 'is not accessible',
  loop: 'is a symbolic link',
};

function fsError(path: string, thrown: unknown): HostError {
  if (thrown instanceof HostError) return thrown;
  const payload = thrown !== null && typeof thrown === 'object' && 'payload' in thrown ? (thrown as { payload: unknown }).payload : thrown;
  const code = typeof payload === 'string' ? payload : thrown instanceof Error ? 'error' : String(payload);
  return new HostError('filesystem', code, `${path} ${EXPLAIN[code] ?? `failed (${code})`}`);
}

let roots: { path: string; dir: Descriptor }[] | undefined;

/** The granted directories, longest path first (asked of the host at first use, never at build time). */
function granted(): { path: string; dir: Descriptor }[] {
  roots ??= getDirectories()
    .map(([dir, path]) => ({ path, dir }))
    .sort((a, b) => b.path.length - a.path.length);
  return roots;
}

/**
 * The plugin's private scratch directory: always there, no grant needed,
 * kept across restarts and reloads, deleted when the plugin is removed, and
 * capped in size by the host (64 MiB unless it says otherwise).
 */
export const SCRATCH_DIR = '/scratch';

/** The granted directory holding `path`, and `path` relative to it. */
function locate(path: string): { dir: Descriptor; rel: string } {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new HostError('filesystem', 'invalid', `${String(path)}: use an absolute path inside a granted directory`);
  }
  for (const root of granted()) {
    if (path === root.path) return { dir: root.dir, rel: '.' };
    const prefix = root.path.endsWith('/') ? root.path : `${root.path}/`;
    if (path.startsWith(prefix)) return { dir: root.dir, rel: path.slice(prefix.length) || '.' };
  }
  // The host offers every plugin its scratch directory; it is no grant.
  const list = granted()
    .map((r) => r.path)
    .filter((p) => p !== SCRATCH_DIR);
  throw new HostError(
    'filesystem',
    'not-permitted',
    `${path} is not inside a granted directory (${list.length ? `granted: ${list.join(', ')}` : `this plugin was granted none besides its scratch directory ${SCRATCH_DIR}; add it to capabilities.filesystem`})`,
  );
}

function run<T>(path: string, f: (dir: Descriptor, rel: string) => T): T {
  const { dir, rel } = locate(path);
  try {
    return f(dir, rel);
  } catch (e) {
    throw fsError(path, e);
  }
}

const entryType = (t: DescriptorType): DirEntry['type'] =>
  t === 'regular-file' ? 'file' : t === 'directory' ? 'directory' : t === 'symbolic-link' ? 'symlink' : 'other';

function readAll(file: Descriptor): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const [chunk, eof] = file.read(BigInt(CHUNK), BigInt(size));
    if (chunk.length > 0) {
      parts.push(chunk);
      size += chunk.length;
    }
    if (eof || chunk.length === 0) break;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function writeAll(file: Descriptor, data: Uint8Array, start: bigint): void {
  let at = 0;
  while (at < data.length) at += Number(file.write(data.subarray(at), start + BigInt(at)));
}

/** What is at `path`, or undefined when nothing is. */
function statType(path: string): DirEntry['type'] | undefined {
  try {
    return fs.stat(path).type;
  } catch (e) {
    if (e instanceof HostError && e.code === 'no-entry') return undefined;
    throw e;
  }
}

export const fs = {
  /** Where the plugin's private scratch directory is (see SCRATCH_DIR): `fs.writeText(`${fs.scratch}/cache.json`, …)`. */
  scratch: SCRATCH_DIR,

  /** The directories this plugin may use, by the paths it names them with: its grants, and its scratch directory. */
  roots(): string[] {
    return granted().map((r) => r.path);
  },

  readBytes(path: string): Uint8Array {
    return run(path, (dir, rel) => {
      const file = dir.openAt({ symlinkFollow: true }, rel, {}, { read: true });
      try {
        return readAll(file);
      } finally {
        close(file);
      }
    });
  },

  readText(path: string): string {
    return decoder.decode(fs.readBytes(path));
  },

  /** Write a file, replacing it (or appending with `{ append: true }`); the directory must exist. */
  writeBytes(path: string, data: Uint8Array, options: { append?: boolean } = {}): void {
    run(path, (dir, rel) => {
      const file = dir.openAt({ symlinkFollow: true }, rel, { create: true, truncate: !options.append }, { write: true });
      try {
        writeAll(file, data, options.append ? file.stat().size : 0n);
      } finally {
        close(file);
      }
    });
  },

  writeText(path: string, text: string, options: { append?: boolean } = {}): void {
    fs.writeBytes(path, encoder.encode(text), options);
  },

  list(path: string): DirEntry[] {
    return run(path, (dir, rel) => {
      const target = rel === '.' ? dir : dir.openAt({ symlinkFollow: true }, rel, { directory: true }, { read: true });
      const stream = target.readDirectory();
      try {
        const entries: DirEntry[] = [];
        for (let e = stream.readDirectoryEntry(); e; e = stream.readDirectoryEntry()) entries.push({ name: e.name, type: entryType(e.type) });
        return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      } finally {
        close(stream);
        if (target !== dir) close(target);
      }
    });
  },

  stat(path: string): FileStat {
    return run(path, (dir, rel) => {
      const s = dir.statAt({ symlinkFollow: true }, rel);
      const m = s.dataModificationTimestamp;
      return { type: entryType(s.type), size: Number(s.size), modified: m ? new Date(Number(m.seconds) * 1000 + Math.floor(m.nanoseconds / 1e6)) : undefined };
    });
  },

  exists(path: string): boolean {
    return statType(path) !== undefined;
  },

  /** Make a directory; with `{ recursive: true }` also its missing parents, and an existing one is fine. */
  mkdir(path: string, options: { recursive?: boolean } = {}): void {
    if (!options.recursive) return run(path, (dir, rel) => dir.createDirectoryAt(rel));
    const { rel } = locate(path);
    const parts = rel.split('/').filter((p) => p && p !== '.');
    const base = path.slice(0, path.length - rel.length).replace(/\/$/, '');
    for (let i = 1; i <= parts.length; i++) {
      const sub = `${base}/${parts.slice(0, i).join('/')}`;
      const type = statType(sub);
      if (type === undefined) run(sub, (dir, r) => dir.createDirectoryAt(r));
      else if (type !== 'directory') throw new HostError('filesystem', 'not-directory', `${sub} ${EXPLAIN['not-directory']}`);
    }
  },

  /** Remove a file, or an empty directory. */
  remove(path: string): void {
    run(path, (dir, rel) => {
      if (dir.statAt({}, rel).type === 'directory') dir.removeDirectoryAt(rel);
      else dir.unlinkFileAt(rel);
    });
  },

  /** Rename within one granted directory. */
  rename(from: string, to: string): void {
    const target = locate(to);
    run(from, (dir, rel) => dir.renameAt(rel, target.dir, target.rel));
  },
};

/**
 * wasi:filesystem for the plugin's thread: the directories the plugin was
 * granted, and nothing else.
 *
 * Every path a plugin passes is resolved here, never by the OS alone:
 * - absolute paths are refused (`not-permitted`), as are `..` steps that
 *   would climb above the descriptor's directory;
 * - the directory a path lands in is resolved with `realpath` and must lie
 *   inside the granted directory, so a symlink (or a chain of them) that
 *   points outside is refused (`not-permitted`), whoever made it;
 * - the last step is opened with `O_NOFOLLOW` once resolved, and a symlink
 *   that does not resolve is never followed (it could name a file outside the
 *   grant for `create` to make);
 * - plugins cannot make symlinks or hard links (`not-permitted`);
 * - under a read-only grant every write, create, truncate, rename, delete
 *   and `set-times` answers `read-only`;
 * - only regular files and directories are opened: a FIFO or device would
 *   block or reach outside (`not-permitted`).
 *
 * Directory descriptors are paths (no OS handle); file descriptors hold an
 * OS file descriptor, recorded in a shared table so the host thread can close
 * them if it terminates this thread (a timed-out plugin must not leak them),
 * and bounded per instance (`MAX_OPEN_FILES`).
 *
 * What remains: a process outside the sandbox that swaps a directory for a
 * symlink between the check and the open could redirect one operation. The
 * plugin itself cannot, since it cannot make symlinks.
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { InputStream, IoError, OutputStream, Pollable, closed, symbolDispose } from './wasi-io.js';

/** A granted directory as the plugin's thread sees it. */
export interface Preopen {
  /** A cap on what the directory may hold (the plugin's scratch directory); undefined for none. */
  space?: SpaceCap;
  /** The path the plugin names it by (the manifest's path, `~` expanded). */
  guestPath: string;
  /** The directory on this machine, already resolved with `realpath`. */
  hostPath: string;
  readOnly: boolean;
}

/** Open files a plugin instance may hold at once. */
export const MAX_OPEN_FILES = 128;

/**
 * OS file descriptors held by the plugin's thread, in shared memory (-1: free
 * slot). A slot is cleared before its descriptor is closed, so a descriptor
 * listed here is always still the plugin's, and the host may close it once
 * the thread is gone.
 */
export type FdTable = Int32Array;

export function createFdTable(): FdTable {
  return new Int32Array(new SharedArrayBuffer(MAX_OPEN_FILES * 4)).fill(-1);
}

/** Close every descriptor still listed (after the thread that opened them stopped). */
export function closeListedFds(table: FdTable): void {
  for (let i = 0; i < table.length; i++) {
    const fd = Atomics.exchange(table, i, -1);
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
    }
  }
}

type ErrorCode = string;

/** The WASI error code for a Node fs error. */
function errorCode(err: unknown): ErrorCode {
  if (typeof err === 'string') return err;
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'ENOENT':
      return 'no-entry';
    case 'EEXIST':
      return 'exist';
    case 'EACCES':
      return 'access';
    case 'EPERM':
      return 'not-permitted';
    case 'ENOTDIR':
      return 'not-directory';
    case 'EISDIR':
      return 'is-directory';
    case 'ENOTEMPTY':
      return 'not-empty';
    case 'ELOOP':
      return 'loop';
    case 'ENAMETOOLONG':
      return 'name-too-long';
    case 'ENOSPC':
      return 'insufficient-space';
    case 'EDQUOT':
      return 'quota';
    case 'EROFS':
      return 'read-only';
    case 'EXDEV':
      return 'cross-device';
    case 'EBADF':
      return 'bad-descriptor';
    case 'EINVAL':
      return 'invalid';
    case 'EFBIG':
      return 'file-too-large';
    case 'EMFILE':
    case 'ENFILE':
      return 'insufficient-memory';
    case 'EBUSY':
      return 'busy';
    default:
      return 'io';
  }
}

/** Run an fs operation; a failure is thrown as its WASI error code (which the WIT `result` carries). */
function attempt<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw errorCode(err);
  }
}

interface PathFlags {
  symlinkFollow?: boolean;
}
interface OpenFlags {
  create?: boolean;
  directory?: boolean;
  exclusive?: boolean;
  truncate?: boolean;
}
interface DescriptorFlags {
  read?: boolean;
  write?: boolean;
  fileIntegritySync?: boolean;
  dataIntegritySync?: boolean;
  requestedWriteSync?: boolean;
  mutateDirectory?: boolean;
}
type NewTimestamp = { tag: 'no-change' } | { tag: 'now' } | { tag: 'timestamp'; val: { seconds: bigint; nanoseconds: number } };

const inside = (root: string, path: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

function descriptorType(s: Stats | import('node:fs').Dirent): string {
  if (s.isFile()) return 'regular-file';
  if (s.isDirectory()) return 'directory';
  if (s.isSymbolicLink()) return 'symbolic-link';
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  if (s.isCharacterDevice()) return 'character-device';
  if (s.isBlockDevice()) return 'block-device';
  return 'unknown';
}

const datetime = (ms: number) => {
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanoseconds: Math.round((ms - seconds * 1000) * 1e6) };
};

function descriptorStat(s: Stats) {
  return {
    type: descriptorType(s),
    linkCount: BigInt(s.nlink),
    size: BigInt(s.size),
    dataAccessTimestamp: datetime(s.atimeMs),
    dataModificationTimestamp: datetime(s.mtimeMs),
    statusChangeTimestamp: datetime(s.ctimeMs),
  };
}

/** `utimes` arguments for a pair of `new-timestamp`s (seconds; undefined: keep). */
function times(s: () => Stats, atime: NewTimestamp, mtime: NewTimestamp): [number, number] {
  const pick = (t: NewTimestamp, current: () => number): number =>
    t.tag === 'now' ? Date.now() / 1000 : t.tag === 'timestamp' ? Number(t.val.seconds) + t.val.nanoseconds / 1e9 : current();
  return [pick(atime, () => s().atimeMs / 1000), pick(mtime, () => s().mtimeMs / 1000)];
}

/**
 * The bytes a size-capped directory (a plugin's scratch directory) may hold,
 * shared by the plugin's threads: `used[0]` is what it holds now, counting
 * each file's size and SPACE_PER_ENTRY for each file and directory (so empty
 * files cannot fill a disk's inodes for free).
 */
export interface SpaceCap {
  used: Int32Array;
  capBytes: number;
}

/** What one file or directory costs against a cap, whatever its size. */
export const SPACE_PER_ENTRY = 4096;

const lstatOrUndefined = (path: string): Stats | undefined => {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
};

/** Take `bytes` of the cap, or throw `insufficient-space` (nothing taken). */
function reserve(space: SpaceCap | undefined, bytes: number): void {
  if (!space || bytes <= 0) return;
  if (Atomics.add(space.used, 0, bytes) + bytes > space.capBytes) {
    Atomics.sub(space.used, 0, bytes);
    throw 'insufficient-space';
  }
}

function release(space: SpaceCap | undefined, bytes: number): void {
  if (space && bytes > 0) Atomics.sub(space.used, 0, bytes);
}

/** What every descriptor of one grant shares. */
interface Grant {
  root: string;
  readOnly: boolean;
  fds: FdTable;
  space: SpaceCap | undefined;
}

/**
 * The `descriptor` resource. jco looks up every imported method on this class
 * when it instantiates a component, so all of them are defined here; the two
 * kinds override what applies to them.
 */
class Descriptor {
  constructor(
    readonly grant: Grant,
    /** Where it is on this machine, inside the grant. */
    readonly path: string,
    readonly flags: DescriptorFlags,
  ) {}
  getType(): string {
    throw 'bad-descriptor';
  }
  getFlags(): DescriptorFlags {
    return this.flags;
  }
  stat(): ReturnType<typeof descriptorStat> {
    throw 'bad-descriptor';
  }
  setTimes(_atime: NewTimestamp, _mtime: NewTimestamp): void {
    throw 'bad-descriptor';
  }
  sync(): void {}
  syncData(): void {}
  [symbolDispose](): void {}

  protected writable(): void {
    if (this.grant.readOnly) throw 'read-only';
  }
  protected notDir(): never {
    throw 'not-directory';
  }
  protected isDir(): never {
    throw 'is-directory';
  }

  // Methods of the other kind of descriptor answer with the error WASI names for that.
  readViaStream(_offset: bigint): InputStream {
    this.isDir();
  }
  writeViaStream(_offset: bigint): OutputStream {
    this.isDir();
  }
  appendViaStream(): OutputStream {
    this.isDir();
  }
  read(_length: bigint, _offset: bigint): [Uint8Array, boolean] {
    this.isDir();
  }
  write(_buffer: Uint8Array, _offset: bigint): bigint {
    this.isDir();
  }
  setSize(_size: bigint): void {
    this.isDir();
  }
  advise(): void {}
  readDirectory(): DirectoryEntryStream {
    this.notDir();
  }
  createDirectoryAt(_path: string): void {
    this.notDir();
  }
  statAt(_flags: PathFlags, _path: string): ReturnType<typeof descriptorStat> {
    this.notDir();
  }
  setTimesAt(_flags: PathFlags, _path: string, _a: NewTimestamp, _m: NewTimestamp): void {
    this.notDir();
  }
  openAt(_pathFlags: PathFlags, _path: string, _openFlags: OpenFlags, _flags: DescriptorFlags): Descriptor {
    this.notDir();
  }
  readlinkAt(_path: string): string {
    this.notDir();
  }
  removeDirectoryAt(_path: string): void {
    this.notDir();
  }
  renameAt(_old: string, _newDir: Descriptor, _new: string): void {
    this.notDir();
  }
  unlinkFileAt(_path: string): void {
    this.notDir();
  }
  metadataHashAt(_flags: PathFlags, _path: string): { lower: bigint; upper: bigint } {
    this.notDir();
  }
  linkAt(): void {
    throw 'not-permitted';
  }
  symlinkAt(): void {
    throw 'not-permitted';
  }
  isSameObject(other: Descriptor): boolean {
    const a = this.metadataHash();
    const b = other.metadataHash();
    return a.lower === b.lower && a.upper === b.upper;
  }
  metadataHash(): { lower: bigint; upper: bigint } {
    const s = attempt(() => statSync(this.path, { bigint: true }));
    return { lower: s.ino, upper: s.dev };
  }
}

/** Where this thread reports uses of its granted directories (the audit log); set by the worker. */
let auditHook: ((action: string, target: string, outcome: 'allowed' | 'refused', detail: string | undefined) => void) | undefined;

/** Decides whether one more operation is within the plugin's quota; the refusal when it is not. */
let quotaGate: (() => string | undefined) | undefined;

export function onFilesystemUse(hook: typeof auditHook, gate?: typeof quotaGate): void {
  auditHook = hook;
  quotaGate = gate;
}

/** The errors that mean the grant refused the operation, not that the filesystem failed it. */
const REFUSED = new Set(['not-permitted', 'read-only', 'access']);

/** Run a directory operation, and report it (allowed, refused, or allowed and failed) to the audit hook. */
function audited<T>(action: string, target: string, run: () => T): T {
  const over = quotaGate?.();
  if (over !== undefined) {
    auditHook?.(action, target, 'refused', over);
    throw 'quota';
  }
  try {
    const result = run();
    auditHook?.(action, target, 'allowed', undefined);
    return result;
  } catch (err) {
    const code = typeof err === 'string' ? err : 'io';
    auditHook?.(action, target, REFUSED.has(code) ? 'refused' : 'allowed', code);
    throw err;
  }
}

/** A directory inside a grant, named by its resolved host path. */
class DirectoryDescriptor extends Descriptor {
  /** What a plugin named, as a host path (not resolved: a refused `..` shows where it pointed). */
  #named(path: string): string {
    return typeof path === 'string' && path.startsWith('/') ? path : join(this.path, String(path));
  }
  override linkAt(_oldFlags?: PathFlags, oldPath?: string): void {
    audited('link', this.#named(oldPath ?? ''), () => super.linkAt());
  }
  override symlinkAt(oldPath?: string, newPath?: string): void {
    audited('link', this.#named(newPath ?? oldPath ?? ''), () => super.symlinkAt());
  }
  override getType(): string {
    return 'directory';
  }
  override stat() {
    return descriptorStat(attempt(() => statSync(this.path)));
  }
  override setTimes(atime: NewTimestamp, mtime: NewTimestamp): void {
    this.writable();
    attempt(() => utimesSync(this.path, ...times(() => statSync(this.path), atime, mtime)));
  }

  /**
   * Resolve `path` relative to this directory to a host path inside the
   * grant. `follow`: resolve a symlink in the last step (and require its
   * target to be inside the grant); otherwise the last step is named as is.
   * `mayBeMissing`: the last step may not exist yet (create, mkdir, rename).
   */
  resolve(path: string, follow: boolean, mayBeMissing = false): string {
    if (typeof path !== 'string' || path.includes('\0')) throw 'invalid';
    if (path.startsWith('/')) throw 'not-permitted';
    const parts: string[] = [];
    for (const seg of path.split('/')) {
      if (seg === '' || seg === '.') continue;
      if (seg === '..') {
        if (parts.length === 0) throw 'not-permitted';
        parts.pop();
      } else parts.push(seg);
    }
    if (parts.length === 0) return this.path;
    const lexical = join(this.path, ...parts);
    const parent = attempt(() => realpathSync(dirname(lexical)));
    if (!inside(this.grant.root, parent)) throw 'not-permitted';
    const target = join(parent, basename(lexical));
    let link: Stats | undefined;
    try {
      link = lstatSync(target);
    } catch (err) {
      if (errorCode(err) === 'no-entry' && mayBeMissing) return target;
      throw errorCode(err);
    }
    if (!link.isSymbolicLink() || !follow) return target;
    let real: string;
    try {
      real = realpathSync(target);
    } catch {
      // A dangling symlink is never followed: `create` through it would make a file wherever it points.
      throw 'no-entry';
    }
    if (!inside(this.grant.root, real)) throw 'not-permitted';
    return real;
  }

  readDirectory(): DirectoryEntryStream {
    const entries = attempt(() => readdirSync(this.path, { withFileTypes: true }));
    return new DirectoryEntryStream(entries.map((e) => ({ type: descriptorType(e), name: e.name })));
  }
  createDirectoryAt(path: string): void {
    audited('create-directory', this.#named(path), () => this.#createDirectoryAt(path));
  }
  #createDirectoryAt(path: string): void {
    this.writable();
    const target = this.resolve(path, false, true);
    reserve(this.grant.space, SPACE_PER_ENTRY);
    try {
      attempt(() => mkdirSync(target));
    } catch (err) {
      release(this.grant.space, SPACE_PER_ENTRY);
      throw err;
    }
  }
  statAt(flags: PathFlags, path: string) {
    const target = this.resolve(path, !!flags.symlinkFollow);
    return descriptorStat(attempt(() => lstatSync(target)));
  }
  setTimesAt(flags: PathFlags, path: string, atime: NewTimestamp, mtime: NewTimestamp): void {
    this.writable();
    const target = this.resolve(path, !!flags.symlinkFollow);
    if (attempt(() => lstatSync(target)).isSymbolicLink()) throw 'not-permitted';
    attempt(() => utimesSync(target, ...times(() => statSync(target), atime, mtime)));
  }
  openAt(pathFlags: PathFlags, path: string, openFlags: OpenFlags, flags: DescriptorFlags): Descriptor {
    const mutates = flags.write || flags.mutateDirectory || openFlags.create || openFlags.truncate;
    return audited(mutates ? 'write' : 'read', this.#named(path), () => this.#openAt(pathFlags, path, openFlags, flags, mutates));
  }
  #openAt(pathFlags: PathFlags, path: string, openFlags: OpenFlags, flags: DescriptorFlags, mutates: boolean | undefined): Descriptor {
    if (mutates) this.writable();
    const target = this.resolve(path, !!pathFlags.symlinkFollow, !!openFlags.create);
    let existing: Stats | undefined;
    try {
      existing = lstatSync(target);
    } catch {
      existing = undefined;
    }
    if (existing?.isSymbolicLink()) throw 'loop';
    if (existing && openFlags.create && openFlags.exclusive) throw 'exist';
    if (existing?.isDirectory()) {
      if (flags.write || openFlags.truncate) throw 'is-directory';
      return new DirectoryDescriptor(this.grant, target, flags);
    }
    if (openFlags.directory) throw existing ? 'not-directory' : 'no-entry';
    if (existing && !existing.isFile()) throw 'not-permitted';
    const slot = this.grant.fds.indexOf(-1);
    if (slot < 0) throw 'insufficient-memory';
    const access = flags.read && flags.write ? constants.O_RDWR : flags.write ? constants.O_WRONLY : constants.O_RDONLY;
    const mode =
      access |
      constants.O_NOFOLLOW |
      constants.O_NONBLOCK |
      (openFlags.create ? constants.O_CREAT : 0) |
      (openFlags.exclusive ? constants.O_EXCL : 0) |
      (openFlags.truncate ? constants.O_TRUNC : 0);
    // A new file costs an entry; truncating one gives its bytes back.
    const space = this.grant.space;
    const cost = space && !existing && openFlags.create ? SPACE_PER_ENTRY : 0;
    reserve(space, cost);
    let fd: number;
    try {
      fd = attempt(() => openSync(target, mode, 0o644));
    } catch (err) {
      release(space, cost);
      throw err;
    }
    if (existing && openFlags.truncate) release(space, existing.size);
    Atomics.store(this.grant.fds, slot, fd);
    return new FileDescriptor(this.grant, target, fd, slot, flags);
  }
  readlinkAt(path: string): string {
    const target = this.resolve(path, false);
    return attempt(() => readlinkSync(target));
  }
  removeDirectoryAt(path: string): void {
    audited('remove', this.#named(path), () => {
      this.writable();
      const target = this.resolve(path, false);
      if (target === this.grant.root) throw 'not-permitted';
      attempt(() => rmdirSync(target));
      release(this.grant.space, SPACE_PER_ENTRY);
    });
  }
  renameAt(oldPath: string, newDir: Descriptor, newPath: string): void {
    audited('rename', `${this.#named(oldPath)} -> ${newDir instanceof DirectoryDescriptor ? newDir.#named(newPath) : String(newPath)}`, () => this.#renameAt(oldPath, newDir, newPath));
  }
  #renameAt(oldPath: string, newDir: Descriptor, newPath: string): void {
    this.writable();
    if (!(newDir instanceof DirectoryDescriptor)) throw 'not-directory';
    if (newDir.grant !== this.grant) throw 'cross-device';
    const from = this.resolve(oldPath, false);
    const to = newDir.resolve(newPath, false, true);
    if (from === this.grant.root || to === this.grant.root) throw 'not-permitted';
    // A file renamed over another replaces it: the replaced one's bytes come back.
    const replaced = this.grant.space ? lstatOrUndefined(to) : undefined;
    attempt(() => renameSync(from, to));
    if (replaced?.isFile()) release(this.grant.space, SPACE_PER_ENTRY + replaced.size);
  }
  unlinkFileAt(path: string): void {
    audited('remove', this.#named(path), () => {
      this.writable();
      const target = this.resolve(path, false);
      const stats = attempt(() => lstatSync(target));
      if (stats.isDirectory()) throw 'is-directory';
      attempt(() => unlinkSync(target));
      release(this.grant.space, SPACE_PER_ENTRY + stats.size);
    });
  }
  metadataHashAt(flags: PathFlags, path: string) {
    const s = attempt(() => lstatSync(this.resolve(path, !!flags.symlinkFollow), { bigint: true }));
    return { lower: s.ino, upper: s.dev };
  }
}

/** Largest read answered at once; a plugin asking for more gets this much and asks again. */
const MAX_READ = 1 << 20;

/** An open regular file. */
class FileDescriptor extends Descriptor {
  #fd: number;
  constructor(
    grant: Grant,
    path: string,
    fd: number,
    readonly slot: number,
    flags: DescriptorFlags,
  ) {
    super(grant, path, flags);
    this.#fd = fd;
  }
  get fd(): number {
    if (this.#fd < 0) throw 'bad-descriptor';
    return this.#fd;
  }
  override getType(): string {
    return 'regular-file';
  }
  override stat() {
    return descriptorStat(attempt(() => fstatSync(this.fd)));
  }
  override metadataHash() {
    const s = attempt(() => fstatSync(this.fd, { bigint: true }));
    return { lower: s.ino, upper: s.dev };
  }
  #canRead(): void {
    if (!this.flags.read) throw 'bad-descriptor';
  }
  #canWrite(): void {
    this.writable();
    if (!this.flags.write) throw 'bad-descriptor';
  }
  override read(length: bigint, offset: bigint): [Uint8Array, boolean] {
    this.#canRead();
    const want = Math.min(Number(length), MAX_READ);
    const buf = new Uint8Array(want);
    const n = attempt(() => readSync(this.fd, buf, 0, want, offset));
    return [buf.subarray(0, n), n === 0 && want > 0];
  }
  override write(buffer: Uint8Array, offset: bigint): bigint {
    this.#canWrite();
    const space = this.grant.space;
    // Growth past the file's end counts against a capped directory, taken before the write and given back if it fails.
    const growth = space ? Math.max(0, Number(offset) + buffer.length - attempt(() => fstatSync(this.fd)).size) : 0;
    reserve(space, growth);
    try {
      return BigInt(attempt(() => writeSync(this.fd, buffer, 0, buffer.length, Number(offset))));
    } catch (err) {
      release(space, growth);
      throw err;
    }
  }
  override readViaStream(offset: bigint): InputStream {
    this.#canRead();
    return new FileInputStream(this, offset);
  }
  override writeViaStream(offset: bigint): OutputStream {
    this.#canWrite();
    let at = offset;
    return new OutputStream((bytes) => {
      at += this.write(bytes, at);
    });
  }
  override appendViaStream(): OutputStream {
    this.#canWrite();
    return new OutputStream((bytes) => {
      this.write(bytes, BigInt(fstatSync(this.fd).size));
    });
  }
  override setSize(size: bigint): void {
    this.#canWrite();
    const space = this.grant.space;
    const change = space ? Number(size) - attempt(() => fstatSync(this.fd)).size : 0;
    reserve(space, change);
    try {
      attempt(() => ftruncateSync(this.fd, Number(size)));
    } catch (err) {
      release(space, change);
      throw err;
    }
    release(space, -change);
  }
  override setTimes(atime: NewTimestamp, mtime: NewTimestamp): void {
    this.#canWrite();
    attempt(() => futimesSync(this.fd, ...times(() => fstatSync(this.fd), atime, mtime)));
  }
  override sync(): void {
    if (this.flags.write) attempt(() => fsyncSync(this.fd));
  }
  override syncData(): void {
    this.sync();
  }
  /** Closes the file (jco calls it when the plugin drops the handle). */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    // Clear the slot first: a listed descriptor must always still be ours (see FdTable).
    Atomics.store(this.grant.fds, this.slot, -1);
    try {
      closeSync(fd);
    } catch {
      // Nothing to do.
    }
  }
}

// Defined outside the class: TypeScript cannot mark a computed-symbol method as an override.
Object.defineProperty(FileDescriptor.prototype, symbolDispose, {
  value(this: FileDescriptor) {
    this.close();
  },
});

class FileInputStream extends InputStream {
  constructor(
    readonly file: FileDescriptor,
    private offset: bigint,
  ) {
    super();
  }
  override read(len: bigint): Uint8Array {
    let chunk: Uint8Array;
    let eof: boolean;
    try {
      [chunk, eof] = this.file.read(len, this.offset);
    } catch (code) {
      throw { tag: 'last-operation-failed', val: new IoError(`read failed: ${String(code)}`, String(code)) };
    }
    if (eof) throw closed;
    this.offset += BigInt(chunk.length);
    return chunk;
  }
}

class DirectoryEntryStream {
  #at = 0;
  constructor(readonly entries: { type: string; name: string }[]) {}
  readDirectoryEntry(): { type: string; name: string } | undefined {
    return this.entries[this.#at++];
  }
}

/** The wasi:filesystem interfaces for a set of granted directories. */
export function createFilesystem(preopens: Preopen[], fds: FdTable): Record<string, unknown> {
  // Descriptors are made per instance call of `get-directories`: the component owns what it is given.
  const grants = preopens.map((p) => ({ preopen: p, grant: { root: p.hostPath, readOnly: p.readOnly, fds, space: p.space } satisfies Grant }));
  return {
    'wasi:filesystem/preopens': {
      getDirectories: () =>
        grants.map(({ preopen, grant }) => [new DirectoryDescriptor(grant, preopen.hostPath, { read: true, write: !preopen.readOnly, mutateDirectory: !preopen.readOnly }), preopen.guestPath]),
    },
    'wasi:filesystem/types': {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: (err: unknown) => (err instanceof IoError ? err.fsCode : undefined),
    },
  };
}

/**
 * Unpack a plugin tarball: a gzip-compressed (or plain) POSIX tar, as `npm pack`
 * makes. The archive is treated as hostile: every entry is checked before
 * anything is written for it, and one bad entry refuses the whole archive.
 *
 * Only regular files and directories are extracted, each below the
 * destination, never over something already written and never through a
 * link. Sizes are counted while the data inflates, so a decompression bomb is
 * stopped after at most one limit's worth of output, not after it has filled
 * the disk.
 *
 * On any error the destination may hold part of the archive: extract into a
 * fresh staging directory and delete it when this throws.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rename, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AirlockError } from '../errors.js';

/** Caps on what one archive may hold. Every one is checked before the bytes it limits are written. */
export interface ArchiveLimits {
  /** Largest archive file, as stored (compressed). */
  maxCompressedBytes: number;
  /**
   * Largest decompressed tar stream: headers, file contents and padding. This
   * bounds everything written, and is counted as the data inflates.
   */
  maxUnpackedBytes: number;
  /** Largest single file. */
  maxFileBytes: number;
  /** Most files and directories. */
  maxEntries: number;
  /** Longest entry path, in UTF-8 bytes, as written in the archive. */
  maxPathLength: number;
}

const MiB = 1024 * 1024;

/** The limits `extractTarball` applies unless told otherwise. */
export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxCompressedBytes: 64 * MiB,
  maxUnpackedBytes: 256 * MiB,
  maxFileBytes: 128 * MiB,
  maxEntries: 10_000,
  maxPathLength: 1024,
});

/** What `extractTarball` wrote. */
export interface ExtractResult {
  /**
   * The top-level folder removed from every path because every entry lived
   * under it (`package` for an `npm pack` tarball); `undefined` if none was.
   */
  stripped: string | undefined;
  /** Regular files written, relative to `dest` with `/` separators, in archive order. */
  files: string[];
  /** Directories created, relative to `dest` with `/` separators, parents first. */
  directories: string[];
  /** Bytes of file content written. */
  bytes: number;
  /** Whether the archive was gzip-compressed. */
  gzipped: boolean;
}

/**
 * Extract the tarball `file` into `dest`, an existing empty directory.
 *
 * Accepts gzipped or plain ustar/pax/GNU tar (long names through GNU `L`
 * entries and pax `path` records). When every entry lives under one top-level
 * folder, as in `npm pack` tarballs (`package/`), that folder is stripped and
 * named in the result.
 *
 * The whole archive is refused with an `AirlockError`:
 * - `ARCHIVE_UNSAFE` for an entry whose path is absolute, has a `..` segment,
 *   a drive letter, a backslash or a NUL, or resolves outside `dest`; for a
 *   symlink, hard link, device or FIFO (only regular files and directories
 *   are allowed); for an entry that would overwrite one already written; and
 *   when `dest` is not an empty directory;
 * - `ARCHIVE_TOO_LARGE` when a limit of `ArchiveLimits` is exceeded (see
 *   `DEFAULT_ARCHIVE_LIMITS`), checked as the archive streams;
 * - `ARCHIVE_INVALID` when the archive is corrupt: a header checksum fails,
 *   the data is truncated, or it is not a (gzipped) tar.
 * Errors writing to `dest` itself (a full disk) are rethrown as they are.
 *
 * Files are written with mode 0644, or 0755 when the archive gives them any
 * execute bit; directories with 0755. Files are created exclusively and
 * without following links, so nothing outside `dest` is ever written.
 *
 * On error `dest` may be left with part of the archive: stage into a temporary
 * directory and delete it if this throws.
 *
 * @example
 * const staging = await mkdtemp(join(tmpdir(), 'airlock-'));
 * try {
 *   const { stripped, files } = await extractTarball('weather-1.0.0.tgz', staging);
 * } catch (e) {
 *   await rm(staging, { recursive: true, force: true });
 *   throw e;
 * }
 */
export async function extractTarball(file: string, dest: string, limits: Partial<ArchiveLimits> = {}): Promise<ExtractResult> {
  const lim = resolveLimits(limits);
  const root = resolve(dest);
  const label = basename(file);
  await checkDestination(root);

  const info = await stat(file).catch((cause: unknown) => {
    throw new AirlockError('ARCHIVE_INVALID', `cannot read the archive ${file}: ${(cause as Error).message}`, { cause, hint: 'Pass the path of a .tgz file, such as `npm pack` makes.' });
  });
  if (!info.isFile()) throw new AirlockError('ARCHIVE_INVALID', `${file} is not a regular file`, { hint: 'Pass the path of a .tgz file, such as `npm pack` makes.' });
  if (info.size > lim.maxCompressedBytes) {
    throw tooLarge(label, `is ${info.size} bytes, over the ${lim.maxCompressedBytes}-byte limit for an archive`, 'maxCompressedBytes');
  }
  const gzipped = await sniffFormat(file, label);

  // Count what is read too, in case the file grows after the stat above.
  let compressed = 0;
  const countCompressed = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      compressed += chunk.length;
      if (compressed > lim.maxCompressedBytes) throw tooLarge(label, `is over the ${lim.maxCompressedBytes}-byte limit for an archive`, 'maxCompressedBytes');
      yield chunk;
    }
  };
  const extractor = new Extractor(root, label, lim);
  const sink = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) await extractor.push(chunk);
    extractor.finish();
  };

  try {
    if (gzipped) await pipeline(createReadStream(file), countCompressed, createGunzip(), sink);
    else await pipeline(createReadStream(file), countCompressed, sink);
  } catch (err) {
    await extractor.abort();
    if (AirlockError.isInstance(err)) throw err;
    if (isZlibError(err)) {
      throw new AirlockError('ARCHIVE_INVALID', `${label}: the gzip data is corrupt or truncated (${(err as Error).message})`, { cause: err, hint: INVALID_HINT });
    }
    throw err;
  }

  const stripped = await stripTopFolder(root, extractor.entries);
  const rel = (p: string) => (stripped === undefined ? p : p.slice(stripped.length + 1));
  return {
    stripped,
    files: extractor.entries.filter((e) => e.type === 'file').map((e) => rel(e.path)),
    directories: extractor.entries.filter((e) => e.type === 'dir' && e.path !== stripped).map((e) => rel(e.path)),
    bytes: extractor.bytes,
    gzipped,
  };
}

const INVALID_HINT = 'The file is damaged or is not a tarball: download it again, or re-create it with `npm pack`.';
const UNSAFE_HINT = 'Nothing from this archive was installed. A plugin package may hold only regular files and directories with relative paths, as `npm pack` writes them; do not install it unless you can rebuild it from trusted source.';

/** Largest pax or GNU long-name metadata entry; real ones are a few hundred bytes. */
const MAX_META_BYTES = 1 * MiB;
const BLOCK = 512;

function resolveLimits(given: Partial<ArchiveLimits>): ArchiveLimits {
  const lim = { ...DEFAULT_ARCHIVE_LIMITS };
  for (const [key, value] of Object.entries(given) as [keyof ArchiveLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_ARCHIVE_LIMITS)) throw new RangeError(`unknown archive limit \`${key}\``);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new RangeError(`archive limit \`${key}\` must be a positive integer, got ${String(value)}`);
    lim[key] = value;
  }
  return lim;
}

async function checkDestination(root: string): Promise<void> {
  const info = await stat(root).catch(() => undefined);
  const hint = 'Extract into a new empty directory (e.g. made with mkdtemp) and move the result into place.';
  if (!info?.isDirectory()) throw new AirlockError('ARCHIVE_UNSAFE', `cannot extract into ${root}: it is not an existing directory`, { hint });
  if ((await readdir(root)).length > 0) {
    throw new AirlockError('ARCHIVE_UNSAFE', `cannot extract into ${root}: the directory is not empty, and extracting over existing files could overwrite them or follow their links`, { hint });
  }
}

/** True for gzip, false for a plain tar; refuses other compressions by name. */
async function sniffFormat(file: string, label: string): Promise<boolean> {
  const head = Buffer.alloc(6);
  const fh = await open(file, 'r');
  let read: number;
  try {
    ({ bytesRead: read } = await fh.read(head, 0, head.length, 0));
  } finally {
    await fh.close();
  }
  if (read === 0) throw new AirlockError('ARCHIVE_INVALID', `${label} is empty`, { hint: INVALID_HINT });
  if (head[0] === 0x1f && head[1] === 0x8b) return true;
  const other =
    head.subarray(0, 3).toString('latin1') === 'BZh' ? 'bzip2'
    : head.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ? 'xz'
    : head.readUInt32LE(0) === 0xfd2fb528 ? 'zstd'
    : undefined;
  if (other) throw new AirlockError('ARCHIVE_INVALID', `${label} is compressed with ${other}; only gzip-compressed (or plain) tar archives are supported`, { hint: 'Re-create it with `npm pack`, which writes a .tgz.' });
  return false;
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** Quote a name from the archive for a message: escaped (it may hold control characters) and shortened. */
function quote(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}

function unsafe(label: string, entry: string, why: string): AirlockError {
  return new AirlockError('ARCHIVE_UNSAFE', `${label}: entry ${quote(entry)} is refused: ${why}`, { hint: UNSAFE_HINT });
}

function tooLarge(label: string, what: string, limit?: keyof ArchiveLimits): AirlockError {
  const raise = limit ? `If the plugin really is this large, raise the \`${limit}\` limit; otherwise the archive may be a decompression bomb.` : 'No real plugin package is built like this; the archive may be a decompression bomb.';
  return new AirlockError('ARCHIVE_TOO_LARGE', `${label}: ${what}`, { hint: `Nothing from this archive was installed. ${raise}` });
}

function invalid(label: string, why: string): AirlockError {
  return new AirlockError('ARCHIVE_INVALID', `${label}: ${why}`, { hint: INVALID_HINT });
}

/** A file or directory written, by its path relative to the destination (before stripping). */
interface Entry {
  path: string;
  type: 'file' | 'dir';
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  S: 'a GNU sparse file',
  D: 'a GNU dump directory',
  M: 'a GNU multi-volume continuation',
  V: 'a volume label',
};

type State =
  | { kind: 'header' }
  /** The data of a regular file, written to `fh`. */
  | { kind: 'file'; fh: FileHandle; left: number; pad: number }
  /** The data of a pax or GNU long-name entry, collected. */
  | { kind: 'meta'; type: string; chunks: Buffer[]; size: number; left: number; pad: number }
  /** After the end-of-archive marker: only zero padding may follow. */
  | { kind: 'end' };

/** What pax `x` and GNU `L` entries say about the entry that follows them. */
interface Pending {
  path?: string;
  longName?: string;
  size?: number;
}

/** A streaming tar parser that writes entries as it reads them. */
class Extractor {
  readonly entries: Entry[] = [];
  bytes = 0;
  readonly #root: string;
  readonly #label: string;
  readonly #lim: ArchiveLimits;
  /** Decompressed bytes seen, which is also the stream offset of the next byte. */
  #offset = 0;
  readonly #header = Buffer.alloc(BLOCK);
  #headerFill = 0;
  #state: State = { kind: 'header' };
  #pending: Pending = {};
  #globalPath: string | undefined;
  /** Every path written, so nothing is written twice or through a file. */
  readonly #written = new Map<string, 'file' | 'dir'>();

  constructor(root: string, label: string, lim: ArchiveLimits) {
    this.#root = root;
    this.#label = label;
    this.#lim = lim;
  }

  async push(chunk: Buffer): Promise<void> {
    const start = this.#offset;
    if (start + chunk.length > this.#lim.maxUnpackedBytes) {
      throw tooLarge(this.#label, `inflates to more than the ${this.#lim.maxUnpackedBytes}-byte limit (stopped while decompressing)`, 'maxUnpackedBytes');
    }
    let at = 0;
    while (at < chunk.length) {
      this.#offset = start + at;
      const state = this.#state;
      switch (state.kind) {
        case 'header': {
          const n = Math.min(BLOCK - this.#headerFill, chunk.length - at);
          chunk.copy(this.#header, this.#headerFill, at, at + n);
          this.#headerFill += n;
          at += n;
          if (this.#headerFill === BLOCK) {
            this.#headerFill = 0;
            this.#offset = start + at;
            await this.#onHeader(this.#header);
          }
          break;
        }
        case 'file':
        case 'meta': {
          if (state.left > 0) {
            const n = Math.min(state.left, chunk.length - at);
            const piece = chunk.subarray(at, at + n);
            if (state.kind === 'file') {
              await writeAll(state.fh, piece);
              this.bytes += n;
            } else state.chunks.push(Buffer.from(piece));
            state.left -= n;
            at += n;
          } else {
            const n = Math.min(state.pad, chunk.length - at);
            state.pad -= n;
            at += n;
          }
          if (state.left === 0 && state.pad === 0) await this.#endEntry();
          break;
        }
        case 'end': {
          for (; at < chunk.length; at++) {
            if (chunk[at] !== 0) throw invalid(this.#label, `data follows the end-of-archive marker at byte ${start + at}`);
          }
          break;
        }
      }
    }
    this.#offset = start + chunk.length;
  }

  /** The stream ended: it must have ended after the end-of-archive marker. */
  finish(): void {
    if (this.#state.kind === 'end') return;
    const where = this.#state.kind === 'header' && this.#headerFill === 0 ? 'without an end-of-archive marker' : 'in the middle of an entry';
    throw invalid(this.#label, `the archive is truncated: it ends ${where}`);
  }

  /** Close the file being written, after an error. */
  async abort(): Promise<void> {
    if (this.#state.kind === 'file') await this.#state.fh.close().catch(() => {});
    this.#state = { kind: 'end' };
  }

  async #endEntry(): Promise<void> {
    const state = this.#state;
    this.#state = { kind: 'header' };
    if (state.kind === 'file') await state.fh.close();
    else if (state.kind === 'meta') this.#onMeta(state.type, Buffer.concat(state.chunks, state.size));
  }

  async #onHeader(block: Buffer): Promise<void> {
    const headerAt = this.#offset - BLOCK;
    if (block.every((b) => b === 0)) {
      // One zero block ends the archive (POSIX writes two); the rest must be zeros too.
      this.#state = { kind: 'end' };
      return;
    }
    if (!checksumOk(block)) throw invalid(this.#label, `bad header checksum at byte ${headerAt} (the archive is corrupt, or not a tar)`);

    const type = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
    const headerSize = this.#numeric(block, 124, 12, 'size', headerAt);
    const pad = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (headerSize > MAX_META_BYTES) throw tooLarge(this.#label, `a metadata entry at byte ${headerAt} is ${headerSize} bytes, over the ${MAX_META_BYTES}-byte limit for one`);
      if (headerSize === 0) return;
      this.#state = { kind: 'meta', type, chunks: [], size: headerSize, left: headerSize, pad: pad(headerSize) };
      return;
    }

    const pending = this.#pending;
    this.#pending = {};
    const name = pending.path ?? pending.longName ?? this.#globalPath ?? ustarName(block);
    const size = pending.size ?? headerSize;

    if (type !== '0' && type !== '5') {
      const what = TYPE_NAMES[type] ?? `of unsupported type ${JSON.stringify(type)}`;
      const link = type === '1' || type === '2' ? ` to ${quote(cString(block, 157, 100))}` : '';
      throw unsafe(this.#label, name, `it is ${what}${link}; only regular files and directories may be installed`);
    }
    const path = this.#checkPath(name);

    if (type === '5') {
      if (size !== 0) throw invalid(this.#label, `directory entry ${quote(name)} declares ${size} bytes of data`);
      if (path === '') return; // `./`: the destination itself
      const kind = this.#written.get(path);
      if (kind === 'file') throw unsafe(this.#label, name, 'a file of that name was already written, and a directory would replace it');
      await this.#makeDirs(path, name);
      return;
    }

    if (path === '') throw unsafe(this.#label, name, 'it names the destination directory itself, not a file');
    if (size > this.#lim.maxFileBytes) throw tooLarge(this.#label, `entry ${quote(name)} is ${size} bytes, over the ${this.#lim.maxFileBytes}-byte limit for one file`, 'maxFileBytes');
    if (this.#offset + size > this.#lim.maxUnpackedBytes) {
      throw tooLarge(this.#label, `entry ${quote(name)} (${size} bytes) would take the unpacked archive over the ${this.#lim.maxUnpackedBytes}-byte limit`, 'maxUnpackedBytes');
    }
    const existing = this.#written.get(path);
    if (existing) throw unsafe(this.#label, name, `it would overwrite the ${existing === 'file' ? 'file' : 'directory'} of the same name written earlier from this archive`);
    const slash = path.lastIndexOf('/');
    if (slash > 0) await this.#makeDirs(path.slice(0, slash), name);

    const mode = this.#numeric(block, 100, 8, 'mode', headerAt) & 0o111 ? 0o755 : 0o644;
    this.#checkCount(name);
    let fh: FileHandle;
    try {
      // O_EXCL: never replace or write through anything already there, a link included.
      fh = await open(join(this.#root, path), fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | (fsConstants.O_NOFOLLOW ?? 0), mode);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw unsafe(this.#label, name, 'it would overwrite a file already written from this archive (names that differ only in case or Unicode form collide on some file systems)');
      if (code === 'ELOOP' || code === 'ENOTDIR') throw unsafe(this.#label, name, 'its path runs through something that is not a directory');
      throw err;
    }
    this.#record(path, 'file');
    try {
      await fh.chmod(mode); // exact, whatever the umask
    } catch (err) {
      await fh.close();
      throw err;
    }
    if (size === 0) await fh.close();
    else this.#state = { kind: 'file', fh, left: size, pad: pad(size) };
  }

  /** Validate an entry path and return it normalised (`/`-separated, no `.` or empty segments). */
  #checkPath(name: string): string {
    if (Buffer.byteLength(name) > this.#lim.maxPathLength) {
      throw tooLarge(this.#label, `entry ${quote(name)} has a path of ${Buffer.byteLength(name)} bytes, over the ${this.#lim.maxPathLength}-byte limit`, 'maxPathLength');
    }
    if (name.length === 0) throw unsafe(this.#label, name, 'its path is empty');
    if (name.includes('\0')) throw unsafe(this.#label, name, 'its path contains a NUL byte');
    if (name.includes('\\')) throw unsafe(this.#label, name, 'its path contains a backslash (a Windows path separator)');
    if (name.startsWith('/')) throw unsafe(this.#label, name, 'its path is absolute');
    if (/^[A-Za-z]:/.test(name)) throw unsafe(this.#label, name, 'its path starts with a drive letter');
    const segments = name.split('/');
    if (segments.includes('..')) throw unsafe(this.#label, name, 'its path has a `..` segment, which could leave the destination');
    const path = segments.filter((s) => s !== '' && s !== '.').join('/');
    if (path !== '' && !resolve(this.#root, path).startsWith(this.#root + sep)) throw unsafe(this.#label, name, 'its path resolves outside the destination');
    return path;
  }

  /** Create `path` and its missing parents, one level at a time, refusing anything that is not a directory we made. */
  async #makeDirs(path: string, entry: string): Promise<void> {
    const segments = path.split('/');
    for (let i = 1; i <= segments.length; i++) {
      const sub = segments.slice(0, i).join('/');
      const kind = this.#written.get(sub);
      if (kind === 'dir') continue;
      if (kind === 'file') throw unsafe(this.#label, entry, `its parent ${quote(sub)} is a file written earlier from this archive`);
      this.#checkCount(entry);
      const abs = join(this.#root, sub);
      try {
        await mkdir(abs, { mode: 0o755 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // Something is there that this archive did not write as a directory (a case-insensitive
        // collision, or a file): use it only if it is a real directory, never a link.
        const info = await lstat(abs);
        if (!info.isDirectory()) throw unsafe(this.#label, entry, `${quote(sub)} already exists and is not a directory`);
      }
      await chmod(abs, 0o755);
      this.#record(sub, 'dir');
    }
  }

  #record(path: string, type: 'file' | 'dir'): void {
    this.#written.set(path, type);
    this.entries.push({ path, type });
  }

  #checkCount(name: string): void {
    if (this.entries.length >= this.#lim.maxEntries) throw tooLarge(this.#label, `holds more than ${this.#lim.maxEntries} files and directories (at entry ${quote(name)})`, 'maxEntries');
  }

  #onMeta(type: string, data: Buffer): void {
    if (type === 'K') return; // a long link target: the link it belongs to is refused anyway
    if (type === 'L') {
      let end = data.length;
      while (end > 0 && data[end - 1] === 0) end--;
      this.#pending.longName = data.subarray(0, end).toString('utf8');
      return;
    }
    const records = parsePax(data);
    if (!records) throw invalid(this.#label, `a malformed pax header ends before byte ${this.#offset}`);
    for (const [key, value] of records) {
      if (type === 'g') {
        if (key === 'path') this.#globalPath = value === '' ? undefined : value;
        else if (key === 'size') throw invalid(this.#label, 'a global pax header sets `size`, which is not supported');
        continue;
      }
      if (key === 'path') {
        if (value === '') delete this.#pending.path;
        else this.#pending.path = value;
      } else if (key === 'size') {
        if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) throw invalid(this.#label, `a pax header has an invalid size ${quote(value)}`);
        this.#pending.size = Number(value);
      }
    }
  }

  /** Read a numeric header field: octal text, or GNU base-256 for large values. */
  #numeric(block: Buffer, at: number, length: number, field: string, headerAt: number): number {
    const first = block[at]!;
    if (first & 0x80) {
      if (first === 0xff) throw invalid(this.#label, `the header at byte ${headerAt} has a negative ${field}`);
      let value = first & 0x7f;
      for (let i = at + 1; i < at + length; i++) {
        value = value * 256 + block[i]!;
        if (!Number.isSafeInteger(value)) throw tooLarge(this.#label, `the header at byte ${headerAt} has a ${field} too large to handle`, 'maxFileBytes');
      }
      return value;
    }
    const text = cString(block, at, length).trim();
    if (text === '') return 0;
    if (!/^[0-7]+$/.test(text)) throw invalid(this.#label, `the header at byte ${headerAt} has an invalid ${field} field ${quote(text)}`);
    return parseInt(text, 8);
  }
}

/** A header field up to its first NUL. */
function cString(block: Buffer, at: number, length: number): string {
  const end = block.indexOf(0, at);
  return block.subarray(at, end === -1 || end > at + length ? at + length : end).toString('utf8');
}

/** The name of a ustar header, with the POSIX `prefix` field when the magic says it holds one. */
function ustarName(block: Buffer): string {
  const name = cString(block, 0, 100);
  // POSIX ustar ("ustar\0"); GNU ("ustar  ") uses the prefix area for other fields.
  if (block.subarray(257, 263).toString('latin1') !== 'ustar\0') return name;
  const prefix = cString(block, 345, 155);
  return prefix ? `${prefix}/${name}` : name;
}

/** The header checksum: the unsigned (or, from old writers, signed) byte sum with the field itself as spaces. */
function checksumOk(block: Buffer): boolean {
  const text = cString(block, 148, 8).trim();
  if (!/^[0-7]{1,8}$/.test(text)) return false;
  const stored = parseInt(text, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Parse pax records (`<length> <key>=<value>\n`); undefined when malformed. */
function parsePax(data: Buffer): [string, string][] | undefined {
  const out: [string, string][] = [];
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // NUL padding after the last record
    const space = data.indexOf(0x20, at);
    if (space === -1 || space - at > 12) return undefined;
    const lenText = data.subarray(at, space).toString('latin1');
    if (!/^[1-9]\d*$/.test(lenText)) return undefined;
    const end = at + Number(lenText);
    if (end > data.length || end <= space + 1 || data[end - 1] !== 0x0a) return undefined;
    const record = data.subarray(space + 1, end - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) return undefined;
    out.push([record.slice(0, eq), record.slice(eq + 1)]);
    at = end;
  }
  return out;
}

async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let at = 0;
  while (at < data.length) {
    const { bytesWritten } = await fh.write(data, at, data.length - at);
    at += bytesWritten;
  }
}

/**
 * If every entry lives under one top-level folder, move its contents up into
 * `root` and return the folder's name.
 */
async function stripTopFolder(root: string, entries: readonly Entry[]): Promise<string | undefined> {
  const first = entries[0];
  if (!first) return undefined;
  const top = first.path.split('/')[0]!;
  let below = false;
  for (const e of entries) {
    if (e.path === top) {
      if (e.type !== 'dir') return undefined;
    } else if (e.path.startsWith(`${top}/`)) below = true;
    else return undefined;
  }
  if (!below) return undefined;
  const from = join(root, top);
  const children = await readdir(from);
  let temp: string;
  do temp = `.airlock-strip-${randomBytes(6).toString('hex')}`;
  while (children.includes(temp));
  // Move the folder aside first: it may contain an entry of its own name (`package/package`).
  await rename(from, join(root, temp));
  for (const child of children) await rename(join(root, temp, child), join(root, child));
  await rmdir(join(root, temp));
  return top;
}

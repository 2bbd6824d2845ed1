import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AirlockError, type ErrorCode } from '../../src/errors.js';
import { DEFAULT_ARCHIVE_LIMITS, extractTarball, type ArchiveLimits } from '../../src/install/archive.js';

const MiB = 1024 * 1024;

// ---- A small tar writer, so tests can craft any entry, hostile ones included. ----

interface TarEntry {
  name: string;
  /** Typeflag: '0' file (default), '5' directory, '2' symlink, 'L' GNU long name, 'x'/'g' pax… */
  type?: string;
  data?: Buffer | string;
  mode?: number;
  linkname?: string;
  /** The ustar `prefix` field. */
  prefix?: string;
  /** The size written in the header, when it should differ from the data's. */
  size?: number;
  /** Raw bytes for the size field (e.g. GNU base-256). */
  sizeField?: Buffer;
  /** Write a wrong checksum. */
  badChecksum?: boolean;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(e: TarEntry, dataLength: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name, 0, 100, 'utf8');
  h.write(octal(e.mode ?? (e.type === '5' ? 0o755 : 0o644), 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  if (e.sizeField) e.sizeField.copy(h, 124);
  else h.write(octal(e.size ?? dataLength, 12), 124, 'latin1');
  h.write(octal(1_700_000_000, 12), 136, 'latin1');
  h.write(e.type ?? '0', 156, 'latin1');
  if (e.linkname) h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.write('root', 265, 'latin1');
  h.write('root', 297, 'latin1');
  if (e.prefix) h.write(e.prefix, 345, 155, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${(e.badChecksum ? sum + 1 : sum).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

const padTo512 = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

/** One entry: header, data, padding. */
function entry(e: TarEntry): Buffer {
  const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
  return Buffer.concat([header(e, data.length), data, padTo512(data.length)]);
}

/** A pax extended header record set (`x` for the next entry, `g` global). */
function pax(records: Record<string, string>, type: 'x' | 'g' = 'x'): Buffer {
  let body = '';
  for (const [key, value] of Object.entries(records)) {
    const rest = ` ${key}=${value}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len++;
    body += `${len}${rest}`;
  }
  return entry({ name: 'PaxHeader', type, data: body });
}

/** A GNU long-name entry for the entry that follows. */
const longName = (name: string) => entry({ name: '././@LongLink', type: 'L', data: `${name}\0` });

const END = Buffer.alloc(1024);
const tar = (...parts: (TarEntry | Buffer)[]) => Buffer.concat([...parts.map((p) => (Buffer.isBuffer(p) ? p : entry(p))), END]);

// ---- Fixtures ----

let tmp: string;
let dest: string;

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'airlock-archive-'));
  dest = join(tmp, 'dest');
  await mkdir(dest);
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let n = 0;
async function archive(bytes: Buffer, gzip = true): Promise<string> {
  const file = join(tmp, `a${n++}.${gzip ? 'tgz' : 'tar'}`);
  await writeFile(file, gzip ? gzipSync(bytes) : bytes);
  return file;
}

/** Extract, expecting an AirlockError with `code`; returns it. */
async function refused(file: string, code: ErrorCode, limits?: Partial<ArchiveLimits>): Promise<AirlockError> {
  const err = await extractTarball(file, dest, limits).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(AirlockError.isInstance(err), `expected an AirlockError, got ${String(err)}`).toBe(true);
  const e = err as AirlockError;
  expect(e.code, e.message).toBe(code);
  expect(e.hint).toBeTruthy();
  return e;
}

/** Every path under `dir`, relative, sorted; directories end with `/`. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((d) => {
      const rel = join(d.parentPath, d.name).slice(dir.length + 1);
      return d.isDirectory() ? `${rel}/` : rel;
    })
    .sort();
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

// ---- Tests ----

describe('extractTarball: well-formed archives', () => {
  it('extracts files and directories, with normalised modes', async () => {
    const file = await archive(
      tar(
        { name: 'lib/', type: '5', mode: 0o777 },
        { name: 'lib/a.txt', data: 'alpha', mode: 0o666 },
        { name: 'bin/run', data: '#!/bin/sh\n', mode: 0o700 },
        { name: 'empty.txt', data: '' },
        { name: 'README.md', data: 'read me', mode: 0o4755 },
      ),
    );
    const result = await extractTarball(file, dest);
    expect(result).toEqual({
      stripped: undefined,
      files: ['lib/a.txt', 'bin/run', 'empty.txt', 'README.md'],
      directories: ['lib', 'bin'],
      bytes: 5 + 10 + 7,
      gzipped: true,
    });
    expect(await tree(dest)).toEqual(['README.md', 'bin/', 'bin/run', 'empty.txt', 'lib/', 'lib/a.txt']);
    expect(await readFile(join(dest, 'lib/a.txt'), 'utf8')).toBe('alpha');
    expect(await modeOf(join(dest, 'lib'))).toBe(0o755);
    expect(await modeOf(join(dest, 'bin'))).toBe(0o755);
    expect(await modeOf(join(dest, 'lib/a.txt'))).toBe(0o644);
    expect(await modeOf(join(dest, 'bin/run'))).toBe(0o755);
    expect(await modeOf(join(dest, 'README.md'))).toBe(0o755); // setuid dropped, x kept
  });

  it('accepts an uncompressed tar', async () => {
    const file = await archive(tar({ name: 'a.txt', data: 'plain' }), false);
    const result = await extractTarball(file, dest);
    expect(result.gzipped).toBe(false);
    expect(await readFile(join(dest, 'a.txt'), 'utf8')).toBe('plain');
  });

  it('writes files larger than one stream chunk intact', async () => {
    const data = Buffer.alloc(3 * MiB + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    const file = await archive(tar({ name: 'big.bin', data }));
    await extractTarball(file, dest);
    expect((await readFile(join(dest, 'big.bin'))).equals(data)).toBe(true);
  });

  it('skips `./` entries and drops `.` segments', async () => {
    const file = await archive(tar({ name: './', type: '5' }, { name: './a/./b.txt', data: 'b' }, { name: './/c.txt', data: 'c' }));
    const result = await extractTarball(file, dest);
    expect(result.files).toEqual(['a/b.txt', 'c.txt']);
    expect(await tree(dest)).toEqual(['a/', 'a/b.txt', 'c.txt']);
  });

  it('strips the single top-level folder and reports it', async () => {
    const file = await archive(tar({ name: 'package/package.json', data: '{}' }, { name: 'package/dist/plugin.wasm', data: 'wasm' }));
    const result = await extractTarball(file, dest);
    expect(result.stripped).toBe('package');
    expect(result.files).toEqual(['package.json', 'dist/plugin.wasm']);
    expect(result.directories).toEqual(['dist']);
    expect(await tree(dest)).toEqual(['dist/', 'dist/plugin.wasm', 'package.json']);
  });

  it('strips a top-level folder that holds a folder of its own name', async () => {
    const file = await archive(tar({ name: 'package/', type: '5' }, { name: 'package/package/x', data: 'x' }, { name: 'package/y', data: 'y' }));
    const result = await extractTarball(file, dest);
    expect(result.stripped).toBe('package');
    expect(await tree(dest)).toEqual(['package/', 'package/x', 'y']);
  });

  it.each([
    ['two top-level folders', [{ name: 'a/x', data: '1' }, { name: 'b/y', data: '2' }]],
    ['a top-level file beside the folder', [{ name: 'package/x', data: '1' }, { name: 'README', data: '2' }]],
    ['a single top-level file', [{ name: 'package', data: '1' }]],
    ['only an empty folder', [{ name: 'package/', type: '5' }]],
  ] as [string, TarEntry[]][])('does not strip with %s', async (_, entries) => {
    const result = await extractTarball(await archive(tar(...entries)), dest);
    expect(result.stripped).toBeUndefined();
    expect(result.files).toEqual(entries.filter((e) => e.type !== '5').map((e) => e.name));
  });

  it('reads long names from GNU `L` entries, pax `path` records and the ustar prefix', async () => {
    const deep = `package/${'d'.repeat(120)}/${'f'.repeat(120)}.txt`;
    const file = await archive(
      tar(
        longName(`package/gnu-${'n'.repeat(150)}.txt`),
        { name: 'truncated-gnu-name', data: 'gnu' },
        pax({ path: deep, mtime: '1700000000.5' }),
        { name: 'truncated-pax-name', data: 'pax' },
        pax({ path: 'package/ünïcødé ✓.txt' }),
        { name: 'ascii-fallback', data: 'utf8' },
        { name: 'file.txt', prefix: 'package/prefixed', data: 'prefix' },
      ),
    );
    const result = await extractTarball(file, dest);
    expect(result.stripped).toBe('package');
    expect(result.files).toEqual([`gnu-${'n'.repeat(150)}.txt`, deep.slice('package/'.length), 'ünïcødé ✓.txt', 'prefixed/file.txt']);
    expect(await readFile(join(dest, deep.slice('package/'.length)), 'utf8')).toBe('pax');
    expect(await readFile(join(dest, 'prefixed/file.txt'), 'utf8')).toBe('prefix');
  });

  it('applies a pax `path` only to the next entry, and a global one to the entries without their own', async () => {
    const file = await archive(
      tar(
        pax({ path: 'only-next.txt' }),
        { name: 'ignored', data: '1' },
        { name: 'own-name.txt', data: '2' },
        pax({ path: 'global.txt' }, 'g'),
        { name: 'ignored-too', data: '3' },
      ),
    );
    expect((await extractTarball(file, dest)).files).toEqual(['only-next.txt', 'own-name.txt', 'global.txt']);
  });

  it('honours a pax `size` and a GNU base-256 size', async () => {
    const base256 = Buffer.alloc(12);
    base256[0] = 0x80;
    base256.writeUInt32BE(5, 8);
    const file = await archive(
      tar(pax({ size: '6' }), { name: 'pax-size.txt', data: 'sixsix', size: 0 }, { name: 'b256.txt', data: 'fiver', sizeField: base256 }, { name: 'after.txt', data: 'ok' }),
    );
    await extractTarball(file, dest);
    expect(await readFile(join(dest, 'pax-size.txt'), 'utf8')).toBe('sixsix');
    expect(await readFile(join(dest, 'b256.txt'), 'utf8')).toBe('fiver');
    expect(await readFile(join(dest, 'after.txt'), 'utf8')).toBe('ok');
  });

  it('extracts a real `npm pack` tarball, stripping `package/`', async () => {
    const src = join(tmp, 'tiny');
    await mkdir(join(src, 'dist'), { recursive: true });
    await mkdir(join(src, 'bin'));
    const pkg = { name: '@acme/tiny-plugin', version: '1.2.3', files: ['dist', 'bin'], bin: { tiny: 'bin/tiny.js' }, airlock: { kind: 'tool' } };
    const wasm = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, ...Array.from({ length: 300 }, (_, i) => i & 0xff)]);
    await writeFile(join(src, 'package.json'), JSON.stringify(pkg, null, 2));
    await writeFile(join(src, 'README.md'), '# tiny\n');
    await writeFile(join(src, 'dist/plugin.wasm'), wasm);
    await writeFile(join(src, 'bin/tiny.js'), '#!/usr/bin/env node\n');
    await chmod(join(src, 'bin/tiny.js'), 0o755);
    await writeFile(join(src, 'secret.txt'), 'not in files');
    const out = join(tmp, 'packed');
    await mkdir(out);
    const { stdout } = await promisify(execFile)('npm', ['pack', '--pack-destination', out, '--json', '--ignore-scripts'], { cwd: src });
    const [packed] = JSON.parse(stdout) as { filename: string }[];

    const result = await extractTarball(join(out, packed!.filename.replace(/^@/, '').replace('/', '-')), dest);
    expect(result.stripped).toBe('package');
    expect(result.gzipped).toBe(true);
    expect(await tree(dest)).toEqual(['README.md', 'bin/', 'bin/tiny.js', 'dist/', 'dist/plugin.wasm', 'package.json']);
    expect(JSON.parse(await readFile(join(dest, 'package.json'), 'utf8'))).toEqual(pkg);
    expect((await readFile(join(dest, 'dist/plugin.wasm'))).equals(wasm)).toBe(true);
    expect(await modeOf(join(dest, 'bin/tiny.js'))).toBe(0o755);
    expect(await modeOf(join(dest, 'dist/plugin.wasm'))).toBe(0o644);
  });
});

describe('extractTarball: hostile entries refuse the whole archive (ARCHIVE_UNSAFE)', () => {
  it.each([
    ['../evil', '`..` segment'],
    ['package/../../evil', '`..` segment'],
    ['a/b/../../../evil', '`..` segment'],
    ['..', '`..` segment'],
    ['/etc/evil', 'absolute'],
    ['//evil', 'absolute'],
    ['C:/evil', 'drive letter'],
    ['c:evil', 'drive letter'],
    ['..\\evil', 'backslash'],
    ['package\\evil', 'backslash'],
  ])('refuses the path %j (%s)', async (name, why) => {
    const file = await archive(tar({ name: 'package/ok.txt', data: 'fine' }, { name, data: 'pwned' }));
    const e = await refused(file, 'ARCHIVE_UNSAFE');
    expect(e.message).toContain(JSON.stringify(name));
    expect(e.message).toContain(why);
    expect(await readdir(tmp)).not.toContain('evil');
  });

  it.each([
    ['a GNU long name', () => tar(longName('../../evil'), { name: 'harmless', data: 'x' })],
    ['a pax path', () => tar(pax({ path: '../../evil' }), { name: 'harmless', data: 'x' })],
    ['a global pax path', () => tar(pax({ path: '/tmp/evil' }, 'g'), { name: 'harmless', data: 'x' })],
    ['the ustar prefix', () => tar({ name: 'evil', prefix: '../..', data: 'x' })],
  ])('checks the path from %s, not the header name', async (_, build) => {
    const e = await refused(await archive(build()), 'ARCHIVE_UNSAFE');
    expect(e.message).toContain('evil');
    expect(await tree(dest)).toEqual([]);
  });

  it.each([
    ['a GNU long name', () => tar(longName('ok.txt\0../../evil'), { name: 'x', data: 'x' })],
    ['a pax path', () => tar(pax({ path: 'ok.txt\0../evil' }), { name: 'x', data: 'x' })],
  ])('refuses a NUL in %s', async (_, build) => {
    const e = await refused(await archive(build()), 'ARCHIVE_UNSAFE');
    expect(e.message).toContain('NUL');
  });

  it.each([
    ['2', 'symbolic link', { linkname: '/etc/passwd' }],
    ['1', 'hard link', { linkname: 'package/other' }],
    ['3', 'character device', {}],
    ['4', 'block device', {}],
    ['6', 'FIFO', {}],
    ['7', 'contiguous file', {}],
    ['S', 'sparse file', {}],
    ['Z', 'unsupported type', {}],
  ] as [string, string, { linkname?: string }][])('refuses an entry of type %j (%s)', async (type, what, extra) => {
    const file = await archive(tar({ name: 'package/ok.txt', data: 'fine' }, { name: 'package/special', type, ...extra }));
    const e = await refused(file, 'ARCHIVE_UNSAFE');
    expect(e.message).toContain('"package/special"');
    expect(e.message).toContain(what);
    if (extra.linkname) expect(e.message).toContain(extra.linkname);
  });

  it('refuses a symlink even when its long target comes from a GNU `K` entry', async () => {
    const file = await archive(tar(entry({ name: '././@LongLink', type: 'K', data: `/${'x'.repeat(200)}\0` }), { name: 'link', type: '2', linkname: 'x' }));
    await refused(file, 'ARCHIVE_UNSAFE');
  });

  it.each([
    ['the same file twice', [{ name: 'a.txt', data: '1' }, { name: 'a.txt', data: '2' }]],
    ['the same file twice, spelled differently', [{ name: 'dir/a.txt', data: '1' }, { name: './dir//a.txt', data: '2' }]],
    ['a file over a directory', [{ name: 'dir/', type: '5' }, { name: 'dir', data: '2' }]],
    ['a file over an implied directory', [{ name: 'dir/a.txt', data: '1' }, { name: 'dir', data: '2' }]],
    ['a directory over a file', [{ name: 'a', data: '1' }, { name: 'a/', type: '5' }]],
    ['a file below a file', [{ name: 'a', data: '1' }, { name: 'a/b', data: '2' }]],
  ] as [string, TarEntry[]][])('refuses %s', async (_, entries) => {
    const e = await refused(await archive(tar(...entries)), 'ARCHIVE_UNSAFE');
    expect(e.message).toMatch(/overwrite|replace|is a file/);
    if (entries[0]!.data === '1') expect(await readFile(join(dest, entries[0]!.name), 'utf8')).toBe('1');
  });

  it('refuses to extract into a directory that is not empty', async () => {
    await writeFile(join(dest, 'existing'), 'x');
    const e = await refused(await archive(tar({ name: 'a', data: '1' })), 'ARCHIVE_UNSAFE');
    expect(e.message).toContain('not empty');
  });
});

describe('extractTarball: corrupt archives (ARCHIVE_INVALID)', () => {
  it('refuses a header with a bad checksum, naming its offset', async () => {
    const e = await refused(await archive(tar({ name: 'a', data: 'x' }, { name: 'b', data: 'y', badChecksum: true })), 'ARCHIVE_INVALID');
    expect(e.message).toContain('checksum at byte 1024');
  });

  it('refuses a file that is not a tar', async () => {
    const e = await refused(await archive(Buffer.from('{"this": "is json, not a tarball"}'.padEnd(2048, ' '))), 'ARCHIVE_INVALID');
    expect(e.message).toContain('checksum');
  });

  it.each([
    ['in the middle of file data', (t: Buffer) => t.subarray(0, 512 + 100)],
    ['in the middle of a header', (t: Buffer) => t.subarray(0, 200)],
    ['without an end-of-archive marker', (t: Buffer) => t.subarray(0, 1024)],
  ])('refuses a tar truncated %s', async (_, cut) => {
    const e = await refused(await archive(cut(tar({ name: 'a', data: 'x'.repeat(300) })), false), 'ARCHIVE_INVALID');
    expect(e.message).toContain('truncated');
  });

  it('refuses truncated gzip data', async () => {
    const gz = gzipSync(tar({ name: 'a', data: Buffer.alloc(100_000, 7) }));
    const file = join(tmp, 'cut.tgz');
    await writeFile(file, gz.subarray(0, gz.length - 20));
    const e = await refused(file, 'ARCHIVE_INVALID');
    expect(e.message).toContain('gzip');
  });

  it('refuses corrupt gzip data', async () => {
    const gz = gzipSync(tar({ name: 'a', data: 'hello' }));
    gz[gz.length - 6] = gz[gz.length - 6]! ^ 0xff; // the CRC
    await refused(await archive(gz, false), 'ARCHIVE_INVALID');
  });

  it('refuses data after the end-of-archive marker', async () => {
    const bytes = Buffer.concat([tar({ name: 'a', data: 'x' }), entry({ name: 'hidden', data: 'y' })]);
    const e = await refused(await archive(bytes), 'ARCHIVE_INVALID');
    expect(e.message).toContain('end-of-archive');
  });

  it.each([
    ['an empty file', Buffer.alloc(0), 'empty'],
    ['an xz file', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]), 'xz'],
    ['a bzip2 file', Buffer.from('BZh91AY&SY'), 'bzip2'],
  ])('refuses %s', async (_, bytes, word) => {
    const e = await refused(await archive(bytes, false), 'ARCHIVE_INVALID');
    expect(e.message).toContain(word);
  });

  it('refuses a malformed pax header', async () => {
    await refused(await archive(tar(entry({ name: 'PaxHeader', type: 'x', data: '99 path=x\n' }), { name: 'a', data: '' })), 'ARCHIVE_INVALID');
  });

  it('refuses a directory entry that claims data', async () => {
    await refused(await archive(tar({ name: 'dir/', type: '5', size: 10, data: Buffer.alloc(10) })), 'ARCHIVE_INVALID');
  });

  it('refuses a missing archive', async () => {
    await refused(join(tmp, 'nope.tgz'), 'ARCHIVE_INVALID');
  });
});

describe('extractTarball: limits (ARCHIVE_TOO_LARGE)', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_ARCHIVE_LIMITS).toEqual({ maxCompressedBytes: 64 * MiB, maxUnpackedBytes: 256 * MiB, maxFileBytes: 128 * MiB, maxEntries: 10_000, maxPathLength: 1024 });
  });

  it('refuses an archive file over maxCompressedBytes before reading it', async () => {
    const file = await archive(tar({ name: 'a', data: Buffer.alloc(4096, 1) }), false);
    const e = await refused(file, 'ARCHIVE_TOO_LARGE', { maxCompressedBytes: 1024 });
    expect(e.hint).toContain('maxCompressedBytes');
  });

  it('refuses a file over maxFileBytes, before writing it', async () => {
    const e = await refused(await archive(tar({ name: 'ok', data: 'x' }, { name: 'big', data: Buffer.alloc(2048) })), 'ARCHIVE_TOO_LARGE', { maxFileBytes: 1024 });
    expect(e.message).toContain('"big"');
    expect(await tree(dest)).toEqual(['ok']);
  });

  it('refuses more entries than maxEntries, counting implied directories', async () => {
    const files = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: '' }));
    await expect(extractTarball(await archive(tar(...files)), dest, { maxEntries: 5 })).resolves.toBeDefined();
    await rm(dest, { recursive: true });
    await mkdir(dest);
    const e = await refused(await archive(tar(...files, { name: 'f5', data: '' })), 'ARCHIVE_TOO_LARGE', { maxEntries: 5 });
    expect(e.message).toContain('"f5"');
    await rm(dest, { recursive: true });
    await mkdir(dest);
    await refused(await archive(tar({ name: 'a/b/c/d/e/f', data: '' })), 'ARCHIVE_TOO_LARGE', { maxEntries: 5 });
  });

  it('refuses a path over maxPathLength, wherever the name comes from', async () => {
    const name = `${'p/'.repeat(600)}x`;
    await refused(await archive(tar(longName(name), { name: 'short', data: '' })), 'ARCHIVE_TOO_LARGE');
    await refused(await archive(tar(pax({ path: 'a'.repeat(60) }), { name: 'short', data: '' })), 'ARCHIVE_TOO_LARGE', { maxPathLength: 50 });
  });

  it('rejects limits that are not positive integers', async () => {
    const file = await archive(tar({ name: 'a', data: '' }));
    await expect(extractTarball(file, dest, { maxEntries: 0 })).rejects.toThrow(RangeError);
    await expect(extractTarball(file, dest, { maxFileBytes: Number.NaN })).rejects.toThrow(RangeError);
  });
});

describe('extractTarball: decompression bombs', () => {
  /** A gzip stream of `header` then `zeroMiB` MiB of zeros (concatenated members, so it is cheap to build). */
  function bomb(head: Buffer, zeroMiB: number, tail: Buffer = END): Buffer {
    const mib = gzipSync(Buffer.alloc(MiB), { level: 9 });
    return Buffer.concat([gzipSync(head), ...Array.from({ length: zeroMiB }, () => mib), gzipSync(tail)]);
  }

  it('a small .tgz declaring one huge file is stopped at its header', async () => {
    const gz = bomb(header({ name: 'package/zeros.bin' }, 300 * MiB), 300);
    expect(gz.length).toBeLessThan(400 * 1024);
    const file = await archive(gz, false);
    const e = await refused(file, 'ARCHIVE_TOO_LARGE');
    expect(e.message).toContain('"package/zeros.bin"');
    expect(await tree(dest)).toEqual([]);
  });

  it('a file within maxFileBytes but over maxUnpackedBytes is stopped before it is written', async () => {
    const file = await archive(bomb(header({ name: 'zeros.bin' }, 64 * MiB), 64), false);
    const e = await refused(file, 'ARCHIVE_TOO_LARGE', { maxUnpackedBytes: 8 * MiB });
    expect(e.hint).toContain('maxUnpackedBytes');
    expect(await tree(dest)).toEqual([]);
  });

  it('many small files are stopped once the unpacked total passes maxUnpackedBytes', async () => {
    const files = Array.from({ length: 40 }, (_, i) => entry({ name: `f${i}.bin`, data: Buffer.alloc(512 * 1024) }));
    const file = await archive(Buffer.concat([...files, END]));
    await refused(file, 'ARCHIVE_TOO_LARGE', { maxUnpackedBytes: 8 * MiB });
    const written = await readdir(dest);
    expect(written.length).toBeGreaterThan(0);
    expect(written.length).toBeLessThan(17);
  });

  it('metadata that inflates without end is stopped while it inflates, in little memory', async () => {
    // 1 GiB of global pax headers (no file is ever declared): only the streaming count can stop it.
    const unit = pax({ comment: 'z'.repeat(64 * 1024 - 600) }, 'g');
    const chunk = gzipSync(Buffer.concat(Array.from({ length: Math.floor(MiB / unit.length) }, () => unit)), { level: 9 });
    const gz = Buffer.concat([...Array.from({ length: 1024 }, () => chunk), gzipSync(END)]);
    expect(gz.length).toBeLessThan(4 * MiB);
    const file = await archive(gz, false);
    const before = process.memoryUsage();
    const e = await refused(file, 'ARCHIVE_TOO_LARGE', { maxUnpackedBytes: 8 * MiB });
    const after = process.memoryUsage();
    expect(e.message).toContain('stopped while decompressing');
    expect(after.rss - before.rss).toBeLessThan(256 * MiB);
  });
});

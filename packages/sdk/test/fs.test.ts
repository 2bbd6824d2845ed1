// The SDK's `fs` and `env` over the host's real WASI filesystem implementation
// (the same code the plugin's worker runs), without the component boundary.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFdTable, createFilesystem } from '../../host/src/sandbox/wasi-fs.js';
import { env } from '../src/env.js';
import { HostError } from '../src/errors.js';
import { fs } from '../src/fs.js';
import * as fakeEnv from './fakes/wasi-cli-environment.js';
import * as fakePreopens from './fakes/wasi-filesystem-preopens.js';
import { thrownBy } from './helpers.js';

let base: string;
let rw: string;
let ro: string;
const fds = createFdTable();

const code = (f: () => unknown) => {
  const e = thrownBy(f);
  expect(e).toBeInstanceOf(HostError);
  return (e as HostError).code;
};

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'airlock-sdk-fs-')));
  rw = join(base, 'work');
  ro = join(base, 'docs');
  mkdirSync(rw);
  mkdirSync(ro);
  writeFileSync(join(base, 'secret.txt'), 'outside');
  writeFileSync(join(ro, 'readme.md'), '# hello');
  symlinkSync(join(base, 'secret.txt'), join(ro, 'escape'));
  symlinkSync(join(ro, 'readme.md'), join(rw, 'inside-link'));
  symlinkSync(join(base, 'not-yet.txt'), join(rw, 'dangling'));
  const api = createFilesystem(
    [
      { guestPath: '/data/work', hostPath: rw, readOnly: false },
      { guestPath: '/data/docs', hostPath: ro, readOnly: true },
    ],
    fds,
  ) as { 'wasi:filesystem/preopens': { getDirectories: () => [unknown, string][] } };
  fakePreopens.state.directories = api['wasi:filesystem/preopens'].getDirectories();
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('fs', () => {
  it('names the granted directories', () => {
    expect(fs.roots().sort()).toEqual(['/data/docs', '/data/work']);
  });

  it('writes, reads, appends and lists inside a read-write grant', () => {
    fs.writeText('/data/work/a.txt', 'one');
    fs.writeText('/data/work/a.txt', '+two', { append: true });
    expect(fs.readText('/data/work/a.txt')).toBe('one+two');
    expect(readFileSync(join(rw, 'a.txt'), 'utf8')).toBe('one+two');
    fs.writeText('/data/work/a.txt', 'replaced');
    expect(fs.readText('/data/work/a.txt')).toBe('replaced');
    expect(fs.list('/data/work').map((e) => `${e.name}:${e.type}`)).toEqual(['a.txt:file', 'dangling:symlink', 'inside-link:symlink']);
    expect(fs.stat('/data/work/a.txt')).toMatchObject({ type: 'file', size: 8 });
  });

  it('reads files larger than one chunk whole', () => {
    const big = new Uint8Array(3 * (1 << 20) + 17).map((_, i) => i % 251);
    fs.writeBytes('/data/work/big.bin', big);
    expect(Buffer.from(fs.readBytes('/data/work/big.bin')).equals(Buffer.from(big))).toBe(true);
    fs.remove('/data/work/big.bin');
  });

  it('makes, renames and removes directories and files', () => {
    fs.mkdir('/data/work/x/y/z', { recursive: true });
    fs.mkdir('/data/work/x/y', { recursive: true });
    expect(code(() => fs.mkdir('/data/work/x'))).toBe('exist');
    fs.writeText('/data/work/x/y/z/f', 'f');
    fs.rename('/data/work/x/y/z/f', '/data/work/x/g');
    expect(fs.exists('/data/work/x/y/z/f')).toBe(false);
    expect(fs.readText('/data/work/x/g')).toBe('f');
    expect(code(() => fs.remove('/data/work/x'))).toBe('not-empty');
    fs.remove('/data/work/x/g');
    fs.remove('/data/work/x/y/z');
    fs.remove('/data/work/x/y');
    fs.remove('/data/work/x');
    expect(existsSync(join(rw, 'x'))).toBe(false);
  });

  it('reads under a read-only grant and refuses every change there', () => {
    expect(fs.readText('/data/docs/readme.md')).toBe('# hello');
    expect(code(() => fs.writeText('/data/docs/readme.md', 'defaced'))).toBe('read-only');
    expect(code(() => fs.writeText('/data/docs/new.md', 'x'))).toBe('read-only');
    expect(code(() => fs.mkdir('/data/docs/sub'))).toBe('read-only');
    expect(code(() => fs.remove('/data/docs/readme.md'))).toBe('read-only');
    expect(code(() => fs.rename('/data/docs/readme.md', '/data/docs/moved.md'))).toBe('read-only');
    expect(readFileSync(join(ro, 'readme.md'), 'utf8')).toBe('# hello');
    expect(existsSync(join(ro, 'new.md'))).toBe(false);
  });

  it('refuses `..` out of a grant, paths outside every grant, and relative paths', () => {
    expect(code(() => fs.readText('/data/docs/../../secret.txt'))).toBe('not-permitted');
    expect(code(() => fs.readText('/data/work/../docs/readme.md'))).toBe('not-permitted');
    const outside = thrownBy(() => fs.readText('/etc/passwd')) as HostError;
    expect(outside.code).toBe('not-permitted');
    expect(outside.message).toContain('granted: /data/work, /data/docs');
    expect(code(() => fs.readText('secret.txt'))).toBe('invalid');
  });

  it('follows a symlink only to a file inside a grant', () => {
    expect(code(() => fs.readText('/data/docs/escape'))).toBe('not-permitted');
    // A link from one grant into another still leaves the grant it was opened through.
    expect(code(() => fs.readText('/data/work/inside-link'))).toBe('not-permitted');
    symlinkSync('a-target.txt', join(rw, 'rel-link'));
    fs.writeText('/data/work/a-target.txt', 'via link');
    expect(fs.readText('/data/work/rel-link')).toBe('via link');
  });

  it('never creates a file through a dangling symlink', () => {
    expect(code(() => fs.writeText('/data/work/dangling', 'planted'))).toBe('no-entry');
    expect(existsSync(join(base, 'not-yet.txt'))).toBe(false);
  });

  it('closes every file it opens', () => {
    fs.writeText('/data/work/many.txt', 'x');
    for (let i = 0; i < 500; i++) fs.readText('/data/work/many.txt');
    expect(Array.from(fds).every((fd) => fd === -1)).toBe(true);
  });
});

describe('env', () => {
  it('shows what the host shows', () => {
    fakeEnv.state.env = [['API_KEY', 'k'], ['REGION', 'eu']];
    expect(env.get('API_KEY')).toBe('k');
    expect(env.get('HOME')).toBeUndefined();
    expect(env.all()).toEqual({ API_KEY: 'k', REGION: 'eu' });
  });
});

import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeListedFds, createFdTable, createFilesystem, MAX_OPEN_FILES } from '../../src/sandbox/wasi-fs.js';
import { expandPath, pathProblem, preopensFor } from '../../src/capabilities/filesystem.js';
import { AirlockError } from '../../src/errors.js';

type Dir = {
  openAt(p: object, path: string, o: object, f: object): Dir & { close?(): void };
  removeDirectoryAt(path: string): void;
  renameAt(a: string, d: Dir, b: string): void;
  statAt(p: object, path: string): { type: string };
};

let base: string;
const thrown = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

function dirs(...preopens: { hostPath: string; readOnly: boolean }[]) {
  const fds = createFdTable();
  const api = createFilesystem(preopens.map((p) => ({ ...p, guestPath: p.hostPath })), fds) as { 'wasi:filesystem/preopens': { getDirectories(): [Dir, string][] } };
  return { fds, dirs: api['wasi:filesystem/preopens'].getDirectories().map(([d]) => d) };
}

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'airlock-wasi-fs-')));
  mkdirSync(join(base, 'a'));
  mkdirSync(join(base, 'b'));
  writeFileSync(join(base, 'a', 'f.txt'), 'f');
  execFileSync('mkfifo', [join(base, 'a', 'pipe')]);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('wasi:filesystem descriptors', () => {
  it('refuses to open anything but regular files and directories (a FIFO would block the thread)', () => {
    const { dirs: [a] } = dirs({ hostPath: join(base, 'a'), readOnly: false });
    expect(thrown(() => a!.openAt({}, 'pipe', {}, { read: true }))).toBe('not-permitted');
    expect(a!.statAt({}, 'pipe').type).toBe('fifo');
  });

  it('never removes or renames the granted directory itself, nor moves files between grants', () => {
    const { dirs: [a, b] } = dirs({ hostPath: join(base, 'a'), readOnly: false }, { hostPath: join(base, 'b'), readOnly: false });
    expect(thrown(() => a!.removeDirectoryAt('.'))).toBe('not-permitted');
    expect(thrown(() => a!.renameAt('f.txt', b!, 'f.txt'))).toBe('cross-device');
    expect(readdirSync(join(base, 'a'))).toContain('f.txt');
  });

  it('bounds open files per instance and lists them for the host to close', () => {
    const { fds, dirs: [a] } = dirs({ hostPath: join(base, 'a'), readOnly: true });
    for (let i = 0; i < MAX_OPEN_FILES; i++) a!.openAt({}, 'f.txt', {}, { read: true });
    expect(thrown(() => a!.openAt({}, 'f.txt', {}, { read: true }))).toBe('insufficient-memory');
    const listed = Array.from(fds).filter((fd) => fd >= 0);
    expect(listed).toHaveLength(MAX_OPEN_FILES);
    closeListedFds(fds);
    expect(Array.from(fds).every((fd) => fd === -1)).toBe(true);
    // The descriptors really are closed: the OS hands the lowest free numbers out again.
    const reopened = openSync(join(base, 'a', 'f.txt'), 'r');
    expect(reopened).toBeLessThanOrEqual(Math.max(...listed));
    closeSync(reopened);
  });
});

describe('granted directory paths', () => {
  it('accepts absolute and home-relative paths only', () => {
    expect(pathProblem('/var/cache/x')).toBeUndefined();
    expect(pathProblem('~/notes')).toBeUndefined();
    expect(pathProblem('notes')).toMatch(/absolute/);
    expect(pathProblem('/var/../etc')).toMatch(/\.\./);
    expect(expandPath('~/notes/')).toBe(join(homedir(), 'notes'));
  });

  it('resolves granted directories, refusing ones that are missing or not directories', () => {
    expect(preopensFor('p', [{ path: join(base, 'a'), access: 'read-write' }])).toEqual([{ guestPath: join(base, 'a'), hostPath: join(base, 'a'), readOnly: false }]);
    const missing = thrown(() => preopensFor('p', [{ path: join(base, 'nope'), access: 'read-only' }])) as AirlockError;
    expect(missing.code).toBe('CAPABILITY_UNAVAILABLE');
    expect(missing.hint).toContain('mkdir -p');
    const file = thrown(() => preopensFor('p', [{ path: join(base, 'a', 'f.txt'), access: 'read-only' }])) as AirlockError;
    expect(file.message).toContain('is not a directory');
  });
});

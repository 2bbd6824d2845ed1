// What the CLI does with the home it is given: a command that only reads a
// home never creates one, a home that cannot be one is refused at once, a
// damaged database is named with the way out, and a failed command changes
// nothing in the home.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { capture, notes } from './helpers.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-cli-home-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** Every file under `dir` with its bytes. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    out[path.slice(dir.length)] = entry.isFile() ? (await readFile(path)).toString('base64') : '<dir>';
  }
  return out;
}

describe('a home that does not exist', () => {
  it.each([
    [['plugin', 'list']],
    [['plugin', 'info', 'notes']],
    [['plugin', 'verify']],
    [['plugin', 'remove', 'notes']],
    [['grant', 'notes', 'storage']],
    [['tools', 'list']],
    [['tools', 'call', 'count_words', '{"text":"a"}']],
    [['models']],
    [['auth', 'status', 'gh']],
  ])('is not created by %j, which fails with HOME_NOT_FOUND and the way out', async (argv) => {
    const home = join(root, 'missing');
    const io = capture();
    expect(await main([...argv, '--home', home, '--json'], io)).toBe(1);
    expect(JSON.parse(io.out).error).toMatchObject({ code: 'HOME_NOT_FOUND', message: `there is no Airlock home at ${home}` });
    expect(io.err).toContain('airlock plugin add <source>');
    expect(existsSync(home)).toBe(false);
  });

  it('is created by an install, and by running a plugin directory', async () => {
    const installed = join(root, 'by-add');
    expect(await main(['plugin', 'add', notes, '--yes', '--home', installed], capture())).toBe(0);
    expect(existsSync(join(installed, 'state.db'))).toBe(true);
    const ran = join(root, 'by-plugin');
    expect(await main(['tools', 'call', 'count_words', '{"text":"a b"}', '-p', notes, '--yes', '--home', ran], capture())).toBe(0);
    expect(existsSync(ran)).toBe(true);
  });
});

describe('an empty home', () => {
  it('lists no tools and exits 0, with a note on stderr saying how to add a plugin', async () => {
    const home = join(root, 'empty');
    await mkdir(home);
    const io = capture();
    expect(await main(['tools', 'list', '--home', home, '--json'], io)).toBe(0);
    expect(JSON.parse(io.out)).toEqual([]);
    expect(io.err).toContain(`no plugin is installed in ${home}`);
    const plain = capture();
    expect(await main(['plugin', 'list', '--home', home], plain)).toBe(0);
  });

  it('fails a call with TOOL_NOT_FOUND (exit 1), not a usage error', async () => {
    const home = join(root, 'empty-call');
    await mkdir(home);
    const io = capture();
    expect(await main(['tools', 'call', 'count_words', '--home', home, '--json'], io)).toBe(1);
    expect(JSON.parse(io.out).error.code).toBe('TOOL_NOT_FOUND');
  });
});

describe('a home that cannot be one', () => {
  it.runIf(existsSync('/proc/self'))('under /proc is refused at once with HOME_UNUSABLE', async () => {
    const io = capture();
    expect(await main(['plugin', 'add', notes, '--yes', '--home', '/proc/airlock-home', '--json'], io)).toBe(1);
    expect(JSON.parse(io.out).error).toMatchObject({ code: 'HOME_UNUSABLE' });
    expect(io.err).toContain('cannot use /proc/airlock-home for the Airlock home');
  });

  it('that is a file is refused with HOME_UNUSABLE, and the file is left alone', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'mine');
    const io = capture();
    expect(await main(['plugin', 'list', '--home', file, '--json'], io)).toBe(1);
    expect(JSON.parse(io.out).error.code).toBe('HOME_UNUSABLE');
    expect(await readFile(file, 'utf8')).toBe('mine');
  });
});

describe('a damaged state.db', () => {
  it('fails every command with DATABASE_CORRUPT naming the file and the way out, and nothing in the home changes', async () => {
    const home = join(root, 'damaged');
    expect(await main(['plugin', 'add', notes, '--yes', '--home', home], capture())).toBe(0);
    await writeFile(join(home, 'state.db'), 'not a database any more');
    for (const f of ['state.db-wal', 'state.db-shm']) await rm(join(home, f), { force: true });
    const before = await snapshot(home);
    for (const argv of [['plugin', 'list'], ['tools', 'list'], ['plugin', 'add', notes, '--yes']]) {
      const io = capture();
      expect(await main([...argv, '--home', home, '--json'], io), argv.join(' ')).toBe(1);
      expect(JSON.parse(io.out).error).toMatchObject({ code: 'DATABASE_CORRUPT', message: expect.stringContaining(join(home, 'state.db')) });
      expect(io.err).toContain(`mv ${join(home, 'state.db')} ${join(home, 'state.db')}.broken`);
    }
    expect(await snapshot(home)).toEqual(before);
  });
});

describe('a manifest with several problems', () => {
  it('lists every problem, on stderr and in --json', async () => {
    const dir = join(root, 'bad-plugin');
    await mkdir(dir);
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'bad', version: '1.0.0', airlock: { kind: 'toool', capabilities: { http: ['not-an-origin'], env: [3] }, limits: { timeoutMs: -5 } } }),
    );
    const io = capture();
    expect(await main(['plugin', 'add', dir, '--yes', '--home', join(root, 'h'), '--json'], io)).toBe(1);
    const error = JSON.parse(io.out).error as { code: string; file: string; issues: { path: string }[] };
    expect(error.code).toBe('MANIFEST_INVALID');
    expect(error.file).toBe(join(dir, 'package.json'));
    expect(error.issues.map((i) => i.path)).toEqual(['airlock.kind', 'airlock.capabilities.http[0]', 'airlock.capabilities.env[0]', 'airlock.limits.timeoutMs']);
    for (const path of error.issues.map((i) => i.path)) expect(io.err).toContain(`  - ${path}: `);
  });
});

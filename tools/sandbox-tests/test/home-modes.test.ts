// The home holds what other users of the machine must not read or change:
// plugin data, install state, and the transpiled code the host runs. Whatever
// the umask, everything the host creates there is its owner's only
// (directories 0700, files 0600), and opening a home an older host left
// readable tightens what the host owns in it.
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHost, type Host } from '@airlock/host';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
const spin = join(fixtures, 'spin-wat');
const grow = join(fixtures, 'grow-wat');
const oldHome = new URL('../../../packages/host/test/fixtures/home-0.1.0/', import.meta.url);

let root: string;
let umask: number;
beforeAll(() => {
  // The loosest umask: every mode below is the host's doing, not the environment's.
  umask = process.umask(0);
});
afterAll(() => {
  process.umask(umask);
});
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-home-modes-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (path: string) => (await stat(path)).mode & 0o777;

/** `path` and everything under it, each with its mode, as `relative path: NNN` (directories end in `/`). */
async function modes(path: string): Promise<string[]> {
  const out = [`./: ${(await mode(path)).toString(8)}`];
  for (const entry of await readdir(path, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    // A temporary file the host is renaming into place may be gone already.
    const m = await lstat(full).then((s) => s.mode & 0o777, () => undefined);
    if (m !== undefined) out.push(`${relative(path, full)}${entry.isDirectory() ? '/' : ''}: ${m.toString(8)}`);
  }
  return out.sort();
}

const loose = (list: string[]) => list.filter((line) => !(line.endsWith('/: 700') || line === './: 700' || (!line.includes('/: ') && line.endsWith(': 600'))));

describe('a new home', () => {
  it('holds nothing other users can read: directories 0700, files 0600, whatever the umask', async () => {
    const home = join(root, 'parent', 'home');
    const host: Host = await createHost({ home, logger: () => {} });
    try {
      await host.registry.install(grow, { grant: 'manifest' });
      await host.loadInstalled();
      await host.load(spin);
      await host.storageOf('spin-wat').set('k', new Uint8Array([1]));
      // The V8 code cache is handed over after the first call; wait until the host stored it.
      while (!(await modes(home)).some((line) => line.includes('.v8cache'))) await new Promise((resolve) => setTimeout(resolve, 20));
      const open = await modes(home);
      // What there is to protect, all of it present while the host runs:
      for (const path of ['state.db: ', 'storage.db-wal: ', 'cache/components/', 'cache-digests/', 'plugins/grow-wat/', '.v8cache: ', 'plugin.core.wasm: ', 'plugin.js: ']) {
        expect(open.some((line) => line.includes(path)), path).toBe(true);
      }
      expect(loose(open)).toEqual([]);
    } finally {
      await host.close();
    }
    const closed = await modes(home);
    expect(closed.some((line) => line.startsWith('cache/component-index.json: '))).toBe(true);
    expect(loose(closed)).toEqual([]);
    expect(await mode(join(root, 'parent'))).toBe(0o700);
  });

  it('keeps a shared component cache and its digests private when it creates them', async () => {
    const cache = join(root, 'shared', 'components');
    const host = await createHost({ home: join(root, 'home'), logger: () => {}, componentCacheDir: cache });
    try {
      await host.load(spin);
    } finally {
      await host.close();
    }
    expect(loose(await modes(cache))).toEqual([]);
    expect((await readdir(join(cache, 'digests'))).length).toBe(1);
  });
});

describe('a home an older host left readable', () => {
  it('is tightened where the host owns it; the home itself and the user\'s own files are left alone', async () => {
    const home = join(root, 'home');
    await cp(oldHome, home, { recursive: true });
    await mkdir(join(home, 'cache', 'components'), { recursive: true, mode: 0o755 });
    await mkdir(join(home, 'plugins', 'notes'), { recursive: true, mode: 0o755 });
    await mkdir(join(home, 'staging'), { mode: 0o777 });
    await writeFile(join(home, 'cache', 'component-index.json'), '{}', { mode: 0o644 });
    await writeFile(join(home, 'config.json'), '{}', { mode: 0o644 });
    for (const f of ['state.db', 'storage.db']) await chmod(join(home, f), 0o644);
    await chmod(home, 0o755);

    const host = await createHost({ home, logger: () => {} });
    try {
      for (const dir of ['cache', 'cache/components', 'cache-digests', 'plugins']) expect(await mode(join(home, dir)), dir).toBe(0o700);
      for (const file of ['state.db', 'storage.db', 'cache/component-index.json']) expect(await mode(join(home, file)), file).toBe(0o600);
      // Opened by SQLite after the tightening: they take the database's mode.
      for (const file of ['state.db-wal', 'state.db-shm', 'storage.db-wal', 'storage.db-shm']) expect(await mode(join(home, file)), file).toBe(0o600);
      expect(await mode(join(home, 'config.json'))).toBe(0o644);
      expect(await mode(home)).toBe(0o755);
    } finally {
      await host.close();
    }
  });
});

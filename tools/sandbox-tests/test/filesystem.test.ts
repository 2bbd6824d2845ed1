// Granted directories and environment, from a plugin calling wasi:filesystem
// and wasi:cli/environment directly with whatever paths it likes: only the
// grant is reachable, read-only means read-only, and nothing escapes through
// `..`, absolute paths or symlinks.
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host } from '@airlock/host';
import { capabilityVariant, rejection } from '@airlock/test-utils';

const fixture = new URL('../fixtures/misbehaving', import.meta.url).pathname;
const notes = new URL('../../../plugins/notes', import.meta.url).pathname;

let base: string;
let shared: string;
let scratch: string;
let host: Host;

const variant = (id: string, capabilities: Record<string, unknown>) => capabilityVariant(fixture, base, id, capabilities);

type FsResult = { text?: string; names?: string[]; ok?: boolean; type?: string; wrote?: number; held?: number; error?: unknown };
const fs = (plugin: string, args: Record<string, unknown>) => host.callTool(`${plugin}.fs`, args) as Promise<FsResult>;

beforeAll(async () => {
  base = realpathSync(await mkdtemp(join(tmpdir(), 'airlock-fs-')));
  shared = join(base, 'shared');
  scratch = join(base, 'scratch');
  mkdirSync(join(shared, 'sub'), { recursive: true });
  mkdirSync(scratch);
  writeFileSync(join(base, 'secret.txt'), 'outside the grant');
  writeFileSync(join(shared, 'hello.txt'), 'hello from the host');
  writeFileSync(join(shared, 'sub', 'deep.txt'), 'deep');
  symlinkSync(join(base, 'secret.txt'), join(shared, 'to-secret'));
  symlinkSync(base, join(shared, 'to-parent'));
  symlinkSync('hello.txt', join(shared, 'to-hello'));

  host = await createHost({ home: join(base, 'home'), logger: () => {}, env: { PLUGIN_TOKEN: 't0k3n', PLUGIN_REGION: 'eu', HOME: '/root', AWS_SECRET_ACCESS_KEY: 'nope' } });
  await host.load(
    await variant('reader', {
      filesystem: [
        { path: shared, access: 'read-only' },
        { path: scratch, access: 'read-write' },
      ],
      env: ['PLUGIN_*'],
    }),
    { grant: 'manifest' },
  );
  await host.load(await variant('nofs', {}));
  await host.load(notes, { grant: 'manifest' });
  await host.callTool('add_note', { title: 'bystander', body: 'kept' });
});

// After every hostile attempt: a well-behaved plugin still answers, its stored data and the loaded plugins are intact.
afterEach(async () => {
  await expect(host.callTool('list_notes', {})).resolves.toEqual([{ id: 1, title: 'bystander', tags: [] }]);
  expect(host.plugins().map((p) => p.id)).toEqual(['reader', 'nofs', 'notes']);
});

afterAll(async () => {
  await host.close();
  await rm(base, { recursive: true, force: true });
});

describe('filesystem grants', () => {
  it('offers exactly the granted directories, by their paths', async () => {
    // And, last, each plugin's own scratch directory, granted or not.
    expect(await host.callTool('reader.roots', {})).toEqual([shared, scratch, '/scratch']);
    expect(await host.callTool('nofs.roots', {})).toEqual(['/scratch']);
    expect(await fs('nofs', { op: 'read', path: 'hello.txt' })).toEqual({ error: 'no-entry' });
    expect(await fs('nofs', { op: 'read', path: 'hello.txt', root: 1 })).toEqual({ error: 'no-preopen', roots: 1 });
  });

  it('reads and lists inside a read-only grant', async () => {
    expect(await fs('reader', { op: 'read', path: 'hello.txt' })).toEqual({ text: 'hello from the host' });
    expect(await fs('reader', { op: 'read', path: 'sub/../sub/./deep.txt' })).toEqual({ text: 'deep' });
    expect(await fs('reader', { op: 'read', path: 'to-hello' })).toEqual({ text: 'hello from the host' });
    expect((await fs('reader', { op: 'list', path: '.' })).names).toEqual(['hello.txt', 'sub', 'to-hello', 'to-parent', 'to-secret']);
  });

  it('refuses every write to a read-only grant, and the files stay as they were', async () => {
    for (const args of [
      { op: 'write', path: 'hello.txt', text: 'defaced' },
      { op: 'write', path: 'new.txt', text: 'planted' },
      { op: 'mkdir', path: 'newdir' },
      { op: 'unlink', path: 'hello.txt' },
      { op: 'rename', path: 'hello.txt', to: 'moved.txt' },
    ]) {
      expect(await fs('reader', args), JSON.stringify(args)).toEqual({ error: 'read-only' });
    }
    expect(readFileSync(join(shared, 'hello.txt'), 'utf8')).toBe('hello from the host');
    expect(readdirSync(shared).sort()).toEqual(['hello.txt', 'sub', 'to-hello', 'to-parent', 'to-secret']);
  });

  it('writes inside a read-write grant', async () => {
    expect(await fs('reader', { root: 1, op: 'mkdir', path: 'out' })).toEqual({ ok: true });
    expect(await fs('reader', { root: 1, op: 'write', path: 'out/result.txt', text: 'written by the plugin' })).toEqual({ wrote: 21 });
    expect(readFileSync(join(scratch, 'out', 'result.txt'), 'utf8')).toBe('written by the plugin');
    expect(await fs('reader', { root: 1, op: 'rename', path: 'out/result.txt', to: 'result.txt' })).toEqual({ ok: true });
    expect(await fs('reader', { root: 1, op: 'unlink', path: 'result.txt' })).toEqual({ ok: true });
    expect(existsSync(join(scratch, 'result.txt'))).toBe(false);
  });

  it('refuses `..` and absolute paths out of a grant', async () => {
    expect(await fs('reader', { op: 'read', path: '../secret.txt' })).toEqual({ error: 'not-permitted' });
    expect(await fs('reader', { op: 'read', path: 'sub/../../secret.txt' })).toEqual({ error: 'not-permitted' });
    expect(await fs('reader', { op: 'read', path: `${base}/secret.txt` })).toEqual({ error: 'not-permitted' });
    expect(await fs('reader', { op: 'read', path: '/etc/passwd' })).toEqual({ error: 'not-permitted' });
    expect(await fs('reader', { root: 1, op: 'write', path: '../shared/hello.txt', text: 'x' })).toEqual({ error: 'not-permitted' });
    expect(readFileSync(join(shared, 'hello.txt'), 'utf8')).toBe('hello from the host');
  });

  it('refuses symlinks that lead out of a grant, followed or as a directory', async () => {
    expect(await fs('reader', { op: 'read', path: 'to-secret' })).toEqual({ error: 'not-permitted' });
    expect(await fs('reader', { op: 'read', path: 'to-parent/secret.txt' })).toEqual({ error: 'not-permitted' });
    expect(await fs('reader', { op: 'read-dir-via', path: 'to-parent' })).toEqual({ error: 'not-permitted' });
    // Not following the link: the link itself is opened, which is refused too.
    expect(await fs('reader', { op: 'read', path: 'to-secret', follow: false })).toEqual({ error: 'loop' });
    expect(await fs('reader', { op: 'stat', path: 'to-secret', follow: false })).toEqual({ type: 'symbolic-link' });
  });

  it('does not let a plugin make links', async () => {
    expect(await fs('reader', { root: 1, op: 'symlink', path: 'link', to: '/etc' })).toEqual({ error: 'not-permitted' });
    expect(existsSync(join(scratch, 'link'))).toBe(false);
  });

  it('gives the SDK errors that say what went wrong', async () => {
    expect(await host.callTool('reader.sdk_read', { path: join(shared, 'hello.txt') })).toEqual({ text: 'hello from the host' });
    const escape = (await host.callTool('reader.sdk_read', { path: join(shared, 'to-secret') })) as { error: { code: string; message: string } };
    expect(escape.error.code).toBe('not-permitted');
    expect(escape.error.message).toContain('to-secret is outside the directories this plugin was granted');
    const missing = (await host.callTool('nofs.sdk_read', { path: '/etc/passwd' })) as { error: { code: string; message: string } };
    expect(missing.error).toMatchObject({ code: 'not-permitted' });
    expect(missing.error.message).toContain('was granted none besides its scratch directory /scratch; add it to capabilities.filesystem');
  });

  it('bounds open files, and closes them when the instance is stopped', async () => {
    const fdCount = () => readdirSync('/proc/self/fd').length;
    const before = fdCount();
    expect(await fs('reader', { op: 'hold', path: 'hello.txt', n: 100 })).toEqual({ held: 100 });
    expect(fdCount()).toBeGreaterThanOrEqual(before + 100);
    expect(await fs('reader', { op: 'hold', path: 'hello.txt', n: 100 })).toEqual({ error: 'insufficient-memory' });
    // A runaway call gets the worker terminated; the files it held are closed by the host.
    expect((await rejection(host.callTool('reader.spin', {}))).code).toBe('PLUGIN_TIMEOUT');
    expect(fdCount()).toBeLessThan(before + 5);
    expect(await fs('reader', { op: 'read', path: 'hello.txt' })).toEqual({ text: 'hello from the host' });
  });

  it('refuses to load when a granted directory does not exist', async () => {
    const err = await rejection(host.load(await variant('ghost', { filesystem: [{ path: join(base, 'missing'), access: 'read-only' }] }), { grant: 'manifest' }));
    expect(err.code).toBe('CAPABILITY_UNAVAILABLE');
    expect(err.message).toContain('missing, which does not exist');
    expect(host.plugins().map((p) => p.id)).not.toContain('ghost');
  });
});

describe('the scratch directory', () => {
  const scratchOf = (id: string) => join(base, 'home', 'scratch', id);

  it('is every plugin\'s own, without a grant, and survives a reload', async () => {
    expect(await fs('nofs', { op: 'write', path: 'notes.txt', text: 'mine' })).toEqual({ wrote: 4 });
    expect(await fs('nofs', { op: 'read', path: 'notes.txt' })).toEqual({ text: 'mine' });
    expect(readFileSync(join(scratchOf('nofs'), 'notes.txt'), 'utf8')).toBe('mine');
    // Another plugin's scratch is another directory: `reader` does not see it.
    expect(await fs('reader', { op: 'read', path: 'notes.txt', root: 2 })).toEqual({ error: 'no-entry' });
    expect(await fs('nofs', { op: 'read', path: '../reader/x', root: 0 })).toMatchObject({ error: 'not-permitted' });
    await host.reload('nofs');
    expect(await fs('nofs', { op: 'read', path: 'notes.txt' })).toEqual({ text: 'mine' });
    expect(statSync(scratchOf('nofs')).mode & 0o777).toBe(0o700);
  });

  it('is capped, counting each file and directory, and space comes back when files go', async () => {
    const small = await createHost({ home: join(base, 'home-small'), logger: () => {}, limits: { scratchMb: 1 } });
    try {
      await small.load(await variant('filler', {}));
      const write = (path: string, kib: number) => small.callTool('filler.fs', { op: 'write', path, text: 'x'.repeat(kib * 1024) });
      expect(await write('a', 600)).toEqual({ wrote: 600 * 1024 });
      // 600 KiB + one entry used: 600 more do not fit, and nothing of them is kept.
      expect(await write('b', 600)).toEqual({ error: 'insufficient-space' });
      expect(await small.callTool('filler.fs', { op: 'stat', path: 'b' })).toEqual({ type: 'regular-file' });
      expect(await small.callTool('filler.fs', { op: 'unlink', path: 'b' })).toEqual({ ok: true });
      // Rewriting a file in place gives its old bytes back first.
      expect(await write('a', 700)).toEqual({ wrote: 700 * 1024 });
      expect(await small.callTool('filler.fs', { op: 'unlink', path: 'a' })).toEqual({ ok: true });
      expect(await write('b', 900)).toEqual({ wrote: 900 * 1024 });
      // Empty entries are not free: directories until the cap.
      let made = 0;
      while (made < 1000 && ((await small.callTool('filler.fs', { op: 'mkdir', path: `d${made}` })) as { ok?: boolean }).ok) made++;
      expect(made).toBe((1024 * 1024 - 900 * 1024 - 4096) / 4096);
      expect(await small.callTool('filler.fs', { op: 'mkdir', path: 'one-more' })).toEqual({ error: 'insufficient-space' });
    } finally {
      await small.close();
    }
  });

  it('goes when the plugin is removed', async () => {
    const dir = await variant('removable', {});
    await host.registry.install(dir, { grant: 'manifest' });
    await host.loadInstalled();
    expect(await fs('removable', { op: 'write', path: 'x', text: 'y' })).toEqual({ wrote: 1 });
    expect(existsSync(scratchOf('removable'))).toBe(true);
    await host.registry.remove('removable');
    expect(existsSync(scratchOf('removable'))).toBe(false);
  });
});

describe('environment grants', () => {
  it('shows only the granted variables', async () => {
    expect(await host.callTool('reader.env', {})).toEqual({ PLUGIN_TOKEN: 't0k3n', PLUGIN_REGION: 'eu' });
    expect(await host.callTool('nofs.env', {})).toEqual({});
  });

  it('refuses to load a plugin whose required variable is unset, naming it and what it is for; a trial says so and starts it', async () => {
    const needs = [{ name: 'PLUGIN_TOKEN', required: true }, { name: 'PLUGIN_ACCOUNT', required: true, description: 'your account id, from example.com/settings' }, 'PLUGIN_REGION'];
    const dir = await variant('needy', { env: needs });
    const refused = await rejection(host.load(dir, { grant: 'manifest' }));
    expect(refused.code).toBe('ENV_MISSING');
    expect(refused.message).toBe('plugin `needy` needs the environment variable PLUGIN_ACCOUNT, which is not set');
    expect(refused.hint).toContain('Set PLUGIN_ACCOUNT in the environment the host runs in (PLUGIN_ACCOUNT: your account id, from example.com/settings)');
    expect(host.plugins().some((p) => p.id === 'needy')).toBe(false);
    expect((await host.trial(dir, { grant: 'manifest' })).missingEnv).toEqual(['PLUGIN_ACCOUNT']);

    // Set, it loads and sees it; an optional one may stay unset.
    const other = await createHost({ home: join(base, 'home-env'), logger: () => {}, env: { PLUGIN_TOKEN: 't', PLUGIN_ACCOUNT: 'acct-1' } });
    try {
      await other.load(dir, { grant: 'manifest' });
      expect(await other.callTool('needy.env', {})).toEqual({ PLUGIN_TOKEN: 't', PLUGIN_ACCOUNT: 'acct-1' });
    } finally {
      await other.close();
    }
  });
});

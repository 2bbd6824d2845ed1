// What runs is what was checked: the transpiled output of a component is
// bound to the component's hash by digest records kept outside the cache
// entry. An entry that was swapped, truncated or edited is never run: the
// plugin runs its own code (the entry is rebuilt from the component, with a
// warning), and `registry.verify()` reports the change.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AirlockError, createHost, type Host, type LogEntry } from '@airlock/host';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
/** Two tool plugins with one tool each, told apart by the tool they list (their own code answers list-tools). */
const spin = join(fixtures, 'spin-wat');
const grow = join(fixtures, 'grow-wat');
const notes = new URL('../../../plugins/notes', import.meta.url).pathname;

let home: string;
let marker: string;
let logs: LogEntry[];
const hosts: Host[] = [];

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-cache-integrity-'));
  marker = join(home, 'ran-the-other-code');
  logs = [];
});
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  await rm(home, { recursive: true, force: true });
});

async function open(): Promise<Host> {
  const host = await createHost({ home, logger: (e) => logs.push(e) });
  hosts.push(host);
  return host;
}

/** The cache entry of the component of the plugin in `dir`, in the default layout. */
async function entryOf(dir: string): Promise<string> {
  const hash = createHash('sha256').update(await readFile(join(dir, 'dist', 'plugin.wasm'))).digest('hex');
  return join(home, 'cache', 'components', `${hash}.v3`);
}

/** Load `dir` once in a host of its own and close it: its entry and its V8 code cache are then on disk. */
async function warm(...dirs: string[]): Promise<void> {
  const host = await createHost({ home, logger: () => {} });
  for (const dir of dirs) await host.load(dir, { grant: 'manifest' });
  // The worker hands its code cache over after the first call (list-tools, at load); wait for the host to store it.
  for (const dir of dirs) await codeCacheOf(dir);
  await host.close();
}

/** The name of the V8 code cache file in `dir`'s entry, once there is one. */
async function codeCacheOf(dir: string): Promise<string> {
  const entry = await entryOf(dir);
  for (;;) {
    const found = (await readdir(entry)).find((f) => f.endsWith('.v8cache'));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** What a fresh host finds when it loads `dir`: the tools it lists (from the plugin's own code). */
async function toolsAfterLoading(dir: string): Promise<string[]> {
  const host = await open();
  const info = await host.load(dir);
  return host.tools().filter((t) => t.plugin === info.id).map((t) => t.name);
}

const warnings = () => logs.filter((l) => l.level === 'warn');

/** Stop `entry` from being renamed or replaced; returns how to undo it, or undefined when this machine offers no way. */
async function lock(entry: string): Promise<(() => Promise<void>) | undefined> {
  if (process.getuid?.() === 0) {
    const chattr = (flag: string) => execFileSync('chattr', [flag, entry], { stdio: 'ignore' });
    try {
      chattr('+i');
    } catch {
      return undefined;
    }
    return async () => void chattr('-i');
  }
  const parent = join(entry, '..');
  await chmod(parent, 0o500);
  return () => chmod(parent, 0o700);
}

/** A glue statement that leaves a mark when the code runs: proof that the edited glue was executed. */
const leaveMark = () => `process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`;

describe('a changed cache entry is never run', () => {
  it('an entry swapped for another component\'s: the plugin runs its own code, rebuilt, with a warning naming it', async () => {
    await warm(spin, grow);
    const own = await entryOf(spin);
    const other = await entryOf(grow);
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    await Promise.all(hosts.splice(0).map((h) => h.close()));

    // Entry B's files copied into A's directory, as a person or a program with write access to the cache could.
    await rm(own, { recursive: true });
    await cp(other, own, { recursive: true });
    logs = [];
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ plugin: 'spin-wat', message: expect.stringMatching(/^the cached transpiled output of `spin-wat` changed since it was written \(.+\); discarding it and rebuilding it from the component$/) });
    expect(warnings()[0]!.message).toContain(own);

    // Rebuilt: the next host finds it intact and says nothing.
    await Promise.all(hosts.splice(0).map((h) => h.close()));
    logs = [];
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    expect(warnings()).toEqual([]);
  });

  it('a truncated core wasm file: rebuilt, the plugin starts and serves', async () => {
    await warm(spin);
    const entry = await entryOf(spin);
    await truncate(join(entry, 'plugin.core.wasm'), 10);
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    expect(warnings().map((w) => w.message)).toEqual([expect.stringContaining('plugin.core.wasm is 10 bytes long')]);
  });

  it('an edited plugin.js (the glue runs with the host\'s privileges): the edit never runs', async () => {
    await warm(spin);
    const glue = join(await entryOf(spin), 'plugin.js');
    const text = await readFile(glue, 'utf8');
    expect(text.startsWith('(function (__airlockModuleUrl) {\n')).toBe(true);
    await writeFile(glue, text.replace('(function (__airlockModuleUrl) {\n', `(function (__airlockModuleUrl) {\n${leaveMark()}\n`));
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    expect(existsSync(marker)).toBe(false);
    expect(warnings().map((w) => w.message)).toEqual([expect.stringContaining('plugin.js is ')]);
  });

  it('an edit of plugin.js that keeps its size: caught by its digest, not its length', async () => {
    await warm(spin);
    const glue = join(await entryOf(spin), 'plugin.js');
    const text = await readFile(glue, 'utf8');
    const edited = text.replace('"use components";', 'process.exit(7);;');
    expect(edited).not.toBe(text);
    expect(Buffer.byteLength(edited)).toBe(Buffer.byteLength(text));
    await writeFile(glue, edited);
    // Run, the edit would end the worker (exit code 7) and the load would fail.
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    expect(warnings().map((w) => w.message)).toEqual([expect.stringContaining('plugin.js differs from what was written')]);
  });

  it('an edited meta.json pointing at another glue file: that file never runs', async () => {
    await warm(spin);
    const entry = await entryOf(spin);
    await writeFile(join(entry, 'evil.js'), `(function () {\n${leaveMark()}\nreturn { instantiate() { throw new Error('not the plugin'); } };\n})`);
    const meta = JSON.parse(await readFile(join(entry, 'meta.json'), 'utf8')) as { glue: string };
    await writeFile(join(entry, 'meta.json'), JSON.stringify({ ...meta, glue: 'evil.js' }));
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    expect(existsSync(marker)).toBe(false);
    expect(warnings().map((w) => w.message)).toEqual([expect.stringContaining('meta.json')]);
  });

  it('an edited source map (it decides what plugin stacks say): the entry is rebuilt with the component\'s own map', async () => {
    await warm(notes);
    const map = join(await entryOf(notes), 'source-map.json');
    const original = await readFile(map, 'utf8');
    const edited = original.replace('src/index.ts', 'src/attack.ts');
    expect(edited).not.toBe(original);
    await writeFile(map, edited);
    const host = await open();
    await host.load(notes, { grant: 'manifest' });
    expect(warnings().map((w) => w.message)).toEqual([expect.stringContaining('source-map.json')]);
    expect(await readFile(map, 'utf8')).toBe(original);
  });

  it('a code cache that changed is dropped, with a warning; the entry itself is still used', async () => {
    await warm(spin);
    const entry = await entryOf(spin);
    const cache = await codeCacheOf(spin);
    const bytes = await readFile(join(entry, cache));
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    await writeFile(join(entry, cache), bytes);
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    expect(warnings().map((w) => w.message)).toEqual([expect.stringMatching(/^the V8 code cache of `spin-wat` changed since it was written \(.+ differs from what was written/)]);
    expect(existsSync(join(entry, cache))).toBe(false);
  });

  it('an entry without a digest record (an older host\'s) is compared with a fresh transpile: adopted when equal, replaced when not', async () => {
    await warm(spin);
    const entry = await entryOf(spin);
    await rm(join(home, 'cache-digests'), { recursive: true });
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    expect(warnings()).toEqual([]);
    // That host records the code cache its worker makes after the first call, some time after the load; closing it waits for that write, which would otherwise land after the records are removed below.
    await Promise.all(hosts.splice(0).map((h) => h.close()));

    await rm(join(home, 'cache-digests'), { recursive: true });
    const glue = join(entry, 'plugin.js');
    await writeFile(glue, (await readFile(glue, 'utf8')).replace('(function (__airlockModuleUrl) {\n', `(function (__airlockModuleUrl) {\n${leaveMark()}\n`));
    expect(await toolsAfterLoading(spin)).toEqual(['spin']);
    expect(existsSync(marker)).toBe(false);
    expect(warnings().map((w) => w.message)).toEqual([expect.stringMatching(/has no recorded digest and differs from what its component transpiles to \(plugin\.js/)]);
  });

  it('is refused with INTEGRITY_FAILED, naming what changed, when it cannot be replaced', async (ctx) => {
    await warm(spin);
    const entry = await entryOf(spin);
    const glue = join(entry, 'plugin.js');
    await writeFile(glue, (await readFile(glue, 'utf8')).replace('(function (__airlockModuleUrl) {\n', `(function (__airlockModuleUrl) {\n${leaveMark()}\n`));
    // Make the entry impossible to move away: immutable for root (where the filesystem allows it), a read-only cache directory for anyone else.
    const unlock = await lock(entry);
    if (!unlock) return ctx.skip();
    try {
      const host = await open();
      const err = await host.load(spin).then(() => undefined, (e: unknown) => e);
      expect(AirlockError.isInstance(err), String(err)).toBe(true);
      expect(err).toMatchObject({ code: 'INTEGRITY_FAILED', plugin: 'spin-wat', message: expect.stringContaining('(plugin.js is ') });
      expect((err as AirlockError).message).toContain('could not be rebuilt');
      expect(existsSync(marker)).toBe(false);
      expect(host.plugins()).toEqual([]);
    } finally {
      await unlock();
    }
  });
});

describe('hosts sharing a home', () => {
  it('load the same component for the first time at once: one entry, both run it, no warning', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const [x, y] = await Promise.all([a!.load(spin), b!.load(spin)]);
    expect(x.sha256).toBe(y.sha256);
    expect(a!.tools().map((t) => t.name)).toEqual(['spin']);
    expect(b!.tools().map((t) => t.name)).toEqual(['spin']);
    expect(warnings()).toEqual([]);
    const names = await readdir(join(home, 'cache', 'components'));
    expect(names).toEqual([`${x.sha256}.v3`]);
  });
});

describe('registry.verify', () => {
  it('reports a tampered cache entry of an installed plugin (not ok, with the reason); a load rebuilds it', async () => {
    const host = await open();
    await host.registry.install(spin, { grant: 'manifest' });
    expect(await host.registry.verify('spin-wat')).toEqual([
      expect.objectContaining({ id: 'spin-wat', componentIntact: true, manifestIntact: true, cache: 'intact', cacheIntact: true, ok: true }),
    ]);
    const [report] = await host.registry.verify('spin-wat');
    expect(report).not.toHaveProperty('cacheProblem');

    const entry = await entryOf(spin);
    const glue = join(entry, 'plugin.js');
    await writeFile(glue, (await readFile(glue, 'utf8')).replace('(function (__airlockModuleUrl) {\n', `(function (__airlockModuleUrl) {\n${leaveMark()}\n`));
    const [tampered] = await host.registry.verify('spin-wat');
    expect(tampered).toMatchObject({ componentIntact: true, manifestIntact: true, cache: 'tampered', cacheIntact: false, ok: false });
    expect(tampered!.cacheProblem).toMatch(/^plugin\.js is \d+ bytes long, \d+ when it was written \(in .+\)$/);

    const loaded = await host.loadInstalled();
    expect(loaded.loaded.map((p) => p.id)).toEqual(['spin-wat']);
    expect(existsSync(marker)).toBe(false);
    expect(host.tools().map((t) => t.name)).toEqual(['spin']);
    expect((await host.registry.verify('spin-wat'))[0]).toMatchObject({ cache: 'intact', ok: true });
  });

  it('reports a changed code cache; a missing entry is absent and no failure', async () => {
    const host = await open();
    await host.registry.install(spin, { grant: 'manifest' });
    await host.loadInstalled();
    const cache = await codeCacheOf(spin);
    await host.close();
    const entry = await entryOf(spin);
    await writeFile(join(entry, cache), 'garbage');
    const again = await open();
    expect((await again.registry.verify('spin-wat'))[0]).toMatchObject({ cache: 'tampered', cacheIntact: false, ok: false, cacheProblem: expect.stringContaining('V8 code cache') });

    await rm(entry, { recursive: true });
    expect((await again.registry.verify('spin-wat'))[0]).toMatchObject({ cache: 'absent', cacheIntact: true, ok: true });
  });

  it('compares an entry without a digest record with a fresh transpile', async () => {
    const host = await open();
    await host.registry.install(spin, { grant: 'manifest' });
    await rm(join(home, 'cache-digests'), { recursive: true });
    await mkdir(join(home, 'cache-digests'));
    expect((await host.registry.verify('spin-wat'))[0]).toMatchObject({ cache: 'intact', ok: true });

    const entry = await entryOf(spin);
    await truncate(join(entry, 'plugin.core.wasm'), 10);
    const [report] = await host.registry.verify('spin-wat');
    expect(report).toMatchObject({ cache: 'tampered', cacheIntact: false, ok: false });
    expect(report!.cacheProblem).toContain('no recorded digest');
  });
});

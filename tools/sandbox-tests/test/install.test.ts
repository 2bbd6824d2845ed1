import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createHost, generateKeyPair, signPackage, type Host } from '@airlock/host';
import { pluginVariant, rejection } from '@airlock/test-utils';

const run = promisify(execFile);
const notes = new URL('../../../plugins/notes', import.meta.url).pathname;
const misbehaving = new URL('../fixtures/misbehaving', import.meta.url).pathname;
const child = new URL('./install-child.mjs', import.meta.url).pathname;

let work: string;
let home: string;
/**
 * One component cache for every host of this file, its child processes' too, as createHost's
 * componentCacheDir allows: each test starts from a new home, and transpiling the same component
 * again in each was most of the file's time. What is tested here is what a home holds.
 */
let componentCacheDir: string;
const hosts: Host[] = [];

async function open(options: Parameters<typeof createHost>[0] extends infer O ? Partial<O> : never = {}): Promise<Host> {
  const host = await createHost({ home, logger: () => {}, componentCacheDir, ...options });
  hosts.push(host);
  return host;
}

/** A copy of the notes plugin as version `version`, with its manifest edited. */
async function notesAt(version: string, edit: (airlock: Record<string, unknown>) => void = () => {}, name = `notes-${version}`): Promise<string> {
  return pluginVariant(notes, join(work, name), (pkg) => {
    (pkg as { version?: string }).version = version;
    edit(pkg.airlock);
  });
}

/** `npm pack` a package directory into `work`; returns the tarball path. */
async function pack(dir: string): Promise<string> {
  const { stdout } = await run('npm', ['pack', '--json', '--silent', '--pack-destination', work], { cwd: dir });
  return join(work, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
}

/** Files under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.map(String).sort();
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'airlock-install-work-'));
  componentCacheDir = join(work, 'component-cache');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  if (home) await rm(home, { recursive: true, force: true });
});

async function freshHome(): Promise<string> {
  home = await mkdtemp(join(tmpdir(), 'airlock-install-home-'));
  return home;
}

describe('install from each kind of source', () => {
  it('from a directory: records it, keeps only the package files, loads it with the recorded grant', async () => {
    await freshHome();
    const host = await open();
    const events: string[] = [];
    host.on('plugin-installed', (p) => events.push(`installed ${p.id}@${p.version}`));
    const installed = await host.registry.install(await notesAt('1.0.0'), { grant: 'manifest' });
    expect(installed).toMatchObject({ id: 'notes', version: '1.0.0', kind: 'tool', enabled: true, grant: { storage: { quotaBytes: 1048576 } }, signature: { status: 'unsigned' } });
    expect(installed.componentSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(events).toEqual(['installed notes@1.0.0']);
    expect(await tree(join(home, 'plugins'))).toEqual(['notes', `notes/1.0.0-${installed.componentSha256.slice(0, 12)}`, ...['dist', 'dist/plugin.wasm', 'package.json'].map((f) => `notes/1.0.0-${installed.componentSha256.slice(0, 12)}/${f}`)]);

    const again = await open();
    expect((await again.loadInstalled()).loaded.map((p) => p.id)).toEqual(['notes']);
    await expect(again.callTool('count_words', { text: 'installed and running' })).resolves.toMatchObject({ words: 3 });
  });

  it('records the origin a config default stands for when the manifest is granted, and loads with it', async () => {
    await freshHome();
    const host = await open();
    const dir = await notesAt('1.0.0', (a) => {
      a.capabilities = { storage: true, http: ['{{ config.baseUrl }}'] };
      a.configSchema = { type: 'object', properties: { baseUrl: { type: 'string', default: 'https://api.example.com/v1' } } };
    });
    const installed = await host.registry.install(dir, { grant: 'manifest' });
    expect(installed.grant.http).toEqual(['https://api.example.com']);
    const again = await open();
    const { loaded, failed } = await again.loadInstalled();
    expect(failed).toEqual([]);
    expect(loaded.map((p) => p.id)).toEqual(['notes']);
  });

  it('from a tarball made by npm pack', async () => {
    await freshHome();
    const host = await open();
    const tgz = await pack(await notesAt('1.1.0'));
    expect((await host.registry.install(tgz, { grant: 'manifest' })).version).toBe('1.1.0');
  });

  it('from an npm spec (a tarball path, through the npm client)', async () => {
    await freshHome();
    const host = await open();
    const tgz = await pack(await notesAt('1.2.0'));
    const progress: string[] = [];
    const installed = await host.registry.install(`npm:${tgz}`, { grant: 'manifest', onProgress: (m) => progress.push(m) });
    expect(installed).toMatchObject({ version: '1.2.0', source: `npm:${tgz}` });
    expect(progress[0]).toContain('with npm');
  });

  it('from a git URL at a tag', async () => {
    await freshHome();
    const repo = join(work, 'repo');
    await mkdir(join(repo, 'dist'), { recursive: true });
    const v1 = await notesAt('2.0.0');
    await copyFile(join(v1, 'package.json'), join(repo, 'package.json'));
    await copyFile(join(v1, 'dist/plugin.wasm'), join(repo, 'dist/plugin.wasm'));
    const git = (...args: string[]) => run('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args]);
    await git('init', '--quiet');
    await git('add', '.');
    await git('commit', '--quiet', '-m', 'v2.0.0');
    await git('tag', 'v2.0.0');
    const host = await open();
    expect(await host.registry.install(`git+file://${repo}#v2.0.0`, { grant: 'manifest' })).toMatchObject({ id: 'notes', version: '2.0.0' });
  });
});

describe('refusals before anything is committed', () => {
  async function refused(source: string, code: string, message: string, options = {}) {
    const host = await open();
    const err = await rejection(host.registry.install(source, { grant: 'manifest', ...options }));
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
    expect(host.registry.list()).toEqual([]);
    expect(await tree(join(home, 'plugins'))).toEqual([]);
    expect(await tree(join(home, 'staging'))).toEqual([]);
    return err;
  }

  it('a required plugin that is missing or at the wrong version', async () => {
    await freshHome();
    const err = await refused(await notesAt('1.0.0', (a) => (a.requires = { 'auth-device-flow': '^1.0.0' })), 'DEPENDENCY_MISSING', 'requires auth-device-flow ^1.0.0, but auth-device-flow is not installed');
    expect(err.hint).toContain('Install auth-device-flow first');
  });

  it('a host range this host is not in', async () => {
    await freshHome();
    const dir = await notesAt('1.0.0');
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    pkg.engines = { airlock: '>=9.0.0' };
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
    await refused(dir, 'PLUGIN_INCOMPATIBLE', 'needs an Airlock host >=9.0.0');
  });

  it('a component of another kind than the manifest says', async () => {
    await freshHome();
    await refused(await notesAt('1.0.0', (a) => (a.kind = 'provider')), 'COMPONENT_INVALID', 'is a provider plugin by its manifest, but its component exports tool');
  });

  it('a package without its component', async () => {
    await freshHome();
    const dir = await notesAt('1.0.0');
    await rm(join(dir, 'dist'), { recursive: true });
    await refused(dir, 'COMPONENT_INVALID', 'has no component at dist/plugin.wasm');
  });

  it('a grant that does not cover the manifest', async () => {
    await freshHome();
    await refused(await notesAt('1.0.0'), 'CAPABILITY_NOT_GRANTED', 'asks for storage', { grant: {} });
  });

  it('an archive with an entry that escapes the target (zip-slip)', async () => {
    await freshHome();
    const tgz = join(work, 'evil.tgz');
    await writeFile(tgz, gzipSync(tar([['package/package.json', '{}'], ['package/../../evil.txt', 'pwned']])));
    await refused(tgz, 'ARCHIVE_UNSAFE', '../../evil.txt');
    expect(await readdir(join(home, '..')).then((f) => f.includes('evil.txt'))).toBe(false);
  });

  it('a second install of an installed plugin', async () => {
    await freshHome();
    const host = await open();
    await host.registry.install(await notesAt('1.0.0'), { grant: 'manifest' });
    const err = await rejection(host.registry.install(await notesAt('1.0.1'), { grant: 'manifest' }));
    expect(err.code).toBe('PLUGIN_ALREADY_INSTALLED');
    expect(err.hint).toContain('airlock plugin update notes');
  });
});

/** A minimal ustar archive of regular files. */
function tar(files: [string, string][]): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, text] of files) {
    const body = Buffer.from(text);
    const header = Buffer.alloc(512);
    header.write(name, 0, 100);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

describe('a crash at any point leaves the old state or the new one', () => {
  const steps = ['fetched', 'verified', 'staged', 'committed'] as const;

  it.each(steps)('install killed after %s', async (step) => {
    await freshHome();
    const source = await notesAt('1.0.0', () => {}, `crash-install-${step}`);
    const out = await run(process.execPath, [child, home, componentCacheDir, 'install', source, step]).catch((e: { signal?: string }) => e);
    expect((out as { signal?: string }).signal).toBe('SIGKILL');
    const host = await open();
    const expectInstalled = step === 'committed';
    expect(host.registry.list().map((p) => p.version)).toEqual(expectInstalled ? ['1.0.0'] : []);
    expect(await tree(join(home, 'staging'))).toEqual([]);
    const versions = await tree(join(home, 'plugins', 'notes')).then((t) => t.filter((f) => !f.includes('/')));
    expect(versions).toHaveLength(expectInstalled ? 1 : 0);
    if (expectInstalled) {
      await host.loadInstalled();
      await expect(host.callTool('count_words', { text: 'survived' })).resolves.toMatchObject({ words: 1 });
    }
  });

  it.each(steps)('update killed after %s', async (step) => {
    await freshHome();
    const first = await open();
    await first.registry.install(await notesAt('1.0.0', () => {}, `crash-v1-${step}`), { grant: 'manifest' });
    await first.close();
    const v2 = await pluginVariant(notes, join(work, `crash-v2-${step}`), (pkg) => {
      (pkg as { version?: string }).version = '2.0.0';
    });
    // A different build: the same component with a byte appended in a custom section would change the hash; a new version folder is enough.
    const out = await run(process.execPath, [child, home, componentCacheDir, 'update:notes', v2, step]).catch((e: { signal?: string }) => e);
    expect((out as { signal?: string }).signal).toBe('SIGKILL');
    const host = await open();
    const version = step === 'committed' ? '2.0.0' : '1.0.0';
    expect(host.registry.list().map((p) => p.version)).toEqual([version]);
    const folders = await tree(join(home, 'plugins', 'notes')).then((t) => t.filter((f) => !f.includes('/')));
    expect(folders).toEqual([expect.stringMatching(new RegExp(`^${version.replace(/\./g, '\\.')}-`))]);
    expect((await host.loadInstalled()).loaded.map((p) => p.version)).toEqual([version]);
  });
});

describe('integrity and signatures', () => {
  it('refuses to load a component changed after install, and verify says so', async () => {
    await freshHome();
    const host = await open();
    const installed = await host.registry.install(await notesAt('1.0.0'), { grant: 'manifest' });
    const file = join(host.registry.dir(installed), 'dist/plugin.wasm');
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = bytes.at(-1)! ^ 0xff;
    await writeFile(file, bytes);
    const again = await open();
    const { loaded, failed } = await again.loadInstalled();
    expect(loaded).toEqual([]);
    expect(failed[0]!.error.code).toBe('INTEGRITY_FAILED');
    expect(failed[0]!.error.message).toContain('changed since it was installed');
    expect(await again.registry.verify('notes')).toMatchObject([{ id: 'notes', componentIntact: false, manifestIntact: true, ok: false }]);
  });

  it('refuses a manifest changed after install (more capabilities)', async () => {
    await freshHome();
    const host = await open();
    const installed = await host.registry.install(await notesAt('1.0.0'), { grant: 'manifest' });
    const file = join(host.registry.dir(installed), 'package.json');
    const pkg = JSON.parse(await readFile(file, 'utf8'));
    pkg.airlock.capabilities.env = ['HOME'];
    await writeFile(file, JSON.stringify(pkg));
    const { failed } = await (await open()).loadInstalled();
    expect(failed[0]!.error.code).toBe('INTEGRITY_FAILED');
  });

  it('signed by a trusted key installs; unsigned, wrong key and manifest-changed-after-signing do not under requireSigned', async () => {
    await freshHome();
    const publisher = generateKeyPair();
    const stranger = generateKeyPair();
    const host = await open({ trust: { keys: [publisher.publicKey], requireSigned: true } });

    const signed = await notesAt('1.0.0', () => {}, 'signed');
    await signPackage(signed, publisher.privateKey);
    const unsigned = await notesAt('1.0.0', () => {}, 'unsigned');
    const wrongKey = await notesAt('1.0.0', () => {}, 'wrong-key');
    await signPackage(wrongKey, stranger.privateKey);
    const changed = await notesAt('1.0.0', () => {}, 'changed');
    await signPackage(changed, publisher.privateKey);
    const pkg = JSON.parse(await readFile(join(changed, 'package.json'), 'utf8'));
    pkg.airlock.capabilities.http = ['https://exfiltrate.example.com'];
    await writeFile(join(changed, 'package.json'), JSON.stringify(pkg));

    expect((await rejection(host.registry.install(unsigned, { grant: 'manifest' }))).code).toBe('SIGNATURE_REQUIRED');
    expect((await rejection(host.registry.install(wrongKey, { grant: 'manifest' }))).code).toBe('SIGNATURE_REQUIRED');
    const tamperedErr = await rejection(host.registry.install(changed, { grant: 'manifest' }));
    expect(tamperedErr.code).toBe('SIGNATURE_INVALID');
    expect(tamperedErr.message).toContain('manifest changed after signing');
    expect(await host.registry.install(signed, { grant: 'manifest' })).toMatchObject({ signature: { status: 'signed', keyId: publisher.keyId } });
    expect((await host.registry.verify())[0]).toMatchObject({ ok: true, signature: { status: 'signed' } });
  });

  it('installs unsigned plugins with a warning when signatures are not required', async () => {
    await freshHome();
    const warnings: string[] = [];
    const host = await open({ logger: (e) => e.level === 'warn' && warnings.push(e.message) });
    await host.registry.install(await notesAt('1.0.0'), { grant: 'manifest' });
    expect(warnings.join('\n')).toContain('plugin `notes` is not signed');
  });
});

describe('updates', () => {
  it('shows what a new version asks for beyond the grant, and waits for consent', async () => {
    await freshHome();
    const host = await open();
    await host.registry.install(await notesAt('1.0.0'), { grant: 'manifest' });
    const v2 = await notesAt('2.0.0', (a) => {
      (a.capabilities as Record<string, unknown>).http = ['https://api.example.com'];
      (a.capabilities as Record<string, unknown>).env = ['NOTES_*'];
    });
    const plan = await host.registry.update('notes', v2);
    expect(plan).toMatchObject({ from: '1.0.0', to: '2.0.0', needsConsent: true, added: { storage: false, http: ['https://api.example.com'], env: ['NOTES_*'], filesystem: [], credentials: [] } });
    const err = await rejection(plan.apply());
    expect(err.code).toBe('CONSENT_REQUIRED');
    expect(err.message).toContain('http https://api.example.com, env NOTES_*');
    expect(host.registry.get('notes')!.version).toBe('1.0.0');
    const updated = await plan.apply({ grant: 'manifest' });
    expect(updated).toMatchObject({ version: '2.0.0', grant: { http: ['https://api.example.com'], env: ['NOTES_*'] } });
    expect(await tree(join(home, 'staging'))).toEqual([]);
  });

  it('needs no consent when the new version asks for nothing new', async () => {
    await freshHome();
    const host = await open();
    await host.registry.install(await notesAt('1.0.0'), { grant: 'manifest' });
    const plan = await host.registry.update('notes', await notesAt('1.0.1'));
    expect(plan.needsConsent).toBe(false);
    expect((await plan.apply()).version).toBe('1.0.1');
  });

  it('keeps the old version, loaded and serving, when the new one is broken', async () => {
    await freshHome();
    const host = await open();
    await host.registry.install(await notesAt('1.0.0'), { grant: 'manifest' });
    await host.loadInstalled();
    await host.callTool('add_note', { title: 'kept', body: 'across the failed update' });
    const broken = await notesAt('2.0.0', () => {}, 'broken');
    await writeFile(join(broken, 'dist/plugin.wasm'), Buffer.from('not a component'));
    const err = await rejection(host.registry.update('notes', broken));
    expect(err.code).toBe('COMPONENT_INVALID');
    expect(host.registry.get('notes')!.version).toBe('1.0.0');
    expect(host.plugins().map((p) => p.version)).toEqual(['1.0.0']);
    await expect(host.callTool('get_note', { id: 1 })).resolves.toMatchObject({ title: 'kept' });
    expect(await tree(join(home, 'staging'))).toEqual([]);
  });

  it('hot-reloads a loaded plugin: calls in flight finish on the old instance, new calls reach the new one', async () => {
    await freshHome();
    const host = await open();
    const v1 = await pluginVariant(misbehaving, join(work, 'mis-v1'), (pkg) => ((pkg as { version?: string }).version = '1.0.0'));
    const v2 = await pluginVariant(misbehaving, join(work, 'mis-v2'), (pkg) => ((pkg as { version?: string }).version = '2.0.0'));
    await host.registry.install(v1, { grant: 'manifest' });
    await host.loadInstalled();
    const before = (await host.callTool('sleep', { ms: 0 })) as { instance: string };
    const reloaded: string[] = [];
    host.on('plugin-reloaded', (p) => reloaded.push(p.version));
    const inFlight = [host.callTool('sleep', { ms: 400 }), host.callTool('sleep', { ms: 10 })];
    const plan = await host.registry.update('misbehaving', v2);
    await plan.apply();
    expect(reloaded).toEqual(['2.0.0']);
    const after = (await host.callTool('sleep', { ms: 0 })) as { instance: string };
    const finished = (await Promise.all(inFlight)) as { instance: string }[];
    expect(finished.map((r) => r.instance)).toEqual([before.instance, before.instance]);
    expect(after.instance).not.toBe(before.instance);
    expect(host.plugins().map((p) => p.version)).toEqual(['2.0.0']);
  });
});

describe('enable, disable, remove', () => {
  it('checks dependents, emits an event for every transition, and keeps stored data on remove', async () => {
    await freshHome();
    const host = await open();
    const events: string[] = [];
    for (const e of ['plugin-installed', 'plugin-enabled', 'plugin-disabled', 'plugin-removed'] as const) host.on(e, (p) => events.push(`${e.slice(7)} ${p.id}`));
    await host.registry.install(await notesAt('1.0.0'), { grant: 'manifest' });
    const dependent = await pluginVariant(misbehaving, join(work, 'needs-notes'), (pkg) => {
      pkg.name = 'needs-notes';
      pkg.airlock.requires = { notes: '^1.0.0' };
    });
    await host.registry.install(dependent, { grant: 'manifest' });

    const refusal = await rejection(host.registry.remove('notes'));
    expect(refusal.code).toBe('DEPENDENTS_EXIST');
    expect(refusal.message).toBe('cannot remove `notes`: needs-notes requires it');
    expect((await rejection(host.registry.disable('notes'))).code).toBe('DEPENDENTS_EXIST');

    await host.registry.disable('needs-notes');
    await host.registry.disable('notes');
    expect((await rejection(host.registry.enable('needs-notes'))).code).toBe('DEPENDENCY_MISSING');
    expect((await host.loadInstalled()).loaded).toEqual([]);
    await host.registry.enable('notes');
    await host.loadInstalled();
    await host.callTool('add_note', { title: 'data', body: 'outlives the plugin' });
    await host.registry.remove('notes', { force: true });
    expect(host.plugins()).toEqual([]);
    expect(host.registry.list().map((p) => p.id)).toEqual(['needs-notes']);
    await host.registry.install(await notesAt('1.0.0', () => {}, 'notes-again'), { grant: 'manifest' });
    await host.loadInstalled();
    await expect(host.callTool('get_note', { id: 1 })).resolves.toMatchObject({ title: 'data' });
    expect(events).toEqual([
      'installed notes',
      'installed needs-notes',
      'disabled needs-notes',
      'disabled notes',
      'enabled notes',
      'removed notes',
      'installed notes',
    ]);
  });
});

describe('risk levels weighed against the grant', () => {
  const spinWat = new URL('../fixtures/spin-wat', import.meta.url).pathname;

  it('a tool plugin whose only tool says read-only while it holds network access is flagged at install and by verify; a refusing policy fails it', async () => {
    await freshHome();
    const warnings: string[] = [];
    const host = await open({ logger: (e) => e.level === 'warn' && warnings.push(e.message) });
    const dir = await pluginVariant(spinWat, join(work, 'quiet-fetcher'), (pkg) => {
      pkg.name = 'quiet-fetcher';
      pkg.airlock.capabilities = { http: ['https://api.example.com'] };
    });
    const installed = await host.registry.install(dir, { grant: 'manifest' });
    expect(installed.tools).toEqual([{ name: 'spin', risk: 'read-only' }]);
    const understated = 'every tool of `quiet-fetcher` says it is read-only, but the plugin holds network access, which can change things';
    expect(warnings).toContain(`${understated}: check its tools' risk levels before granting it more`);

    const [report] = await host.registry.verify('quiet-fetcher');
    expect(report).toMatchObject({ understatedRisk: understated, ok: true });

    // The rule is the host's: the same home under a refusing policy fails verification, and the plugin does not load.
    await host.close();
    const strict = await open({ policy: { understatedRisk: 'refuse' } });
    expect(await strict.registry.verify('quiet-fetcher')).toMatchObject([{ understatedRisk: understated, componentIntact: true, ok: false }]);
    const { failed } = await strict.loadInstalled();
    expect(failed.map((f) => [f.id, f.error.code])).toEqual([['quiet-fetcher', 'POLICY_REFUSED']]);
    await strict.close();

    // Without the grant that can change things, nothing is understated.
    const lenient = await open();
    lenient.registry.setGrant('quiet-fetcher', {});
    const [after] = await lenient.registry.verify('quiet-fetcher');
    expect(after).not.toHaveProperty('understatedRisk');
    expect(after!.ok).toBe(true);
    // Under `allow`, it is not reported.
    await lenient.close();
    const allowing = await open({ policy: { understatedRisk: 'allow' } });
    allowing.registry.setGrant('quiet-fetcher', { http: ['https://api.example.com'] });
    expect((await allowing.registry.verify('quiet-fetcher'))[0]).not.toHaveProperty('understatedRisk');
  });
});

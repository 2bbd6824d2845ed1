// Stored data belongs to the package that wrote it (its package name and
// signing key), not to the plugin id its manifest claims: another package
// installed, updated or loaded under the same id starts with empty storage
// and cannot read what the first one stored, unless the data is handed over
// (`keepData`); the same package finds its data again; a purge deletes it,
// and a purge cut short by a crash is finished at the next open.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHost, generateKeyPair, openSqliteStorage, signPackage, type DataOffer, type Host, type StorageAdapter } from '@airlock/host';
import { pluginVariant, rejection } from '@airlock/test-utils';

const run = promisify(execFile);
const notes = new URL('../../../plugins/notes', import.meta.url).pathname;
const child = new URL('./data-child.mjs', import.meta.url).pathname;
const NOTES = '@airlock/example-notes';

let work: string;
let home: string;
let variants = 0;
/** One component cache for every host of this file (see install.test.ts): each test starts from a new home. */
let componentCacheDir: string;
const hosts: Host[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'airlock-data-work-'));
  componentCacheDir = join(work, 'component-cache');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  await rm(home, { recursive: true, force: true });
});

async function open(options: Partial<Parameters<typeof createHost>[0]> = {}): Promise<Host> {
  home ??= await mkdtemp(join(tmpdir(), 'airlock-data-home-'));
  const host = await createHost({ home, logger: () => {}, componentCacheDir, ...options });
  hosts.push(host);
  return host;
}

async function freshHome(): Promise<void> {
  home = await mkdtemp(join(tmpdir(), 'airlock-data-home-'));
}

/**
 * The notes plugin (same component, manifest id `notes`) as package `name` at
 * `version`, signed with `key` when given: the original, an update, or
 * another package claiming the same id.
 */
async function notesPackage(name: string, version: string, key?: string): Promise<string> {
  const dir = await pluginVariant(notes, join(work, `v${++variants}`), (pkg) => {
    pkg.name = name;
    (pkg as { version?: string }).version = version;
  });
  if (key) await signPackage(dir, key);
  return dir;
}

/** Install `dir`, load what is installed, and return the host. */
async function installAndLoad(host: Host, dir: string, options: { keepData?: boolean | ((offer: DataOffer) => boolean) } = {}): Promise<Host> {
  await host.registry.install(dir, { grant: 'manifest', ...options });
  const { failed } = await host.loadInstalled();
  expect(failed).toEqual([]);
  return host;
}

/** The namespaces holding data in `<home>/storage.db`, read past the host: what a purge must have deleted. */
function namespacesOnDisk(): string[] {
  const storage = openSqliteStorage(join(home, 'storage.db'));
  try {
    return storage.namespaces!() as string[];
  } finally {
    storage.close();
  }
}

const titles = async (host: Host) => ((await host.callTool('list_notes', {})) as { title: string }[]).map((n) => n.title);

describe('another package under the same id', () => {
  it('starts with empty storage and cannot read what the removed plugin stored; the original finds its data again', async () => {
    await freshHome();
    const host = await open();
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    await host.callTool('add_note', { title: 'secret', body: 'of the original' });
    await host.registry.remove('notes');
    expect(await host.registry.storedData('notes')).toMatchObject([{ id: 'notes', owner: { package: NOTES, keyId: null }, inUse: false, keptSince: expect.any(Number), keys: 2 }]);

    await installAndLoad(host, await notesPackage('@evil/notes', '1.0.0'));
    expect(await titles(host)).toEqual([]);
    const missing = await rejection(host.callTool('get_note', { id: 1 }));
    expect(missing.message).toContain('no note with id 1');
    // The integrator's view of `notes` is the installed plugin's: empty too.
    expect(await host.storageOf('notes').keys()).toEqual([]);
    await host.callTool('add_note', { title: 'mine', body: 'of the stranger' });
    expect(await host.registry.storedData('notes')).toMatchObject([
      { owner: { package: '@evil/notes', keyId: null }, inUse: true, keptSince: null, keys: 2 },
      { owner: { package: NOTES, keyId: null }, inUse: false, keys: 2 },
    ]);

    await host.registry.remove('notes');
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    expect(await titles(host)).toEqual(['secret']);
    expect(await host.registry.storedData('notes')).toMatchObject([
      { owner: { package: NOTES }, inUse: true, keys: 2 },
      { owner: { package: '@evil/notes' }, inUse: false, keys: 2 },
    ]);
  });

  it('signed with another key, or unsigned where the original was signed, is another package', async () => {
    await freshHome();
    const publisher = generateKeyPair();
    const other = generateKeyPair();
    const host = await open({ trust: { keys: [publisher.publicKey] } });
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0', publisher.privateKey));
    await host.callTool('add_note', { title: 'signed', body: 'by the publisher' });
    await host.registry.remove('notes');

    // Same name, another key (not even trusted: its key id is still who it is).
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0', other.privateKey));
    expect(await titles(host)).toEqual([]);
    await host.registry.remove('notes');

    // Same name, unsigned.
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    expect(await titles(host)).toEqual([]);
    await host.registry.remove('notes');

    // Same name, same key: the publisher's data.
    await installAndLoad(host, await notesPackage(NOTES, '1.0.1', publisher.privateKey));
    expect(await titles(host)).toEqual(['signed']);
    expect((await host.registry.storedData('notes')).filter((d) => d.inUse)).toMatchObject([{ owner: { package: NOTES, keyId: publisher.keyId }, keys: 2 }]);
  });

  it('loaded from a directory (host.load, `airlock --plugin`) gets storage of its own too', async () => {
    await freshHome();
    const host = await open();
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    await host.callTool('add_note', { title: 'installed', body: 'data' });
    await host.close();

    const stranger = await open();
    await stranger.load(await notesPackage('@evil/notes', '9.9.9'), { grant: 'manifest' });
    expect(await titles(stranger)).toEqual([]);
    await stranger.close();

    // The same package, from a directory: its own data.
    const same = await open();
    await same.load(await notesPackage(NOTES, '1.0.0'), { grant: 'manifest' });
    expect(await titles(same)).toEqual(['installed']);
  });

  it('does not get data stored under its id with no recorded owner (host 0.1, through an adapter that cannot list namespaces)', async () => {
    await freshHome();
    const memory = new Map<string, Uint8Array>();
    const adapter: StorageAdapter = {
      get: (ns, key) => memory.get(`${ns}\0${key}`),
      set: (ns, key, value) => {
        memory.set(`${ns}\0${key}`, value);
        return 'ok';
      },
      delete: (ns, key) => memory.delete(`${ns}\0${key}`),
      list: (ns, prefix) => [...memory.keys()].filter((k) => k.startsWith(`${ns}\0${prefix}`)).map((k) => k.slice(ns.length + 1)).sort(),
      usage: (ns) => [...memory].filter(([k]) => k.startsWith(`${ns}\0`)).reduce((n, [k, v]) => n + k.length - ns.length - 1 + v.byteLength, 0),
      close: () => {},
    };
    adapter.set('notes', 'meta:last-id', new TextEncoder().encode('1'), Infinity);
    adapter.set('notes', 'note:0000000001', new TextEncoder().encode('{"id":1,"title":"legacy","body":"","tags":[],"createdAt":"2026-01-01T00:00:00.000Z"}'), Infinity);
    const host = await open({ storage: adapter });
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    expect(await titles(host)).toEqual([]);
    expect(await host.registry.storedData('notes')).toMatchObject([
      { owner: { package: NOTES }, inUse: true, keys: 0 },
      { namespace: 'notes', owner: { package: null, keyId: null }, inUse: false, keys: 2 },
    ]);
    // Handed over on request, like any kept data.
    await host.registry.remove('notes');
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'), { keepData: true });
    expect(await titles(host)).toEqual(['legacy']);
  });
});

describe('updates', () => {
  it('of the same package (same name, same key) keep the data', async () => {
    await freshHome();
    const publisher = generateKeyPair();
    const host = await open();
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0', publisher.privateKey));
    await host.callTool('add_note', { title: 'kept', body: 'across updates' });
    const plan = await host.registry.update('notes', await notesPackage(NOTES, '1.1.0', publisher.privateKey));
    expect(plan).toMatchObject({ ownerChanged: false, owner: { from: { package: NOTES, keyId: publisher.keyId }, to: { package: NOTES, keyId: publisher.keyId } }, data: { keys: 2, inUse: true } });
    await plan.apply();
    expect(host.plugins().map((p) => p.version)).toEqual(['1.1.0']);
    expect(await titles(host)).toEqual(['kept']);
  });

  it('to another signing key do not carry the data over unless asked; the old owner keeps it', async () => {
    await freshHome();
    const publisher = generateKeyPair();
    const other = generateKeyPair();
    const host = await open();
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0', publisher.privateKey));
    await host.callTool('add_note', { title: 'publisher', body: 'data' });

    const plan = await host.registry.update('notes', await notesPackage(NOTES, '2.0.0', other.privateKey));
    expect(plan).toMatchObject({ ownerChanged: true, owner: { from: { keyId: publisher.keyId }, to: { keyId: other.keyId } }, data: { keys: 2 } });
    await plan.apply();
    // Hot-reloaded in place, on storage of its own.
    expect(host.plugins().map((p) => p.version)).toEqual(['2.0.0']);
    expect(await titles(host)).toEqual([]);
    expect(await host.registry.storedData('notes')).toMatchObject([
      { owner: { keyId: other.keyId }, inUse: true, keys: 0 },
      { owner: { keyId: publisher.keyId }, inUse: false, keptSince: expect.any(Number), keys: 2 },
    ]);

    // Back to the publisher's key: its data again.
    await (await host.registry.update('notes', await notesPackage(NOTES, '3.0.0', publisher.privateKey))).apply();
    expect(await titles(host)).toEqual(['publisher']);

    // To another name, handing the data over.
    const handed = await host.registry.update('notes', await notesPackage('@acme/notes', '4.0.0', publisher.privateKey));
    expect(handed.ownerChanged).toBe(true);
    await handed.apply({ keepData: true });
    expect(await titles(host)).toEqual(['publisher']);
    expect(await host.registry.storedData('notes')).toMatchObject([{ owner: { package: '@acme/notes', keyId: publisher.keyId }, inUse: true, keys: 2 }]);
  });
});

describe('keepData', () => {
  it('hands the kept data of another package to the one installed, after showing whose it is', async () => {
    await freshHome();
    const host = await open();
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    await host.callTool('add_note', { title: 'handed', body: 'over' });
    await host.registry.remove('notes');

    // Asked and declined: empty storage, the data stays kept for its owner.
    const offers: DataOffer[] = [];
    await installAndLoad(host, await notesPackage('@acme/notes', '1.0.0'), { keepData: (offer) => (offers.push(offer), false) });
    expect(offers).toMatchObject([{ data: { id: 'notes', owner: { package: NOTES, keyId: null }, keys: 2 }, to: { package: '@acme/notes', keyId: null } }]);
    expect(await titles(host)).toEqual([]);
    await host.registry.remove('notes');

    // Accepted: the data is the new package's now.
    await installAndLoad(host, await notesPackage('@acme/notes', '1.0.0'), { keepData: () => true });
    expect(await titles(host)).toEqual(['handed']);
    expect(await host.registry.storedData('notes')).toMatchObject([{ owner: { package: '@acme/notes' }, inUse: true, keys: 2 }]);
    await host.registry.remove('notes');

    // So the original no longer has it.
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    expect(await titles(host)).toEqual([]);
  });

  it('is not asked when the package has data of its own', async () => {
    await freshHome();
    const host = await open();
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    await host.callTool('add_note', { title: 'own', body: '' });
    await host.registry.remove('notes');
    await installAndLoad(host, await notesPackage('@acme/notes', '1.0.0'));
    await host.callTool('add_note', { title: 'acme', body: '' });
    await host.registry.remove('notes');
    let asked = false;
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'), { keepData: () => (asked = true) });
    expect(asked).toBe(false);
    expect(await titles(host)).toEqual(['own']);
  });
});

describe('purge', () => {
  it('remove with purge deletes the plugin’s data and what is kept under its id; adding it again starts empty', async () => {
    await freshHome();
    const host = await open();
    await installAndLoad(host, await notesPackage('@acme/notes', '1.0.0'));
    await host.callTool('add_note', { title: 'acme', body: '' });
    await host.registry.remove('notes');
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    await host.callTool('add_note', { title: 'gone', body: 'soon' });
    expect(namespacesOnDisk()).toHaveLength(2);
    await host.registry.remove('notes', { purge: true });
    expect(await host.registry.storedData()).toEqual([]);
    expect(namespacesOnDisk()).toEqual([]);
    for (const name of [NOTES, '@acme/notes']) {
      await installAndLoad(host, await notesPackage(name, '1.0.0'));
      expect(await titles(host)).toEqual([]);
      await host.registry.remove('notes', { purge: true });
    }
  });

  it('of an id that is not installed deletes the data kept under it', async () => {
    await freshHome();
    const host = await open();
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    await host.callTool('add_note', { title: 'kept', body: '' });
    await host.registry.remove('notes');
    expect(await host.registry.purge('notes')).toMatchObject([{ owner: { package: NOTES }, keys: 2 }]);
    expect(await host.registry.storedData()).toEqual([]);
    expect(namespacesOnDisk()).toEqual([]);
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    expect(await titles(host)).toEqual([]);
  });

  it('killed while deleting the data is finished at the next open', async () => {
    await freshHome();
    const first = await open();
    await installAndLoad(first, await notesPackage(NOTES, '1.0.0'));
    await first.callTool('add_note', { title: 'doomed', body: '' });
    await first.close();
    const out = await run(process.execPath, [child, home, componentCacheDir, 'notes']).catch((e: { signal?: string }) => e);
    expect((out as { signal?: string }).signal).toBe('SIGKILL');
    // Killed after the purge was recorded, before any data was deleted.
    expect(namespacesOnDisk()).toEqual(['notes']);

    const host = await open();
    expect(host.registry.list()).toEqual([]);
    expect(await host.registry.storedData()).toEqual([]);
    expect(namespacesOnDisk()).toEqual([]);
    await installAndLoad(host, await notesPackage(NOTES, '1.0.0'));
    expect(await titles(host)).toEqual([]);
  });
});

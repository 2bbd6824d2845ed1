// Stored data belongs to the package that wrote it, recorded in state.db
// (`data_owners`). What needs no component: the owners recorded for a home
// written before owners were, purging data kept for an id nobody has
// installed, finishing a purge that a crash cut short, and the adapter's
// one-transaction `clear`. Installing, updating and loading packages over
// kept data is tested with real components in
// tools/sandbox-tests/test/data-ownership.test.ts.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHost, openSqliteStorage } from '../../src/index.js';
import { InstallState } from '../../src/install/state.js';

const fixture = new URL('../fixtures/home-0.1.0/', import.meta.url);
const bytes = (text: string) => new TextEncoder().encode(text);
const notesPackage = { package: '@airlock/example-notes', keyId: null };

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-data-owners-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Write to `<home>/storage.db` directly, as host 0.1 (or a host that crashed) left it. */
async function store(namespace: string, entries: Record<string, string>): Promise<void> {
  const storage = openSqliteStorage(join(home, 'storage.db'));
  for (const [key, value] of Object.entries(entries)) storage.set(namespace, key, bytes(value), Number.MAX_SAFE_INTEGER);
  storage.close();
}

async function keysIn(namespace: string): Promise<string[]> {
  const storage = openSqliteStorage(join(home, 'storage.db'));
  try {
    return await storage.list(namespace, '');
  } finally {
    storage.close();
  }
}

describe('a home written before owners were recorded (host 0.1.0)', () => {
  beforeEach(async () => {
    await cp(fixture, home, { recursive: true });
    // Data of a plugin removed under host 0.1: nothing says which package wrote it.
    await store('weather', { 'city': '"Lyon"' });
  });

  it('gives the data under an installed id to that plugin, and data under no installed id to nobody', async () => {
    const host = await createHost({ home, logger: () => {} });
    try {
      expect(await host.registry.storedData()).toEqual([
        { id: 'notes', namespace: 'notes', owner: notesPackage, inUse: true, keptSince: null, keys: 3, bytes: 287 },
        { id: 'provider-openai', namespace: 'provider-openai', owner: { package: '@airlock/provider-openai', keyId: null }, inUse: true, keptSince: null, keys: 0, bytes: 0 },
        { id: 'weather', namespace: 'weather', owner: { package: null, keyId: null }, inUse: false, keptSince: expect.any(Number), keys: 1, bytes: 'city'.length + '"Lyon"'.length },
      ]);
      // The installed plugin reads its data where it always was.
      expect(await host.storageOf('notes').keys()).toEqual(['meta:last-id', 'note:0000000001', 'note:0000000002']);
    } finally {
      await host.close();
    }
  });

  it('records owners once: a second open changes nothing', async () => {
    const first = await createHost({ home, logger: () => {} });
    const recorded = await first.registry.storedData();
    await first.close();
    // Written after owners were recorded, under an id no package is recorded for (as `storageOf` seeds it).
    await store('seeded', { k: 'v' });
    const second = await createHost({ home, logger: () => {} });
    try {
      expect(await second.registry.storedData()).toEqual(recorded);
      expect(await second.storageOf('seeded').keys()).toEqual(['k']);
    } finally {
      await second.close();
    }
  });

  it('purges the data kept for an id that is not installed, and leaves the data of an installed plugin alone', async () => {
    const host = await createHost({ home, logger: () => {} });
    try {
      const purged = await host.registry.purge('weather');
      expect(purged).toMatchObject([{ id: 'weather', owner: { package: null, keyId: null }, keys: 1 }]);
      expect(await host.registry.storedData('weather')).toEqual([]);
      expect(await host.storageOf('weather').keys()).toEqual([]);
      // `notes` is installed: purge only deletes data kept for packages that are not.
      expect(await host.registry.purge('notes')).toEqual([]);
      expect(await host.storageOf('notes').keys()).toHaveLength(3);
      expect(await host.registry.purge('nothing-here')).toEqual([]);
    } finally {
      await host.close();
    }
    expect(await keysIn('weather')).toEqual([]);
    expect(await keysIn('notes')).toHaveLength(3);
  });
});

describe('a purge cut short', () => {
  it('is finished when the host next opens: the data is deleted, then its record', async () => {
    await (await createHost({ home, logger: () => {} })).close();
    await store('notes', { 'note:1': '"secret"', 'meta:last-id': '1' });
    // What the purge's transaction leaves when the process dies right after it: the row marked, the data still there.
    const state = new InstallState(join(home, 'state.db'));
    state.atomic(() => {
      state.addSlot({ namespace: 'notes', id: 'notes', owner: notesPackage, createdAt: 1, keptSince: 1 });
      expect(state.markPurging('notes').map((s) => s.namespace)).toEqual(['notes']);
    });
    state.close();
    expect(await keysIn('notes')).toEqual(['meta:last-id', 'note:1']);

    const host = await createHost({ home, logger: () => {} });
    try {
      expect(await host.registry.storedData()).toEqual([]);
      expect(await host.storageOf('notes').keys()).toEqual([]);
    } finally {
      await host.close();
    }
    expect(await keysIn('notes')).toEqual([]);
    const after = new InstallState(join(home, 'state.db'));
    try {
      expect(after.slotAt('notes')).toBeUndefined();
      expect(after.purging()).toEqual([]);
    } finally {
      after.close();
    }
  });

  it('is not started when the crash comes before its transaction: the data stays kept for its owner', async () => {
    await (await createHost({ home, logger: () => {} })).close();
    await store('notes', { 'note:1': '"secret"' });
    const state = new InstallState(join(home, 'state.db'));
    state.addSlot({ namespace: 'notes', id: 'notes', owner: notesPackage, createdAt: 1, keptSince: 1 });
    state.close();
    const host = await createHost({ home, logger: () => {} });
    try {
      expect(await host.registry.storedData()).toMatchObject([{ id: 'notes', owner: notesPackage, inUse: false, keptSince: 1, keys: 1 }]);
    } finally {
      await host.close();
    }
  });
});

describe('the records of who owns what', () => {
  it('find a package by name and key (null: unsigned), never an unknown owner, and list in use first, then the most recently kept', () => {
    const state = new InstallState(join(home, 'state.db'));
    try {
      state.addSlot({ namespace: 'notes', id: 'notes', owner: { package: null, keyId: null }, createdAt: 1, keptSince: 1 });
      state.addSlot({ namespace: 'notes~a', id: 'notes', owner: notesPackage, createdAt: 2, keptSince: 5 });
      state.addSlot({ namespace: 'notes~b', id: 'notes', owner: { package: '@airlock/example-notes', keyId: '0123456789abcdef' }, createdAt: 3, keptSince: null });
      expect(state.slotOf('notes', notesPackage)?.namespace).toBe('notes~a');
      expect(state.slotOf('notes', { package: '@airlock/example-notes', keyId: '0123456789abcdef' })?.namespace).toBe('notes~b');
      expect(state.slotOf('notes', { package: '@airlock/example-notes', keyId: 'fedcba9876543210' })).toBeUndefined();
      expect(state.slotOf('notes', { package: null, keyId: null })).toBeUndefined();
      expect(state.slots('notes').map((s) => s.namespace)).toEqual(['notes~b', 'notes~a', 'notes']);
      // A purge spares the namespace it is told to keep (the installed plugin's).
      expect(state.markPurging('notes', 'notes~b').map((s) => s.namespace).sort()).toEqual(['notes', 'notes~a']);
      expect(state.slots('notes').map((s) => s.namespace)).toEqual(['notes~b']);
      expect(state.slotAt('notes')).toMatchObject({ purging: true });
    } finally {
      state.close();
    }
  });
});

describe('the SQLite adapter', () => {
  it('clears a namespace in one go, with its usage, and nothing else', async () => {
    const storage = openSqliteStorage(join(home, 'storage.db'));
    try {
      storage.set('a', 'k1', bytes('12345'), 1000);
      storage.set('a', 'k2', bytes('1'), 1000);
      storage.set('b', 'k1', bytes('x'), 1000);
      expect(storage.namespaces!()).toEqual(['a', 'b']);
      expect(storage.clear!('a')).toBe(2);
      expect(storage.list('a', '')).toEqual([]);
      expect(storage.usage('a')).toBe(0);
      expect(storage.list('b', '')).toEqual(['k1']);
      expect(storage.namespaces!()).toEqual(['b']);
      expect(storage.clear!('a')).toBe(0);
    } finally {
      storage.close();
    }
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORAGE_DEFAULTS, serveStorage, type StorageGrant } from '../../src/capabilities/storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import type { StorageAdapter } from '../../src/storage/adapter.js';

const bytes = (s: string) => new TextEncoder().encode(s);

let dir: string;
let adapter: StorageAdapter;
const granted: StorageGrant = { namespace: 'notes', pluginId: 'notes', quotaBytes: STORAGE_DEFAULTS.quotaBytes };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-serve-storage-'));
  adapter = openSqliteStorage(join(dir, 'storage.db'));
});

afterEach(async () => {
  await adapter.close();
  await rm(dir, { recursive: true, force: true });
});

const tagOf = (reply: unknown) => (reply as { err?: { tag: string } }).err?.tag;

describe('serveStorage', () => {
  it('serves set, get, list and delete in the grant namespace', async () => {
    expect(await serveStorage(adapter, granted, 'set', ['a', bytes('1')])).toEqual({ ok: undefined });
    expect(await serveStorage(adapter, granted, 'set', ['b', bytes('2')])).toEqual({ ok: undefined });
    const got = await serveStorage(adapter, granted, 'get', ['a']);
    expect(new TextDecoder().decode((got as { ok: Uint8Array }).ok)).toBe('1');
    expect(await serveStorage(adapter, granted, 'get', ['missing'])).toEqual({ ok: undefined });
    expect(await serveStorage(adapter, granted, 'list', [''])).toEqual({ ok: ['a', 'b'] });
    expect(await serveStorage(adapter, granted, 'delete', ['a'])).toEqual({ ok: true });
    expect(await serveStorage(adapter, granted, 'delete', ['a'])).toEqual({ ok: false });
    expect(await adapter.list('notes', '')).toEqual(['b']);
    expect(await adapter.list('other', '')).toEqual([]);
  });

  it('denies every function without a storage grant and touches nothing', async () => {
    const none: StorageGrant = { namespace: 'notes', pluginId: 'notes', quotaBytes: undefined };
    for (const [fn, args] of [
      ['get', ['a']],
      ['set', ['a', bytes('1')]],
      ['delete', ['a']],
      ['list', ['']],
    ] as const) {
      const reply = await serveStorage(adapter, none, fn, [...args]);
      expect(reply).toEqual({ err: { tag: 'denied', val: expect.stringContaining('notes') } });
    }
    expect(await adapter.list('notes', '')).toEqual([]);
  });

  it.each([
    ['an empty key', ''],
    ['a key over 512 bytes', 'k'.repeat(513)],
    ['a key over 512 UTF-8 bytes but under 512 characters', '€'.repeat(171)],
    ['a key with a NUL', 'a\0b'],
    ['a key that is not a string', 42],
  ])('rejects %s as invalid-key', async (_, key) => {
    for (const fn of ['get', 'set', 'delete']) {
      expect(tagOf(await serveStorage(adapter, granted, fn, [key, bytes('v')]))).toBe('invalid-key');
    }
    expect(await adapter.usage('notes')).toBe(0);
  });

  it('accepts a key of exactly 512 bytes', async () => {
    expect(await serveStorage(adapter, granted, 'set', ['k'.repeat(512), bytes('v')])).toEqual({ ok: undefined });
  });

  it('rejects a list prefix that is not a string', async () => {
    expect(tagOf(await serveStorage(adapter, granted, 'list', [undefined]))).toBe('invalid-key');
  });

  it('rejects a value over the size limit as value-too-large and stores nothing', async () => {
    const reply = await serveStorage(adapter, granted, 'set', ['big', new Uint8Array(STORAGE_DEFAULTS.maxValueBytes + 1)]);
    expect(reply).toEqual({ err: { tag: 'value-too-large', val: expect.stringContaining(String(STORAGE_DEFAULTS.maxValueBytes)) } });
    expect(await adapter.get('notes', 'big')).toBeUndefined();
    expect(await serveStorage(adapter, granted, 'set', ['max', new Uint8Array(STORAGE_DEFAULTS.maxValueBytes)])).toEqual({ ok: undefined });
  });

  it('reports quota-exceeded when the grant quota would be passed', async () => {
    const small: StorageGrant = { namespace: 'notes', pluginId: 'notes', quotaBytes: 16 };
    expect(await serveStorage(adapter, small, 'set', ['a', new Uint8Array(10)])).toEqual({ ok: undefined });
    const reply = await serveStorage(adapter, small, 'set', ['b', new Uint8Array(10)]);
    expect(reply).toEqual({ err: { tag: 'quota-exceeded', val: expect.stringContaining('16 bytes') } });
    expect(await adapter.get('notes', 'b')).toBeUndefined();
  });

  it('refuses a value that is not bytes', async () => {
    expect(tagOf(await serveStorage(adapter, granted, 'set', ['k', 'text']))).toBe('internal');
    expect(await adapter.get('notes', 'k')).toBeUndefined();
  });

  it('refuses an unknown function', async () => {
    expect(tagOf(await serveStorage(adapter, granted, 'clear', ['k']))).toBe('internal');
  });
});

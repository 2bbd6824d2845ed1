import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import type { StorageAdapter } from '../../src/storage/adapter.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const BIG = 1 << 30;

let dir: string;
let file: string;
let store: StorageAdapter;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-sqlite-'));
  file = join(dir, 'storage.db');
  store = openSqliteStorage(file);
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('openSqliteStorage', () => {
  it('gets what was set and undefined for a missing key', async () => {
    expect(await store.get('ns', 'k')).toBeUndefined();
    expect(await store.set('ns', 'k', bytes('hello'), BIG)).toBe('ok');
    expect(text(await store.get('ns', 'k'))).toBe('hello');
  });

  it('overwrites a value', async () => {
    await store.set('ns', 'k', bytes('one'), BIG);
    await store.set('ns', 'k', bytes('two!'), BIG);
    expect(text(await store.get('ns', 'k'))).toBe('two!');
  });

  it('stores binary values byte for byte, including empty ones', async () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await store.set('ns', 'bin', all, BIG);
    expect(Array.from((await store.get('ns', 'bin'))!)).toEqual(Array.from(all));
    await store.set('ns', 'empty', new Uint8Array(0), BIG);
    expect((await store.get('ns', 'empty'))?.byteLength).toBe(0);
  });

  it('stores only the bytes of a view, not its whole buffer', async () => {
    const buffer = bytes('xxhelloyy');
    await store.set('ns', 'k', buffer.subarray(2, 7), BIG);
    expect(text(await store.get('ns', 'k'))).toBe('hello');
    expect(await store.usage('ns')).toBe(1 + 5);
  });

  it('deletes a key and reports whether it existed', async () => {
    await store.set('ns', 'k', bytes('v'), BIG);
    expect(await store.delete('ns', 'k')).toBe(true);
    expect(await store.get('ns', 'k')).toBeUndefined();
    expect(await store.delete('ns', 'k')).toBe(false);
  });

  it('lists keys with a prefix, sorted, only from that namespace', async () => {
    for (const key of ['note:3', 'note:1', 'tag:a', 'note:2', 'not', 'note:10']) await store.set('ns', key, bytes('x'), BIG);
    await store.set('other', 'note:0', bytes('x'), BIG);
    expect(await store.list('ns', 'note:')).toEqual(['note:1', 'note:10', 'note:2', 'note:3']);
    expect(await store.list('ns', '')).toEqual(['not', 'note:1', 'note:10', 'note:2', 'note:3', 'tag:a']);
    expect(await store.list('ns', 'zzz')).toEqual([]);
    expect(await store.list('other', '')).toEqual(['note:0']);
  });

  it('treats LIKE wildcards in a prefix literally', async () => {
    for (const key of ['a%b', 'axb', 'a_c', 'abc']) await store.set('ns', key, bytes('x'), BIG);
    expect(await store.list('ns', 'a%')).toEqual(['a%b']);
    expect(await store.list('ns', 'a_')).toEqual(['a_c']);
  });

  it('lists non-ASCII keys by prefix in byte order', async () => {
    for (const key of ['é-2', 'é-1', 'e-1', 'z', '日本']) await store.set('ns', key, bytes('x'), BIG);
    expect(await store.list('ns', 'é')).toEqual(['é-1', 'é-2']);
    // UTF-8 byte order: ASCII, then é (C3 A9), then 日 (E6 97 A5).
    expect(await store.list('ns', '')).toEqual(['e-1', 'z', 'é-1', 'é-2', '日本']);
  });

  it('keeps namespaces apart', async () => {
    await store.set('a', 'k', bytes('from a'), BIG);
    await store.set('b', 'k', bytes('from b'), BIG);
    expect(text(await store.get('a', 'k'))).toBe('from a');
    expect(text(await store.get('b', 'k'))).toBe('from b');
    expect(await store.delete('a', 'k')).toBe(true);
    expect(text(await store.get('b', 'k'))).toBe('from b');
    expect(await store.usage('a')).toBe(0);
    expect(await store.usage('b')).toBe(1 + 6);
  });

  it('accounts usage as key bytes plus value bytes, through overwrites and deletes', async () => {
    expect(await store.usage('ns')).toBe(0);
    await store.set('ns', 'key', new Uint8Array(10), BIG);
    expect(await store.usage('ns')).toBe(13);
    await store.set('ns', 'ключ', new Uint8Array(4), BIG); // 8 UTF-8 bytes of key
    expect(await store.usage('ns')).toBe(13 + 12);
    await store.set('ns', 'key', new Uint8Array(2), BIG); // shrink
    expect(await store.usage('ns')).toBe(5 + 12);
    await store.set('ns', 'key', new Uint8Array(20), BIG); // grow
    expect(await store.usage('ns')).toBe(23 + 12);
    await store.delete('ns', 'ключ');
    expect(await store.usage('ns')).toBe(23);
    await store.delete('ns', 'missing');
    expect(await store.usage('ns')).toBe(23);
    await store.delete('ns', 'key');
    expect(await store.usage('ns')).toBe(0);
  });

  it('refuses a write over the quota and stores nothing', async () => {
    // 'k' + 9 bytes = 10 bytes: exactly the quota is allowed.
    expect(await store.set('ns', 'k', new Uint8Array(9), 10)).toBe('ok');
    expect(await store.set('ns', 'j', new Uint8Array(0), 10)).toBe('quota-exceeded');
    expect(await store.get('ns', 'j')).toBeUndefined();
    expect(await store.list('ns', '')).toEqual(['k']);
    expect(await store.usage('ns')).toBe(10);
  });

  it('refuses an overwrite that grows past the quota and keeps the old value', async () => {
    await store.set('ns', 'k', bytes('small'), 10);
    expect(await store.set('ns', 'k', bytes('much larger'), 10)).toBe('quota-exceeded');
    expect(text(await store.get('ns', 'k'))).toBe('small');
    expect(await store.usage('ns')).toBe(6);
  });

  it('counts the space an overwrite frees toward the quota', async () => {
    await store.set('ns', 'k', new Uint8Array(9), 10);
    // Replacing 9 bytes with 9 bytes keeps usage at the quota.
    expect(await store.set('ns', 'k', new Uint8Array(9).fill(1), 10)).toBe('ok');
    expect(Array.from((await store.get('ns', 'k'))!)).toEqual(new Array(9).fill(1));
  });

  it('allows shrinking a value even when the namespace is over a lowered quota', async () => {
    await store.set('ns', 'k', new Uint8Array(100), BIG);
    expect(await store.set('ns', 'k', new Uint8Array(50), 10)).toBe('ok');
    expect(await store.usage('ns')).toBe(51);
  });

  it('counts quota per namespace', async () => {
    await store.set('a', 'k', new Uint8Array(9), 10);
    expect(await store.set('b', 'k', new Uint8Array(9), 10)).toBe('ok');
  });

  it('keeps data and usage after close and reopen', async () => {
    await store.set('ns', 'k', bytes('persisted'), BIG);
    await store.set('ns', 'gone', bytes('x'), BIG);
    await store.delete('ns', 'gone');
    await store.close();
    store = openSqliteStorage(file);
    expect(text(await store.get('ns', 'k'))).toBe('persisted');
    expect(await store.get('ns', 'gone')).toBeUndefined();
    expect(await store.list('ns', '')).toEqual(['k']);
    expect(await store.usage('ns')).toBe(1 + 9);
  });
});

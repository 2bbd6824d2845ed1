import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHost } from '../src/index.js';
import { rejected } from './helpers.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-host-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});


describe('createHost options', () => {
  it('refuses a connectTo entry that is not an origin mapped to a loopback URL, naming it', async () => {
    const err = await rejected(createHost({ home, logger: () => {}, connectTo: { 'https://api.example.com': 'http://192.168.1.10:8080' } }));
    expect(err.code).toBe('HOST_OPTIONS_INVALID');
    expect(err.message).toBe('connectTo: the target of https://api.example.com must be a loopback address (127.0.0.0/8, [::1] or localhost), got 192.168.1.10:8080');
    expect(err.hint).toContain('http://127.0.0.1:8080');
  });

  it('accepts a valid connectTo', async () => {
    const host = await createHost({ home, logger: () => {}, connectTo: { 'https://api.example.com': 'http://127.0.0.1:8080' } });
    await host.close();
  });
});

describe('host.storageOf', () => {
  it('reads and writes a plugin\'s namespace whether or not it is loaded, apart from other plugins', async () => {
    const host = await createHost({ home, logger: () => {} });
    try {
      const notes = host.storageOf('notes');
      await notes.set('note:1', new TextEncoder().encode('{"title":"x"}'));
      await notes.set('meta', new Uint8Array([1, 2]));
      expect(new TextDecoder().decode(await notes.get('note:1'))).toBe('{"title":"x"}');
      expect(await notes.keys()).toEqual(['meta', 'note:1']);
      expect(await notes.keys('note:')).toEqual(['note:1']);
      expect(await notes.usage()).toBe('note:1'.length + 13 + 'meta'.length + 2);
      expect(await host.storageOf('other').keys()).toEqual([]);
      expect(await notes.delete('meta')).toBe(true);
      expect(await notes.delete('meta')).toBe(false);
      expect(await notes.get('meta')).toBeUndefined();
    } finally {
      await host.close();
    }
  });

  it('keeps the data across hosts on the same home', async () => {
    const first = await createHost({ home, logger: () => {} });
    await first.storageOf('notes').set('k', new Uint8Array([7]));
    await first.close();
    const second = await createHost({ home, logger: () => {} });
    expect(await second.storageOf('notes').get('k')).toEqual(new Uint8Array([7]));
    await second.close();
  });

  it('refuses keys and values a plugin could not store, and use after close', async () => {
    const host = await createHost({ home, logger: () => {} });
    const notes = host.storageOf('notes');
    const empty = await rejected(notes.get(''));
    expect(empty.code).toBe('STORAGE_FAILED');
    expect(empty.message).toBe('storage of plugin `notes`: key must be a non-empty string, got ""');
    expect((await rejected(notes.set('a\0b', new Uint8Array()))).message).toContain('NUL');
    expect((await rejected(notes.set('k', new Uint8Array(1024 * 1024 + 1)))).message).toContain('over the limit of 1048576');
    expect((await rejected(notes.set('k', 'text' as unknown as Uint8Array))).message).toContain('must be a Uint8Array');
    await host.close();
    expect((await rejected(notes.keys())).code).toBe('HOST_CLOSED');
    expect(() => host.storageOf('notes')).toThrow('the host is closed');
  });
});

describe('componentCacheDir', () => {
  it('is created where the option says, instead of inside the home', async () => {
    const cache = join(home, 'shared-cache');
    const host = await createHost({ home: join(home, 'h'), logger: () => {}, componentCacheDir: cache });
    await host.close();
    expect(existsSync(cache)).toBe(true);
    expect(existsSync(join(home, 'h', 'cache', 'components'))).toBe(false);
  });
});

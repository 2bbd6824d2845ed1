import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejection } from '@airlock/test-utils';
import { createTestHost, type TestHost } from '@airlock/plugin-kit/testing';
import type { PluginError } from '@airlock/host';

const plugin = new URL('..', import.meta.url);

let t: TestHost;

beforeEach(async () => {
  t = await createTestHost({ plugin, grant: { storage: {} } });
});

afterEach(async () => {
  await t.close();
});

describe('notes plugin in a real host', () => {
  it('lists its tools with their schemas and risk levels', () => {
    const tools = t.tools();
    expect(tools.map((tool) => tool.qualifiedName).sort()).toEqual(
      ['notes.add_note', 'notes.count_words', 'notes.delete_note', 'notes.get_note', 'notes.list_notes'],
    );
    const add = tools.find((tool) => tool.name === 'add_note')!;
    expect(add.risk).toBe('write');
    expect(add.plugin).toBe('notes');
    expect(add.parameters).toMatchObject({ type: 'object', required: ['title', 'body'], additionalProperties: false });
    expect(tools.find((tool) => tool.name === 'count_words')!.risk).toBe('read-only');
  });

  it('answers a call with the tool result', async () => {
    await expect(t.callTool('count_words', { text: 'one two  three\nfour' })).resolves.toEqual({ words: 4, characters: 19, lines: 2 });
    await expect(t.callTool('notes.count_words', { text: '' })).resolves.toEqual({ words: 0, characters: 0, lines: 0 });
  });

  it('stores, reads, lists and deletes notes', async () => {
    expect(await t.callTool('add_note', { title: 'Groceries', body: 'milk', tags: ['home'] })).toEqual({ id: 1, title: 'Groceries' });
    expect(await t.callTool('add_note', { title: 'Standup', body: 'demo', tags: ['work'] })).toEqual({ id: 2, title: 'Standup' });
    expect(await t.callTool('get_note', { id: 1 })).toMatchObject({ id: 1, title: 'Groceries', body: 'milk', tags: ['home'] });
    expect(await t.callTool('list_notes', { tag: 'work' })).toEqual([{ id: 2, title: 'Standup', tags: ['work'] }]);
    expect(await t.callTool('delete_note', { id: 1 })).toEqual({ deleted: 1 });
    expect(await t.callTool('list_notes', {})).toEqual([{ id: 2, title: 'Standup', tags: ['work'] }]);
  });

  it('keeps each note as JSON under a zero-padded key, with the last id beside them', async () => {
    await t.callTool('add_note', { title: 'Stored', body: 'as JSON', tags: ['a'] });
    expect(await t.storage.keys()).toEqual(['meta:last-id', 'note:0000000001']);
    expect(await t.storage.getJson('note:0000000001')).toMatchObject({ id: 1, title: 'Stored', body: 'as JSON', tags: ['a'] });
    expect(await t.storage.getJson('meta:last-id')).toBe(1);
    await t.callTool('delete_note', { id: 1 });
    expect(await t.storage.keys('note:')).toEqual([]);
  });

  it('reads notes that were already stored, and numbers new ones after them', async () => {
    const seeded = await createTestHost({
      plugin,
      grant: { storage: {} },
      storage: {
        'note:0000000007': { id: 7, title: 'From before', body: 'seeded', tags: ['old'], createdAt: '2024-01-01T00:00:00.000Z' },
        'meta:last-id': 7,
      },
    });
    try {
      expect(await seeded.callTool('get_note', { id: 7 })).toMatchObject({ title: 'From before', body: 'seeded' });
      expect(await seeded.callTool('list_notes', { tag: 'old' })).toEqual([{ id: 7, title: 'From before', tags: ['old'] }]);
      expect(await seeded.callTool('add_note', { title: 'After', body: '' })).toEqual({ id: 8, title: 'After' });
    } finally {
      await seeded.close();
    }
  });

  it('refuses invalid arguments before the plugin runs', async () => {
    const err = await rejection(t.callTool('add_note', { title: '', body: 42, extra: true }));
    expect(err.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(err.message).toContain('/title');
    expect(err.message).toContain('/body must be string, not number');
    expect(err.message).toContain('unknown property `extra`');
    // Nothing reached the plugin: no note was stored and it logged nothing.
    expect(await t.callTool('list_notes', {})).toEqual([]);
    expect(await t.storage.keys()).toEqual([]);
    expect(t.logs.filter((l) => l.plugin === 'notes')).toEqual([]);
  });

  it('reports an unknown tool with the tools that exist', async () => {
    const err = await rejection(t.callTool('send_email', {}));
    expect(err.code).toBe('TOOL_NOT_FOUND');
    expect(err.hint).toContain('notes.add_note');
    // The host says the same for a name no loaded plugin offers.
    const fromHost = await rejection(t.host.callTool('send_email', {}));
    expect(fromHost.code).toBe('TOOL_NOT_FOUND');
    expect(fromHost.hint).toContain('notes.add_note');
  });

  it('turns an error thrown in the plugin into a typed error with its message', async () => {
    const err = await rejection(t.callTool('get_note', { id: 404 }));
    expect(err.code).toBe('TOOL_FAILED');
    expect(err.plugin).toBe('notes');
    expect(err.message).toBe('plugin `notes` failed: no note with id 404');
    expect((err as PluginError).pluginCode).toBe('not-found');
    // The plugin keeps serving after its own error.
    await expect(t.callTool('count_words', { text: 'still here' })).resolves.toMatchObject({ words: 2 });
  });

  it('tags the plugin\'s log lines with its id', async () => {
    await t.callTool('add_note', { title: 'Tagged', body: '' });
    expect(t.logs).toContainEqual({ level: 'info', message: 'added note 1: Tagged', plugin: 'notes' });
  });

  it('keeps stored notes across a host restart', async () => {
    await t.callTool('add_note', { title: 'Persistent', body: 'survives' });
    await t.restart();
    expect(await t.callTool('get_note', { id: 1 })).toMatchObject({ title: 'Persistent', body: 'survives' });
    expect(await t.callTool('add_note', { title: 'Next', body: '' })).toEqual({ id: 2, title: 'Next' });
  });

  it('refuses to load without the storage grant its manifest asks for', async () => {
    const err = await rejection(createTestHost({ plugin, grant: {} }));
    expect(err.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(err.message).toContain('storage');
    // The host is left without the plugin.
    await t.host.unload('notes');
    expect((await rejection(t.host.load(fileURLToPath(plugin)))).code).toBe('CAPABILITY_NOT_GRANTED');
    expect(t.host.plugins()).toEqual([]);
  });
});

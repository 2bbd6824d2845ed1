import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rejection } from '@airlock/test-utils';
import { createHost, type Host, type LogEntry, type PluginError } from '@airlock/host';

const pluginDir = new URL('..', import.meta.url).pathname;

let home: string;
let host: Host;
let logs: LogEntry[];

async function start(): Promise<Host> {
  const h = await createHost({ home, logger: (entry) => logs.push(entry) });
  await h.load(pluginDir, { grant: { storage: {} } });
  return h;
}


beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-notes-'));
  logs = [];
  host = await start();
});

afterEach(async () => {
  await host.close();
  await rm(home, { recursive: true, force: true });
});

describe('notes plugin in a real host', () => {
  it('lists its tools with their schemas and risk levels', () => {
    const tools = host.tools();
    expect(tools.map((t) => t.qualifiedName).sort()).toEqual(
      ['notes.add_note', 'notes.count_words', 'notes.delete_note', 'notes.get_note', 'notes.list_notes'],
    );
    const add = tools.find((t) => t.name === 'add_note')!;
    expect(add.risk).toBe('write');
    expect(add.plugin).toBe('notes');
    expect(add.parameters).toMatchObject({ type: 'object', required: ['title', 'body'], additionalProperties: false });
    expect(tools.find((t) => t.name === 'count_words')!.risk).toBe('read-only');
  });

  it('answers a call with the tool result', async () => {
    await expect(host.callTool('count_words', { text: 'one two  three\nfour' })).resolves.toEqual({ words: 4, characters: 19, lines: 2 });
    await expect(host.callTool('notes.count_words', { text: '' })).resolves.toEqual({ words: 0, characters: 0, lines: 0 });
  });

  it('stores, reads, lists and deletes notes', async () => {
    expect(await host.callTool('add_note', { title: 'Groceries', body: 'milk', tags: ['home'] })).toEqual({ id: 1, title: 'Groceries' });
    expect(await host.callTool('add_note', { title: 'Standup', body: 'demo', tags: ['work'] })).toEqual({ id: 2, title: 'Standup' });
    expect(await host.callTool('get_note', { id: 1 })).toMatchObject({ id: 1, title: 'Groceries', body: 'milk', tags: ['home'] });
    expect(await host.callTool('list_notes', { tag: 'work' })).toEqual([{ id: 2, title: 'Standup', tags: ['work'] }]);
    expect(await host.callTool('delete_note', { id: 1 })).toEqual({ deleted: 1 });
    expect(await host.callTool('list_notes', {})).toEqual([{ id: 2, title: 'Standup', tags: ['work'] }]);
  });

  it('refuses invalid arguments before the plugin runs', async () => {
    const err = await rejection(host.callTool('add_note', { title: '', body: 42, extra: true }));
    expect(err.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(err.message).toContain('/title');
    expect(err.message).toContain('/body must be string, not number');
    expect(err.message).toContain('unknown property `extra`');
    // Nothing reached the plugin: no note was stored and it logged nothing.
    expect(await host.callTool('list_notes', {})).toEqual([]);
    expect(logs.filter((l) => l.plugin === 'notes')).toEqual([]);
  });

  it('reports an unknown tool with the tools that exist', async () => {
    const err = await rejection(host.callTool('send_email', {}));
    expect(err.code).toBe('TOOL_NOT_FOUND');
    expect(err.hint).toContain('notes.add_note');
  });

  it('turns an error thrown in the plugin into a typed error with its message', async () => {
    const err = await rejection(host.callTool('get_note', { id: 404 }));
    expect(err.code).toBe('TOOL_FAILED');
    expect(err.plugin).toBe('notes');
    expect(err.message).toBe('plugin `notes` failed: no note with id 404');
    expect((err as PluginError).pluginCode).toBe('not-found');
    // The plugin keeps serving after its own error.
    await expect(host.callTool('count_words', { text: 'still here' })).resolves.toMatchObject({ words: 2 });
  });

  it('tags the plugin\'s log lines with its id', async () => {
    await host.callTool('add_note', { title: 'Tagged', body: '' });
    expect(logs).toContainEqual({ level: 'info', message: 'added note 1: Tagged', plugin: 'notes' });
  });

  it('keeps stored notes across a host restart', async () => {
    await host.callTool('add_note', { title: 'Persistent', body: 'survives' });
    await host.close();
    host = await start();
    expect(await host.callTool('get_note', { id: 1 })).toMatchObject({ title: 'Persistent', body: 'survives' });
    expect(await host.callTool('add_note', { title: 'Next', body: '' })).toEqual({ id: 2, title: 'Next' });
  });

  it('refuses to load without the storage grant its manifest asks for', async () => {
    const other = await createHost({ home: join(home, 'other'), logger: () => {} });
    try {
      const err = await rejection(other.load(pluginDir));
      expect(err.code).toBe('CAPABILITY_NOT_GRANTED');
      expect(err.message).toContain('storage');
      expect(other.plugins()).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

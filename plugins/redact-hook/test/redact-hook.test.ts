import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pluginVariant, rejection } from '@airlock/test-utils';
import { createTestHost, type TestHost, type TestPluginOptions } from '@airlock/plugin-kit/testing';

const hookDir = fileURLToPath(new URL('..', import.meta.url));
const notesDir = fileURLToPath(new URL('../../notes', import.meta.url));
const notes: TestPluginOptions = { plugin: notesDir, grant: { storage: {} } };
/** A provider that echoes the last user message: what it answers is what reached it. */
const echoDir = fileURLToPath(new URL('../../../tools/sandbox-tests/fixtures/echo-provider', import.meta.url));

let t: TestHost | undefined;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'redact-hook-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The hook under test in front of the notes plugin. */
async function hosted(config: Record<string, unknown> = {}, more: TestPluginOptions[] = []): Promise<TestHost> {
  t = await createTestHost({ plugin: hookDir, config, plugins: [notes, ...more] });
  return t;
}

describe('redact-hook in a real host, in front of the notes plugin', () => {
  it('says where its hooks run', async () => {
    const h = await hosted();
    expect(h.host.hooks()).toEqual([{ id: 'redact-hook', points: ['before-tool-call', 'after-tool-call', 'before-chat'], priority: 0 }]);
  });

  it('lets a call with nothing to redact through unchanged', async () => {
    const h = await hosted();
    await expect(h.host.callTool('count_words', { text: 'one two three' })).resolves.toEqual({ words: 3, characters: 13, lines: 1 });
    const records = h.host.audit({ capability: 'hooks' });
    expect(records.map((r) => [r.plugin, r.action, r.target, r.outcome])).toEqual([
      ['redact-hook', 'before-tool-call', 'notes.count_words', 'allowed'],
      ['redact-hook', 'after-tool-call', 'notes.count_words', 'allowed'],
    ]);
  });

  it('rewrites the arguments the tool sees: what it stores has no e-mail address', async () => {
    const h = await hosted();
    expect(await h.host.callTool('add_note', { title: 'Call bob@example.com', body: 'or alice@example.org', tags: [] })).toEqual({ id: 1, title: 'Call [email]' });
    expect(await h.host.storageOf('notes').keys('note:')).toEqual(['note:0000000001']);
    const stored = JSON.parse(new TextDecoder().decode((await h.host.storageOf('notes').get('note:0000000001'))!));
    expect(stored).toMatchObject({ title: 'Call [email]', body: 'or [email]' });
    expect(h.host.audit({ capability: 'hooks', outcome: 'rewritten' }).map((r) => r.action)).toEqual(['before-tool-call']);
  });

  it('rewrites a tool result', async () => {
    const h = await hosted({}, []);
    // Stored before the hook was there: the result still carries the address, and the hook takes it out.
    await h.host.storageOf('notes').set('note:0000000009', new TextEncoder().encode(JSON.stringify({ id: 9, title: 'from carol@example.net', body: 'x', tags: [], createdAt: '2024-01-01T00:00:00.000Z' })));
    expect(await h.host.callTool('get_note', { id: 9 })).toMatchObject({ id: 9, title: 'from [email]' });
    expect(h.host.audit({ capability: 'hooks', outcome: 'rewritten' }).map((r) => r.action)).toEqual(['after-tool-call']);
  });

  it('refuses a tool riskier than allowed, with its reason, unless allowDangerous lists it', async () => {
    const h = await hosted({ maxRisk: 'read-only' });
    const e = await rejection(h.host.callTool('add_note', { title: 't', body: 'b', tags: [] }));
    expect([e.code, e.plugin]).toEqual(['HOOK_DENIED', 'redact-hook']);
    expect(e.message).toBe(
      "hook plugin `redact-hook` refused the call of `notes.add_note` (before-tool-call): `notes.add_note` is write, and this host allows at most read-only tools; list it in the redact-hook's allowDangerous to allow it",
    );
    expect(await h.host.storageOf('notes').keys('note:')).toEqual([]);
    expect(h.host.audit({ capability: 'hooks', outcome: 'refused' })).toMatchObject([{ plugin: 'redact-hook', action: 'before-tool-call', target: 'notes.add_note' }]);
    await t!.close();
    const allowed = await hosted({ maxRisk: 'read-only', allowDangerous: ['notes.add_note'] });
    await expect(allowed.host.callTool('add_note', { title: 't', body: 'b', tags: [] })).resolves.toEqual({ id: 1, title: 't' });
  });

  it('still checks the caller\'s arguments against the tool\'s schema first', async () => {
    const h = await hosted();
    expect((await rejection(h.host.callTool('add_note', { title: 3 }))).code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(h.host.audit({ capability: 'hooks' })).toEqual([]);
  });

  it('fails closed when its before hook fails, and skips a failing after hook with a warning', async () => {
    const before = await hosted({ failOn: 'before-tool-call' });
    const e = await rejection(before.host.callTool('count_words', { text: 'a' }));
    expect([e.code, e.plugin]).toEqual(['HOOK_FAILED', 'redact-hook']);
    expect(e.message).toContain('failing in before-tool-call, as configured (failOn)');
    await t!.close();
    const after = await hosted({ failOn: 'after-tool-call' });
    await expect(after.host.callTool('count_words', { text: 'a' })).resolves.toMatchObject({ words: 1 });
    expect(after.logs.find((l) => l.plugin === 'redact-hook' && l.level === 'warn')?.message).toContain('its after-tool-call hook failed for `notes.count_words` and was skipped');
  });

  it('runs two hook plugins of equal priority in order of id, the second seeing what the first let through', async () => {
    const early = await pluginVariant(hookDir, join(scratch, 'a-policy'), (pkg) => {
      pkg.name = 'a-policy';
      pkg.airlock.id = 'a-policy';
    });
    const h = await hosted({}, [{ plugin: early, build: false }]);
    expect(h.host.hooks().map((x) => x.id)).toEqual(['a-policy', 'redact-hook']);
    expect(await h.host.callTool('add_note', { title: 'x@y.io', body: 'b', tags: [] })).toEqual({ id: 1, title: '[email]' });
    expect(h.host.audit({ capability: 'hooks', outcome: 'rewritten' }).map((r) => [r.plugin, r.action])).toEqual([['a-policy', 'before-tool-call']]);
    expect(h.host.audit({ capability: 'hooks' }).map((r) => r.plugin).slice(0, 2)).toEqual(['a-policy', 'redact-hook']);
    // Unloading a hook plugin takes it out of the chain.
    await h.host.unload('a-policy');
    expect(h.host.hooks().map((x) => x.id)).toEqual(['redact-hook']);
  });
});

describe('redact-hook in front of a provider', () => {
  const messages = [
    { role: 'system' as const, content: 'Reply to admin@example.com' },
    { role: 'user' as const, content: 'write to bob@example.com' },
  ];

  it('redacts e-mail addresses in user messages before they reach the provider', async () => {
    const h = await hosted({}, [{ plugin: echoDir }]);
    const answer = await h.host.chat({ messages });
    expect(answer.message.content).toBe('echo: write to [email]');
    expect([answer.provider, answer.model]).toEqual(['echo-provider', 'echo']);
    expect(h.host.audit({ capability: 'hooks' }).map((r) => [r.action, r.target, r.outcome])).toEqual([['before-chat', 'echo-provider', 'rewritten']]);
  });

  it('does the same for a streamed answer', async () => {
    const h = await hosted({}, [{ plugin: echoDir }]);
    let text = '';
    for await (const e of h.host.chatStream({ messages })) if (e.type === 'text-delta') text += e.text;
    expect(text).toBe('echo: write to [email]');
  });

  it('lets a chat with nothing to redact through unchanged, and refuses every chat when its before-chat hook fails', async () => {
    const h = await hosted({ failOn: 'before-chat' }, [{ plugin: echoDir }]);
    const e = await rejection(h.host.chat({ messages: [{ role: 'user', content: 'hi' }] }));
    expect([e.code, e.plugin]).toEqual(['HOOK_FAILED', 'redact-hook']);
    await t!.close();
    const fine = await hosted({}, [{ plugin: echoDir }]);
    expect((await fine.host.chat({ messages: [{ role: 'user', content: 'hi' }] })).message.content).toBe('echo: hi');
  });
});

describe('redact-hook grants', () => {
  it('does not load when a point it hooks is not granted, and says the grant to run', async () => {
    const e = await rejection(createTestHost({ plugin: hookDir, grant: { hooks: ['before-tool-call', 'after-tool-call'] } }));
    expect(e.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(e.message).toBe('plugin `redact-hook` asks for hooks before-chat, which was not granted');
    expect(e.hint).toContain('`airlock grant redact-hook hooks before-chat`');
  });

  it('does not load when its code hooks a point its manifest does not declare', async () => {
    const undeclared = await pluginVariant(hookDir, join(scratch, 'undeclared'), (pkg) => {
      pkg.airlock.capabilities = { hooks: ['before-tool-call', 'after-tool-call'] };
    });
    const e = await rejection(createTestHost({ plugin: undeclared, build: false }));
    expect([e.code, e.plugin]).toEqual(['MANIFEST_INVALID', 'redact-hook']);
    expect(e.message).toBe('plugin `redact-hook` hooks before-chat, which its manifest does not declare in "capabilities.hooks"');
    expect(e.hint).toContain('Add "before-chat" to "capabilities.hooks"');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '@airlock/test-utils';
import { createTestHost, type TestHost } from '@airlock/plugin-kit/testing';

const plugin = new URL('..', import.meta.url);

let t: TestHost;

beforeAll(async () => {
  t = await createTestHost({ plugin, grant: {} });
});

afterAll(async () => {
  await t.close();
});

describe('prompts plugin in a real host', () => {
  it('lists its templates with their variables schemas', () => {
    const prompts = t.host.prompts();
    expect(prompts.map((p) => p.qualifiedName).sort()).toEqual(['prompts.code-review', 'prompts.summarize']);
    const review = prompts.find((p) => p.name === 'code-review')!;
    expect(review).toMatchObject({ plugin: 'prompts', description: expect.stringContaining('Review'), variables: { type: 'object', required: ['language', 'code'] } });
    expect(prompts.find((p) => p.name === 'summarize')!.variables).toMatchObject({ properties: { style: { enum: ['bullets', 'paragraph', 'tldr'] } } });
  });

  it('renders a system and a user message', async () => {
    const { messages } = await t.host.renderPrompt('code-review', { language: 'TypeScript', code: 'let x = 1' });
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(messages[0]!.content).toContain('TypeScript reviewer');
    expect(messages[1]!.content).toContain('```typescript\nlet x = 1\n```');
    const summary = await t.host.renderPrompt('prompts.summarize', { text: 'A long text.', style: 'tldr' });
    expect(summary.messages[0]!.content).toContain('in one sentence');
    expect(summary.messages[1]!.content).toBe('Summarize this:\n\nA long text.');
  });

  it('refuses invalid variables before the plugin runs', async () => {
    const before = t.logs.filter((l) => l.message.includes('rendering code-review')).length;
    const missing = await rejection(t.host.renderPrompt('code-review', { language: 'Go' }));
    expect(missing.code).toBe('PROMPT_ARGUMENTS_INVALID');
    expect(missing.message).toContain('missing required property `code`');
    expect(missing.hint).toContain('variables');
    const style = await rejection(t.host.renderPrompt('summarize', { text: 'x', style: 'haiku' }));
    expect(style.code).toBe('PROMPT_ARGUMENTS_INVALID');
    expect(style.message).toContain('/style');
    expect((await rejection(t.host.renderPrompt('summarize', 'text' as never))).code).toBe('PROMPT_ARGUMENTS_INVALID');
    // The plugin logged nothing: it was never called. A valid call does log.
    expect(t.logs.filter((l) => l.message.includes('rendering code-review')).length).toBe(before);
    await t.host.renderPrompt('code-review', { language: 'Go', code: 'x := 1' });
    expect(t.logs.filter((l) => l.message.includes('rendering code-review')).length).toBe(before + 1);
  });

  it('hands out copies: changing a listed schema changes nothing the host checks', async () => {
    const listed = t.host.prompts().find((p) => p.name === 'summarize')!;
    (listed.variables as { required: string[] }).required.push('extra');
    expect(t.host.prompts().find((p) => p.name === 'summarize')!.variables).toMatchObject({ required: ['text'] });
    await expect(t.host.renderPrompt('summarize', { text: 'still fine' })).resolves.toMatchObject({ messages: expect.any(Array) });
  });

  it('names the templates there are when asked for an unknown one', async () => {
    const e = await rejection(t.host.renderPrompt('haiku', {}));
    expect(e.code).toBe('PROMPT_NOT_FOUND');
    expect(e.hint).toContain('prompts.code-review');
  });
});

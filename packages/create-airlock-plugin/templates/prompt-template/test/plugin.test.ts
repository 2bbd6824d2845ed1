import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '@airlock/plugin-kit/testing';

let t: TestHost;

// Builds the plugin when its component is missing or older than the sources,
// then loads it into a real Airlock host.
beforeAll(async () => {
  t = await createTestHost({ plugin: new URL('..', import.meta.url) });
});
afterAll(() => t?.close());

describe('{{id}}', () => {
  it('lists its templates with their variables schemas', () => {
    expect(t.host.prompts().map((p) => p.name).sort()).toEqual(['commit-message', 'explain']);
    expect(t.host.prompts().find((p) => p.name === 'commit-message')!.variables).toMatchObject({ required: ['diff'] });
  });

  it('renders messages', async () => {
    const { messages } = await t.host.renderPrompt('commit-message', { diff: '+ hello', style: 'conventional' });
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(messages[0]!.content).toContain('Conventional Commits');
    expect(messages[1]!.content).toContain('+ hello');
    expect((await t.host.renderPrompt('explain', { term: 'WebAssembly' })).messages).toEqual([{ role: 'user', content: expect.stringContaining('"WebAssembly"') }]);
  });

  it('reports a ToolError with its code', async () => {
    await expect(t.host.renderPrompt('commit-message', { diff: ' ' })).rejects.toMatchObject({ code: 'PROMPT_FAILED', pluginCode: 'invalid-input' });
  });

  it('refuses variables that do not match the schema before the plugin runs', async () => {
    await expect(t.host.renderPrompt('commit-message', { diff: 'x', style: 'haiku' })).rejects.toMatchObject({ code: 'PROMPT_ARGUMENTS_INVALID' });
    await expect(t.host.renderPrompt('explain', {})).rejects.toMatchObject({ code: 'PROMPT_ARGUMENTS_INVALID' });
  });
});

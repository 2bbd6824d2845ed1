// Reading, checking and rendering templates is the host's own: driven here by
// a fake prompt-template plugin, without a component.
import { describe, expect, it } from 'vitest';
import { readTemplates, renderTemplate } from '../../src/kinds/prompt-template.js';
import type { CallOutcome, PluginCaller } from '../../src/sandbox/instance.js';

const schema = JSON.stringify({ type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false });

/** A plugin listing `templates` and rendering with `render`, recording each call. */
function plugin(templates: unknown, render: (name: string, vars: string) => CallOutcome = () => ({ ok: true, value: [{ role: 'user', content: 'hi' }] })): PluginCaller & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async call(fn, args) {
      calls.push(fn);
      if (fn === 'promptTemplate.listTemplates') return { ok: true, value: templates };
      if (fn === 'promptTemplate.render') return render(args[0] as string, args[1] as string);
      throw new Error(`unexpected call ${fn}`);
    },
  };
}

const template = (name: string, variables = schema) => ({ name, description: `the ${name} template`, variables });

describe('readTemplates', () => {
  it('reads each template with its parsed schema and qualified name', async () => {
    const [loaded] = await readTemplates(plugin([template('summarize')]), 'prompts');
    expect(loaded!.info).toEqual({ name: 'summarize', qualifiedName: 'prompts.summarize', plugin: 'prompts', description: 'the summarize template', variables: JSON.parse(schema) });
  });

  it('fails the load on a bad name, a duplicate, or a schema that is not an object schema', async () => {
    const cases: [unknown, RegExp][] = [
      [[template('Bad Name')], /name "Bad Name" must match/],
      [[template('a'), template('a')], /`a` is used twice/],
      [[template('a', '{nope')], /`a` variables are not JSON/],
      [[template('a', '{"type":"string"}')], /"type": "object"/],
      [[template('a', '{"type":"object","properties":{"x":{"type":"strange"}}}')], /not a valid JSON Schema/],
      ['not a list', /did not return a list/],
    ];
    for (const [templates, message] of cases) {
      await expect(readTemplates(plugin(templates), 'p')).rejects.toMatchObject({ code: 'COMPONENT_INVALID', plugin: 'p', message: expect.stringMatching(message), hint: expect.any(String) });
    }
  });

  it('fails the load when listing fails, with the plugin\'s message', async () => {
    const failing: PluginCaller = { call: async () => ({ ok: false, error: { code: 'broken', message: 'cannot list' } }) };
    await expect(readTemplates(failing, 'p')).rejects.toMatchObject({ code: 'PLUGIN_ERROR', pluginCode: 'broken', message: expect.stringContaining('list-templates failed: cannot list') });
  });
});

describe('renderTemplate', () => {
  it('checks the variables before the plugin is called', async () => {
    const p = plugin([template('t')]);
    const [loaded] = await readTemplates(p, 'p');
    for (const variables of [{}, { text: 1 }, { text: 'x', extra: true }, null, ['x'], 'x']) {
      await expect(renderTemplate(p, loaded!, variables)).rejects.toMatchObject({ code: 'PROMPT_ARGUMENTS_INVALID', plugin: 'p', hint: expect.any(String) });
    }
    expect(p.calls).toEqual(['promptTemplate.listTemplates']);
    await expect(renderTemplate(p, loaded!, { text: 'x' })).resolves.toEqual({ messages: [{ role: 'user', content: 'hi' }] });
  });

  it('passes the name and the variables as JSON text', async () => {
    const seen: string[] = [];
    const p = plugin([template('t')], (name, vars) => {
      seen.push(name, vars);
      return { ok: true, value: [{ role: 'system', content: 's' }, { role: 'assistant', content: 'a' }] };
    });
    const [loaded] = await readTemplates(p, 'p');
    expect(await renderTemplate(p, loaded!, { text: 'é' })).toEqual({ messages: [{ role: 'system', content: 's' }, { role: 'assistant', content: 'a' }] });
    expect(seen).toEqual(['t', '{"text":"é"}']);
  });

  it('turns the plugin\'s error into PROMPT_FAILED with its code', async () => {
    const p = plugin([template('t')], () => ({ ok: false, error: { code: 'invalid-input', message: 'text too long', details: 'stack' } }));
    const [loaded] = await readTemplates(p, 'p');
    await expect(renderTemplate(p, loaded!, { text: 'x' })).rejects.toMatchObject({ code: 'PROMPT_FAILED', pluginCode: 'invalid-input', details: 'stack', message: 'plugin `p` failed: text too long' });
  });

  it('refuses a rendering that is not a prompt', async () => {
    const results: [unknown, RegExp][] = [
      [[], /no messages/],
      ['text', /no messages/],
      [[{ role: 'tool', content: 'x' }], /role "tool"/],
      [[{ role: 'user' }], /without text/],
      [Array.from({ length: 257 }, () => ({ role: 'user', content: '' })), /257 messages/],
      [[{ role: 'user', content: 'x'.repeat(1024 * 1024 + 1) }], /bytes of text/],
    ];
    for (const [value, message] of results) {
      const p = plugin([template('t')], () => ({ ok: true, value }));
      const [loaded] = await readTemplates(p, 'p');
      await expect(renderTemplate(p, loaded!, { text: 'x' })).rejects.toMatchObject({ code: 'PROMPT_RESULT_INVALID', message: expect.stringMatching(message) });
    }
  });
});

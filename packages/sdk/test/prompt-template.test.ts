import { describe, expect, expectTypeOf, it } from 'vitest';
import { HostError, ToolError } from '../src/errors.js';
import { definePromptPlugin } from '../src/prompt-template.js';
import { thrownBy } from './helpers.js';

const plugin = definePromptPlugin({
  templates: {
    review: {
      description: 'Review code',
      variables: { type: 'object', properties: { language: { type: 'string' }, code: { type: 'string' } }, required: ['language', 'code'] },
      render: ({ language, code }) => {
        expectTypeOf(language).toBeString();
        return [
          { role: 'system', content: `You review ${language}.` },
          { role: 'user', content: code },
        ];
      },
    },
    plain: {
      description: 'One user message',
      variables: { type: 'object', properties: { n: { type: 'integer' } } },
      render: ({ n }) => {
        expectTypeOf(n).toEqualTypeOf<number | undefined>();
        return `n is ${n ?? 'unset'}`;
      },
    },
    later: {
      description: 'Async',
      variables: { type: 'object' },
      render: async () => [{ role: 'assistant', content: 'ok', extra: 1 } as never],
    },
  },
});

describe('definePromptPlugin', () => {
  it('is a prompt-template plugin with hooks', () => {
    expect(plugin.kind).toBe('prompt-template');
    expect(typeof plugin.lifecycle.init).toBe('function');
  });

  it('lists templates by name with JSON-text schemas', () => {
    const listed = plugin.exports.listTemplates();
    expect(listed.map((t) => t.name)).toEqual(['review', 'plain', 'later']);
    expect(JSON.parse(listed[0]!.variables)).toEqual({ type: 'object', properties: { language: { type: 'string' }, code: { type: 'string' } }, required: ['language', 'code'] });
    expect(listed[1]!.description).toBe('One user message');
  });

  it('renders messages, and a string as one user message', () => {
    expect(plugin.exports.render('review', '{"language":"ts","code":"let x"}')).toEqual([
      { role: 'system', content: 'You review ts.' },
      { role: 'user', content: 'let x' },
    ]);
    expect(plugin.exports.render('plain', '{"n":3}')).toEqual([{ role: 'user', content: 'n is 3' }]);
  });

  it('awaits an async render and passes only the record fields', async () => {
    await expect(plugin.exports.render('later', '{}')).resolves.toEqual([{ role: 'assistant', content: 'ok' }]);
  });

  it('throws a plain not-found record for an unknown template, never an Error', () => {
    const e = thrownBy(() => plugin.exports.render('nope', '{}'));
    expect(e).not.toBeInstanceOf(Error);
    expect(e).toEqual({ code: 'not-found', message: 'this plugin has no template named nope', details: expect.any(String) });
    // Names are own keys only.
    expect(thrownBy(() => plugin.exports.render('toString', '{}'))).toMatchObject({ code: 'not-found' });
  });

  it('maps what render throws, sync or async, to the error record', async () => {
    const failing = definePromptPlugin({
      templates: {
        coded: { description: '', variables: { type: 'object' }, render: () => { throw new ToolError('invalid-input', 'too long'); } },
        host: { description: '', variables: { type: 'object' }, render: () => { throw new HostError('storage', 'denied', 'no grant'); } },
        rejects: { description: '', variables: { type: 'object' }, render: async () => { throw new Error('boom'); } },
        wrong: { description: '', variables: { type: 'object' }, render: () => 42 as never },
      },
    });
    expect(thrownBy(() => failing.exports.render('coded', '{}'))).toMatchObject({ code: 'invalid-input', message: 'too long' });
    expect(thrownBy(() => failing.exports.render('host', '{}'))).toMatchObject({ code: 'host-denied' });
    const rejected = await (failing.exports.render('rejects', '{}') as Promise<unknown>).catch((e: unknown) => e);
    expect(rejected).not.toBeInstanceOf(Error);
    expect(rejected).toMatchObject({ code: 'error', message: 'boom' });
    expect(thrownBy(() => failing.exports.render('wrong', '{}'))).toMatchObject({ code: 'invalid-result' });
  });

  it('refuses a template name the host would refuse, when the plugin is defined', () => {
    expect(() => definePromptPlugin({ templates: { 'Bad Name': { description: '', variables: { type: 'object' }, render: () => '' } } })).toThrow(/template name "Bad Name" must match/);
  });

  it('types variables from the schema', () => {
    definePromptPlugin({
      templates: {
        t: {
          description: '',
          variables: { type: 'object', properties: { style: { enum: ['short', 'long'] } }, required: ['style'] },
          render: ({ style }) => {
            expectTypeOf(style).toEqualTypeOf<'short' | 'long'>();
            return style;
          },
        },
      },
    });
    definePromptPlugin({
      templates: {
        // @ts-expect-error variables must be an object schema
        t: { description: '', variables: { type: 'string' }, render: () => '' },
      },
    });
  });
});

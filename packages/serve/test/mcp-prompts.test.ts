import { describe, expect, it } from 'vitest';
import { AirlockError, type PromptInfo } from '@airlock/host';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { coerceArguments, promptError, toGetPromptResult, toMcpPrompt } from '../src/mcp-prompts.js';

const prompt: PromptInfo = {
  name: 'report',
  qualifiedName: 'acme.report',
  plugin: 'acme',
  description: 'A report',
  variables: {
    type: 'object',
    properties: {
      title: { type: 'string', description: 'Its title' },
      pages: { type: 'integer' },
      ratio: { type: 'number' },
      draft: { type: 'boolean' },
      tags: { type: 'array', items: { type: 'string' } },
      meta: { type: 'object' },
      level: { enum: [1, 2, 3] },
      style: { enum: ['short', 'long'] },
      note: { type: ['string', 'null'] },
      free: {},
    },
    required: ['title', 'pages'],
  },
};

describe('toMcpPrompt', () => {
  it('names the prompt by its qualified name, its arguments from the top-level properties', () => {
    const mcp = toMcpPrompt(prompt);
    expect(mcp).toMatchObject({ name: 'acme.report', title: 'report (acme)', description: 'A report' });
    expect(mcp.arguments![0]).toEqual({ name: 'title', description: 'Its title', required: true });
    expect(mcp.arguments!.find((a) => a.name === 'pages')).toEqual({ name: 'pages', required: true });
    expect(mcp.arguments!.filter((a) => a.required).map((a) => a.name)).toEqual(['title', 'pages']);
    expect(toMcpPrompt({ ...prompt, variables: { type: 'object' } }).arguments).toEqual([]);
  });
});

describe('coerceArguments', () => {
  it('reads each string argument as its property\'s type', () => {
    expect(
      coerceArguments(prompt, { title: '42', pages: ' 3 ', ratio: '0.5', draft: 'true', tags: '["a","b"]', meta: '{"k":1}', level: '2', style: 'long', note: 'null', free: 'x', extra: '1' }),
    ).toEqual({ title: '42', pages: 3, ratio: 0.5, draft: true, tags: ['a', 'b'], meta: { k: 1 }, level: 2, style: 'long', note: 'null', free: 'x', extra: '1' });
  });

  it('leaves what cannot be read as its type for the schema check to name', () => {
    expect(coerceArguments(prompt, { pages: 'three', draft: 'yes', tags: '[oops', ratio: '' })).toEqual({ pages: 'three', draft: 'yes', tags: '[oops', ratio: '' });
    expect(coerceArguments(prompt, undefined)).toEqual({});
  });
});

describe('toGetPromptResult', () => {
  it('sends system messages as user messages, MCP prompts having no system role', () => {
    expect(toGetPromptResult(prompt, { messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }] })).toEqual({
      description: 'A report',
      messages: [
        { role: 'user', content: { type: 'text', text: 's' } },
        { role: 'user', content: { type: 'text', text: 'u' } },
        { role: 'assistant', content: { type: 'text', text: 'a' } },
      ],
    });
  });
});

describe('promptError', () => {
  it('makes the caller\'s mistakes invalid params, the rest internal errors', () => {
    expect(promptError(new AirlockError('PROMPT_ARGUMENTS_INVALID', 'bad', { hint: 'fix it' }))).toMatchObject({ code: ErrorCode.InvalidParams, message: expect.stringContaining('PROMPT_ARGUMENTS_INVALID: bad Hint: fix it') });
    expect(promptError(new AirlockError('PROMPT_FAILED', 'boom')).code).toBe(ErrorCode.InternalError);
    expect(promptError(new Error('x')).code).toBe(ErrorCode.InternalError);
  });
});

/**
 * The deterministic rules, as pure functions.
 */
import { describe, expect, it } from 'vitest';
import { countTokens, planCompletion, specialModel, splitWords, usage } from '../src/rules.js';
import type { ChatCompletionRequest } from '../src/types.js';

const request = (content: string, extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content }],
  ...extra,
});
const tool = (name: string) => ({ type: 'function' as const, function: { name } });

describe('tokens', () => {
  it('counts whitespace-separated words', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('  one\ttwo\n three  ')).toBe(3);
  });

  it('splits into word pieces that join back into the text', () => {
    for (const text of ['', '   ', ' lead and trail ', 'a\n\nb', 'one']) expect(splitWords(text).join('')).toBe(text);
    expect(splitWords(' a  b')).toEqual([' a  ', 'b']);
  });

  it('counts 1 per message plus its words as prompt tokens', () => {
    const twoMessages: ChatCompletionRequest = { model: 'm', messages: [{ role: 'system', content: null }, { role: 'user', content: 'a b' }] };
    expect(usage(twoMessages, planCompletion(twoMessages))).toEqual({ prompt_tokens: 4, completion_tokens: 4, total_tokens: 8 });
  });
});

describe('answers', () => {
  it('echoes the last user message, even when an assistant message follows it', () => {
    const echo: ChatCompletionRequest = { model: 'm', messages: [{ role: 'user', content: 'first' }, { role: 'user', content: 'second' }, { role: 'assistant', content: 'ok' }] };
    expect(planCompletion(echo)).toEqual({ kind: 'text', text: 'You said: second', finishReason: 'stop' });
  });

  it('does not cut at exactly max_tokens', () => {
    expect(planCompletion(request('a b', { max_tokens: 4 }))).toMatchObject({ text: 'You said: a b', finishReason: 'stop' });
  });

  it('picks the tool mentioned first, as a whole word', () => {
    const tools = [tool('lookup'), tool('look')];
    expect(planCompletion(request('look then lookup', { tools }))).toMatchObject({ kind: 'tool_call', name: 'look' });
    expect(planCompletion(request('lookup, then look', { tools }))).toMatchObject({ kind: 'tool_call', name: 'lookup' });
    expect(planCompletion(request('my-lookup looks', { tools }))).toMatchObject({ kind: 'text' });
  });

  it('takes the first JSON object after the tool name, skipping braces that are not JSON', () => {
    const tools = [tool('search')];
    const plan = (content: string) => planCompletion(request(content, { tools }));
    expect(plan('{"before": 1} search {not json} {"q": "a}b", "n": {"deep": true}} {"later": 2}')).toMatchObject({
      arguments: '{"q":"a}b","n":{"deep":true}}',
    });
    expect(plan('search [1, 2] {"unclosed": ')).toMatchObject({ arguments: '{}' });
  });

  it('ignores tools unless the last message is the user’s', () => {
    const toolResult: ChatCompletionRequest = { model: 'm', tools: [tool('search')], messages: [{ role: 'user', content: 'search' }, { role: 'tool', content: [{ type: 'text', text: '42' }] }] };
    expect(planCompletion(toolResult)).toMatchObject({ kind: 'text', text: 'The tool returned: 42' });
  });
});

describe('special models', () => {
  it('recognises bench-<n> and stall, and nothing else', () => {
    expect(specialModel('bench-12')).toEqual({ kind: 'bench', chunks: 12 });
    expect(specialModel('stall')).toEqual({ kind: 'stall' });
    for (const id of ['bench-0', 'bench-01', 'bench-', 'bench-1000001', 'stalls', 'gpt-4o-mini']) expect(specialModel(id)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { AirlockError, type ChatOptions, type ChatRequest, type ChatStreamEvent, type ToolInfo } from '@airlock/host';
import { ToolCallAssembler, chatToolNames, runChatLoop, type ChatLoopHost, type ToolCallEvent, type ToolResultEvent } from '../src/chat-loop.js';

const tool = (plugin: string, name: string): ToolInfo => ({
  name,
  qualifiedName: `${plugin}.${name}`,
  plugin,
  description: `${name} from ${plugin}`,
  parameters: { type: 'object' },
  risk: 'read-only',
});

const done = (finishReason: 'stop' | 'tool-calls'): ChatStreamEvent => ({ type: 'done', finishReason, provider: 'fake', model: 'm', redactions: 0 });

/** A host whose provider answers round n with `rounds[n]` (the last one repeats), and whose tools run `tools`. */
function fakeHost(rounds: ChatStreamEvent[][], tools: Record<string, (args: unknown) => unknown>, infos = [tool('notes', 'count_words'), tool('notes', 'explode')]) {
  const requests: ChatRequest[] = [];
  const signals: (AbortSignal | undefined)[] = [];
  const calls: [string, unknown][] = [];
  const host: ChatLoopHost = {
    tools: () => infos,
    chatStream(request: ChatRequest, options: ChatOptions = {}) {
      // A copy: the loop goes on appending to its conversation.
      requests.push(structuredClone(request));
      signals.push(options.signal);
      const events = rounds[Math.min(requests.length - 1, rounds.length - 1)]!;
      return (async function* () {
        yield* events;
      })();
    },
    async callTool(name: string, args: unknown) {
      calls.push([name, args]);
      return tools[name]!(args);
    },
  };
  return { host, requests, signals, calls };
}

const user = { role: 'user' as const, content: 'How many words in "a b"?' };

describe('runChatLoop', () => {
  it('runs the tool calls the model streams and sends the results back', async () => {
    const { host, requests, calls } = fakeHost(
      [
        [
          { type: 'text-delta', text: 'Let me count.' },
          { type: 'tool-call-delta', index: 0, id: 'call_a', name: 'count_words', arguments: '{"te' },
          { type: 'tool-call-delta', index: 1, id: 'call_b', name: 'explode', arguments: '' },
          { type: 'tool-call-delta', index: 0, arguments: 'xt":"a b"}' },
          { type: 'usage', usage: { promptTokens: 10, completionTokens: 5 } },
          done('tool-calls'),
        ],
        [{ type: 'text-delta', text: 'Two words.' }, { type: 'usage', usage: { promptTokens: 30, completionTokens: 3 } }, done('stop')],
      ],
      {
        'notes.count_words': (args) => ({ words: String((args as { text: string }).text).split(' ').length }),
        'notes.explode': () => {
          throw new AirlockError('TOOL_FAILED', 'plugin `notes` failed: boom', { plugin: 'notes' });
        },
      },
    );
    const events: ChatStreamEvent[] = [];
    const toolCalls: ToolCallEvent[] = [];
    const results: ToolResultEvent[] = [];
    const outcome = await runChatLoop(host, { messages: [user] }, { onEvent: (e) => events.push(e), onToolCall: (c) => toolCalls.push(c), onToolResult: (r) => results.push(r) });

    expect(calls).toEqual([['notes.count_words', { text: 'a b' }], ['notes.explode', {}]]);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.tools).toEqual([
      { name: 'count_words', description: 'count_words from notes', parameters: { type: 'object' } },
      { name: 'explode', description: 'explode from notes', parameters: { type: 'object' } },
    ]);
    expect(requests[1]!.messages).toEqual([
      user,
      {
        role: 'assistant',
        content: 'Let me count.',
        toolCalls: [
          { id: 'call_a', name: 'count_words', arguments: '{"text":"a b"}' },
          { id: 'call_b', name: 'explode', arguments: '' },
        ],
      },
      { role: 'tool', toolCallId: 'call_a', content: '{"words":2}' },
      { role: 'tool', toolCallId: 'call_b', content: JSON.stringify({ error: { code: 'TOOL_FAILED', message: 'plugin `notes` failed: boom' } }) },
    ]);
    expect(toolCalls).toEqual([
      { id: 'call_a', name: 'count_words', tool: 'notes.count_words', arguments: { text: 'a b' } },
      { id: 'call_b', name: 'explode', tool: 'notes.explode', arguments: {} },
    ]);
    expect(results).toEqual([
      { id: 'call_a', name: 'count_words', tool: 'notes.count_words', result: { words: 2 } },
      { id: 'call_b', name: 'explode', tool: 'notes.explode', error: { code: 'TOOL_FAILED', message: 'plugin `notes` failed: boom' } },
    ]);
    expect(events.filter((e) => e.type === 'done')).toHaveLength(2);
    expect(outcome).toMatchObject({ finishReason: 'stop', rounds: 2, usage: { promptTokens: 40, completionTokens: 8 }, provider: 'fake', model: 'm' });
    expect(outcome.messages.at(-1)).toEqual({ role: 'assistant', content: 'Two words.' });
  });

  it('answers arguments that are not JSON, or a tool never offered, with an error and goes on', async () => {
    const { host, requests, calls } = fakeHost(
      [
        [
          { type: 'tool-call-delta', index: 0, id: 'c1', name: 'count_words', arguments: '{"text":' },
          { type: 'tool-call-delta', index: 1, id: 'c2', name: 'rm_rf', arguments: '{}' },
          done('tool-calls'),
        ],
        [{ type: 'text-delta', text: 'Sorry.' }, done('stop')],
      ],
      {},
    );
    const outcome = await runChatLoop(host, { messages: [user] });
    expect(calls).toEqual([]);
    const [bad, unknown] = requests[1]!.messages.slice(2).map((m) => JSON.parse(m.content) as { error: { code: string; message: string } });
    expect(bad!.error.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(bad!.error.message).toMatch(/^the arguments are not valid JSON: /);
    expect(unknown).toEqual({ error: { code: 'TOOL_NOT_FOUND', message: 'no tool `rm_rf` was offered' } });
    expect(outcome.finishReason).toBe('stop');
  });

  it('stops with TOOL_ROUNDS_EXCEEDED when the model still wants tools after the last round', async () => {
    const { host, requests, calls } = fakeHost([[{ type: 'tool-call-delta', index: 0, id: 'c', name: 'count_words', arguments: '{"text":"x"}' }, done('tool-calls')]], {
      'notes.count_words': () => ({ words: 1 }),
    });
    await expect(runChatLoop(host, { messages: [user] })).rejects.toMatchObject({ code: 'TOOL_ROUNDS_EXCEEDED', message: 'the model still asked for tools after 8 rounds; stopped' });
    expect(requests).toHaveLength(8);
    expect(calls).toHaveLength(7);
    await expect(runChatLoop(host, { messages: [user] }, { maxRounds: 2 })).rejects.toMatchObject({ code: 'TOOL_ROUNDS_EXCEEDED' });
  });

  it('offers no tools with tools: false, and passes the signal to every stream', async () => {
    const { host, requests, signals } = fakeHost([[{ type: 'text-delta', text: 'hi' }, done('stop')]], {});
    const controller = new AbortController();
    const outcome = await runChatLoop(host, { messages: [user], model: 'm' }, { tools: false, signal: controller.signal });
    expect(requests[0]).toEqual({ messages: [user], model: 'm' });
    expect(signals).toEqual([controller.signal]);
    expect(outcome).toMatchObject({ rounds: 1, usage: undefined });
  });

  it('names a tool that several plugins offer <plugin>__<name>, and calls the one the model picked', async () => {
    const { host, requests, calls } = fakeHost(
      [[{ type: 'tool-call-delta', index: 0, id: 'c', name: 'web__search', arguments: '{"q":"x"}' }, done('tool-calls')], [done('stop')]],
      { 'web.search': () => ['result'] },
      [tool('notes', 'search'), tool('web', 'search'), tool('web', 'fetch')],
    );
    await runChatLoop(host, { messages: [user] });
    expect(requests[0]!.tools!.map((t) => t.name)).toEqual(['notes__search', 'web__search', 'fetch']);
    expect(calls).toEqual([['web.search', { q: 'x' }]]);
  });
});

describe('ToolCallAssembler', () => {
  const fragment = (index: number, rest: { id?: string; name?: string; arguments?: string }) => ({ type: 'tool-call-delta' as const, index, arguments: '', ...rest });

  it('joins the fragments of each call by index, in index order', () => {
    const calls = new ToolCallAssembler();
    calls.add(fragment(1, { id: 'call_b', name: 'explode' }));
    calls.add(fragment(0, { id: 'call_a', name: 'count_words', arguments: '{"te' }));
    calls.add(fragment(0, { arguments: 'xt":"a b"}' }));
    expect(calls.calls()).toEqual([
      { id: 'call_a', name: 'count_words', arguments: '{"text":"a b"}' },
      { id: 'call_b', name: 'explode', arguments: '' },
    ]);
  });

  it('keeps the first id and name a call was given, and names a call without an id by its index', () => {
    const calls = new ToolCallAssembler();
    calls.add(fragment(0, { id: 'call_first', name: 'count_words', arguments: '{}' }));
    calls.add(fragment(0, { id: 'call_second', name: 'explode' }));
    calls.add(fragment(3, { name: 'count_words', arguments: '{}' }));
    expect(calls.calls()).toEqual([
      { id: 'call_first', name: 'count_words', arguments: '{}' },
      { id: 'call_3', name: 'count_words', arguments: '{}' },
    ]);
  });
});

describe('chatToolNames', () => {
  it('keeps every name within what providers accept', () => {
    const long = 'p'.repeat(60);
    const names = [...chatToolNames([tool(long, 'search'), tool('other', 'search'), tool('x', 'other__search')]).keys()];
    expect(names).toHaveLength(3);
    expect(new Set(names).size).toBe(3);
    for (const n of names) expect(n).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(names[1]).toMatch(/^other__search_[0-9a-f]{8}$/);
  });
});

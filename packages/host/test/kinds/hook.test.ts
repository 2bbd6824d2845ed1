// The hook chain is the host's own: driven here by fake hook plugins that answer
// from a script, so order, verdicts, rewrite checks and failure handling are
// checked without a component. The sample redact-hook plugin tests the same
// paths end to end through a real host.
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/errors.js';
import { HookChain, afterChat, afterChatStream, afterToolCall, beforeChat, beforeToolCall, chatStreamThroughHooks, chatThroughHooks, readHookInfo, toolCallThroughHooks, type HookContext, type HookHandle, type HookInfo } from '../../src/kinds/hook.js';
import type { CallOutcome, PluginCaller } from '../../src/sandbox/instance.js';
import type { ToolInfo } from '../../src/kinds/tool.js';
import type { ChatRequest, ChatResult, ChatStreamEvent } from '../../src/kinds/provider.js';

type Answer = CallOutcome | Error | ((fn: string, args: unknown[]) => CallOutcome);

/** A hook plugin that answers every call with `answer`, and records what it was shown. */
function hook(id: string, answer: Answer, info: HookInfo = { points: ['before-tool-call', 'after-tool-call', 'before-chat', 'after-chat'], priority: 0 }): HookHandle & { seen: { fn: string; args: unknown[] }[] } {
  const seen: { fn: string; args: unknown[] }[] = [];
  const caller: PluginCaller = {
    async call(fn, args) {
      seen.push({ fn, args });
      if (answer instanceof Error) throw answer;
      return typeof answer === 'function' ? answer(fn, args) : answer;
    },
  };
  return { id, info, caller, seen };
}

const allow: CallOutcome = { ok: true, value: { tag: 'allow' } };
const deny = (reason: string): CallOutcome => ({ ok: true, value: { tag: 'deny', val: reason } });
const rewrite = (value: unknown): CallOutcome => ({ ok: true, value: { tag: 'rewrite', val: typeof value === 'string' ? value : JSON.stringify(value) } });

function context(maxBytes = 1 << 20): HookContext & { records: Parameters<HookContext['audit']>[0][]; logs: { level: string; message: string; plugin: string }[] } {
  const records: Parameters<HookContext['audit']>[0][] = [];
  const logs: { level: string; message: string; plugin: string }[] = [];
  return { maxBytes, records, logs, audit: (e) => records.push(e), log: (level, message, plugin) => logs.push({ level, message, plugin }) };
}

const tool: ToolInfo = {
  name: 'add_note',
  qualifiedName: 'notes.add_note',
  plugin: 'notes',
  description: 'Add a note',
  parameters: { type: 'object', properties: { title: { type: 'string' }, body: { type: 'string' } }, required: ['title'], additionalProperties: false },
  risk: 'write',
};

async function rejection(p: Promise<unknown>): Promise<AirlockError> {
  try {
    await p;
  } catch (e) {
    expect(AirlockError.isInstance(e)).toBe(true);
    return e as AirlockError;
  }
  throw new Error('expected a rejection');
}

describe('readHookInfo', () => {
  it('reads the points and priority, each point once', async () => {
    const h = hook('policy', { ok: true, value: { points: ['before-chat', 'before-chat', 'after-tool-call'], priority: -3 } });
    expect(await readHookInfo(h.caller, 'policy', ['before-chat', 'after-tool-call'])).toEqual({ points: ['before-chat', 'after-tool-call'], priority: -3 });
    expect(h.seen).toEqual([{ fn: 'hook.info', args: [] }]);
  });

  it('refuses a point the manifest does not declare, saying what to add and grant', async () => {
    const h = hook('policy', { ok: true, value: { points: ['before-tool-call', 'after-chat'], priority: 0 } });
    const e = await rejection(readHookInfo(h.caller, 'policy', ['before-tool-call']));
    expect(e.code).toBe('MANIFEST_INVALID');
    expect(e.message).toBe('plugin `policy` hooks after-chat, which its manifest does not declare in "capabilities.hooks"');
    expect(e.hint).toContain('Add "after-chat" to "capabilities.hooks"');
    expect(e.hint).toContain('`airlock grant policy hooks after-chat`');
    expect((await rejection(readHookInfo(h.caller, 'policy', undefined))).code).toBe('MANIFEST_INVALID');
  });

  it('refuses malformed info and reports a failing one', async () => {
    expect((await rejection(readHookInfo(hook('p', { ok: true, value: { points: ['sideways'], priority: 0 } }).caller, 'p', ['before-chat']))).message).toContain('unknown hook point "sideways"');
    expect((await rejection(readHookInfo(hook('p', { ok: true, value: { points: [], priority: 1.5 } }).caller, 'p', []))).code).toBe('COMPONENT_INVALID');
    const failed = await rejection(readHookInfo(hook('p', { ok: false, error: 'no config' }).caller, 'p', []));
    expect([failed.code, failed.message]).toEqual(['PLUGIN_ERROR', 'plugin `p` failed in hook info: no config']);
  });
});

describe('HookChain', () => {
  it('orders hooks by priority, then plugin id, per point', () => {
    const chain = new HookChain([
      hook('zeta', allow, { points: ['before-tool-call'], priority: 0 }),
      hook('alpha', allow, { points: ['before-tool-call', 'after-chat'], priority: 0 }),
      hook('late', allow, { points: ['before-tool-call'], priority: 10 }),
      hook('early', allow, { points: ['after-chat'], priority: -10 }),
    ]);
    expect(chain.all.map((h) => h.id)).toEqual(['early', 'alpha', 'zeta', 'late']);
    expect(chain.at('before-tool-call').map((h) => h.id)).toEqual(['alpha', 'zeta', 'late']);
    expect(chain.at('after-chat').map((h) => h.id)).toEqual(['early', 'alpha']);
    expect(chain.at('before-chat')).toEqual([]);
    expect(new HookChain().all).toEqual([]);
  });
});

describe('before-tool-call', () => {
  it('passes the arguments on unchanged when every hook allows, and audits each', async () => {
    const ctx = context();
    const a = hook('a', allow);
    const b = hook('b', allow);
    expect(await beforeToolCall([a, b], ctx, tool, { title: 'x' })).toEqual({ title: 'x' });
    expect(a.seen).toEqual([{ fn: 'hook.beforeToolCall', args: [{ plugin: 'notes', tool: 'add_note', arguments: '{"title":"x"}', risk: 'write' }] }]);
    expect(ctx.records).toEqual([
      { plugin: 'a', action: 'before-tool-call', target: 'notes.add_note', outcome: 'allowed', detail: undefined },
      { plugin: 'b', action: 'before-tool-call', target: 'notes.add_note', outcome: 'allowed', detail: undefined },
    ]);
  });

  it('refuses with HOOK_DENIED, the reason and the hook plugin, and asks no later hook', async () => {
    const ctx = context();
    const later = hook('later', allow);
    const e = await rejection(beforeToolCall([hook('policy', deny('notes are read-only today')), later], ctx, tool, { title: 'x' }));
    expect([e.code, e.plugin]).toEqual(['HOOK_DENIED', 'policy']);
    expect(e.message).toBe('hook plugin `policy` refused the call of `notes.add_note` (before-tool-call): notes are read-only today');
    expect(later.seen).toEqual([]);
    expect(ctx.records).toEqual([{ plugin: 'policy', action: 'before-tool-call', target: 'notes.add_note', outcome: 'refused', detail: 'notes are read-only today' }]);
  });

  it('hands a rewrite to the next hook, and returns the last one', async () => {
    const ctx = context();
    const second = hook('second', (_fn, args) => rewrite({ ...JSON.parse((args[0] as { arguments: string }).arguments), body: 'two' }));
    const out = await beforeToolCall([hook('first', rewrite({ title: 'one' })), second], ctx, tool, { title: 'x' });
    expect(out).toEqual({ title: 'one', body: 'two' });
    expect((second.seen[0]!.args[0] as { arguments: string }).arguments).toBe('{"title":"one"}');
    expect(ctx.records.map((r) => r.outcome)).toEqual(['rewritten', 'rewritten']);
  });

  it.each([
    ['not JSON', '{title', 'into text that is not JSON'],
    ['not an object', '[1]', 'into something that is not a JSON object'],
    ['refused by the schema', '{"title":3}', 'into ones its schema refuses: /title must be string'],
    ['with a property the schema forbids', '{"title":"x","extra":1}', 'into ones its schema refuses'],
  ])('refuses a rewrite %s with HOOK_REWRITE_INVALID', async (_what, text, message) => {
    const e = await rejection(beforeToolCall([hook('bad', rewrite(text))], context(), tool, { title: 'x' }));
    expect([e.code, e.plugin]).toEqual(['HOOK_REWRITE_INVALID', 'bad']);
    expect(e.message).toContain(message);
  });

  it('refuses a rewrite over the size limit', async () => {
    const e = await rejection(beforeToolCall([hook('big', rewrite({ title: 'x'.repeat(200) }))], context(100), tool, { title: 'x' }));
    expect(e.code).toBe('HOOK_REWRITE_INVALID');
    expect(e.message).toMatch(/into 21\d bytes, over the host's limit of 100 bytes/);
  });

  it.each([
    ['returns an error', { ok: false, error: 'policy store unreachable' } as Answer, 'policy store unreachable'],
    ['traps', new AirlockError('PLUGIN_TRAPPED', 'plugin `bad` trapped in hook.beforeToolCall: unreachable') as Answer, 'trapped'],
    ['times out', new AirlockError('PLUGIN_TIMEOUT', 'plugin `bad` timed out') as Answer, 'timed out'],
    ['returns a verdict nobody knows', { ok: true, value: { tag: 'maybe' } } as Answer, 'a verdict the host does not know'],
  ])('fails closed when a hook %s', async (_what, answer, message) => {
    const ctx = context();
    const e = await rejection(beforeToolCall([hook('bad', answer)], ctx, tool, { title: 'x' }));
    expect([e.code, e.plugin]).toEqual(['HOOK_FAILED', 'bad']);
    expect(e.message).toContain('so the call was refused (hooks fail closed)');
    expect(e.message).toContain(message);
    expect(ctx.records[0]).toMatchObject({ plugin: 'bad', outcome: 'refused' });
  });

  it('lets the caller\'s abort through as it is', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    const ctx = { ...context(), signal: controller.signal };
    await expect(beforeToolCall([hook('h', new Error('aborted in the call'))], ctx, tool, { title: 'x' })).rejects.toThrow('aborted in the call');
  });
});

describe('after-tool-call', () => {
  it('shows the result, and replaces it with a rewrite', async () => {
    const ctx = context();
    const h = hook('h', rewrite({ id: 1, title: '[email]' }));
    expect(await afterToolCall([h], ctx, tool, { title: 'x' }, { ok: true, value: { id: 1, title: 'a@b.c' } })).toEqual({ id: 1, title: '[email]' });
    expect(h.seen[0]!.args[1]).toEqual({ tag: 'ok', val: '{"id":1,"title":"a@b.c"}' });
  });

  it('withholds the result on deny', async () => {
    const e = await rejection(afterToolCall([hook('h', deny('contains a secret'))], context(), tool, {}, { ok: true, value: 1 }));
    expect([e.code, e.message]).toEqual(['HOOK_DENIED', 'hook plugin `h` refused the call of `notes.add_note` (after-tool-call): contains a secret']);
  });

  it('shows an error, and rethrows it when allowed', async () => {
    const error = new AirlockError('TOOL_FAILED', 'plugin `notes` failed: disk full');
    const h = hook('h', allow);
    expect(await rejection(afterToolCall([h], context(), tool, {}, { ok: false, error }))).toBe(error);
    expect(h.seen[0]!.args[1]).toEqual({ tag: 'error', val: 'plugin `notes` failed: disk full' });
  });

  it('logs and skips a failing hook, and goes on with the next', async () => {
    const ctx = context();
    const out = await afterToolCall([hook('broken', { ok: false, error: 'oops' }), hook('trapped', new AirlockError('PLUGIN_TRAPPED', 'trapped')), hook('fine', rewrite(2))], ctx, tool, {}, { ok: true, value: 1 });
    expect(out).toBe(2);
    expect(ctx.logs).toEqual([
      { level: 'warn', plugin: 'broken', message: 'its after-tool-call hook failed for `notes.add_note` and was skipped: oops' },
      { level: 'warn', plugin: 'trapped', message: 'its after-tool-call hook failed for `notes.add_note` and was skipped: trapped' },
    ]);
  });

  it('refuses a result rewritten into text that is not JSON: a redaction gone wrong must not pass the original', async () => {
    const e = await rejection(afterToolCall([hook('sloppy', rewrite('{nope'))], context(), tool, {}, { ok: true, value: 1 }));
    expect([e.code, e.plugin]).toEqual(['HOOK_REWRITE_INVALID', 'sloppy']);
  });
});

const request: ChatRequest = {
  messages: [{ role: 'user', content: 'mail bob@example.com' }],
  tools: [
    { name: 'a', description: 'A', parameters: { type: 'object' } },
    { name: 'b', description: 'B', parameters: { type: 'object' } },
  ],
};

describe('before-chat', () => {
  it('shows the request with the resolved model, and secrets replaced when the call redacts', async () => {
    const h = hook('h', allow);
    const req = { ...request, messages: [{ role: 'user' as const, content: 'API_KEY=sk-abcdefghijklmnopqrstuvwx' }] };
    expect(await beforeChat([h], context(), 'openai', req, 'gpt', true)).toBe(req);
    const [provider, text] = h.seen[0]!.args as [string, string];
    expect(provider).toBe('openai');
    const shown = JSON.parse(text);
    expect(shown.model).toBe('gpt');
    expect(shown.messages[0].content).not.toContain('sk-abcdefghijklmnopqrstuvwx');
    expect(shown.tools.map((t: { name: string }) => t.name)).toEqual(['a', 'b']);
  });

  it('takes a rewrite that keeps the model and offers fewer tools, with the caller\'s tool definitions', async () => {
    const rewritten = { model: 'gpt', messages: [{ role: 'user', content: 'mail [email]' }], tools: [{ name: 'b', description: 'changed', parameters: {} }], temperature: 0 };
    const out = await beforeChat([hook('h', rewrite(rewritten))], context(), 'openai', { ...request, provider: 'openai' }, 'gpt', true);
    expect(out).toEqual({ provider: 'openai', model: 'gpt', messages: [{ role: 'user', content: 'mail [email]' }], tools: [request.tools![1]], temperature: 0 });
  });

  it.each([
    ['another model', { model: 'other', messages: [{ role: 'user', content: 'x' }] }, 'the model must stay "gpt"'],
    ['no messages', { model: 'gpt', messages: [] }, '`messages` must be a non-empty list'],
    ['a bad role', { model: 'gpt', messages: [{ role: 'root', content: 'x' }] }, 'messages[0].role must be one of'],
    ['a tool not offered', { model: 'gpt', messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'c' }] }, 'tools[0] ("c") is not one of the tools the request offered'],
    ['a bad maxTokens', { model: 'gpt', messages: [{ role: 'user', content: 'x' }], maxTokens: -1 }, '`maxTokens` must be a positive integer'],
  ])('refuses a rewrite with %s', async (_what, rewritten, message) => {
    const e = await rejection(beforeChat([hook('h', rewrite(rewritten))], context(), 'openai', request, 'gpt', true));
    expect(e.code).toBe('HOOK_REWRITE_INVALID');
    expect(e.message).toContain(message);
  });
});

const result: ChatResult = { message: { role: 'assistant', content: 'write to bob@example.com' }, finishReason: 'stop', usage: { promptTokens: 3, completionTokens: 4 }, provider: 'openai', model: 'gpt', redactions: 0 };

describe('after-chat', () => {
  it('shows request and response, and takes a checked rewrite, keeping provider and model', async () => {
    const h = hook('h', rewrite({ message: { role: 'assistant', content: 'write to [email]' }, finishReason: 'stop' }));
    const out = await afterChat([h], context(), 'openai', request, 'gpt', false, result);
    expect(out).toEqual({ ...result, message: { role: 'assistant', content: 'write to [email]' }, usage: undefined });
    const [, req, res] = h.seen[0]!.args as [string, string, string];
    expect(JSON.parse(req).messages[0].content).toBe('mail bob@example.com');
    expect(JSON.parse(res)).toEqual({ message: result.message, finishReason: 'stop', usage: result.usage });
  });

  it('refuses a malformed rewrite', async () => {
    const ctx = context();
    const e = await rejection(afterChat([hook('h', rewrite({ message: { role: 'assistant', content: 'x' }, finishReason: 'bored' }))], ctx, 'openai', request, 'gpt', false, result));
    expect(e.code).toBe('HOOK_REWRITE_INVALID');
    expect(ctx.records[0]).toMatchObject({ outcome: 'refused', detail: expect.stringContaining('finishReason must be one of') });
  });

  it('keeps the answer the assistant\'s', async () => {
    const e = await rejection(afterChat([hook('h', rewrite({ message: { role: 'system', content: 'x' }, finishReason: 'stop' }))], context(), 'openai', request, 'gpt', false, result));
    expect(e.message).toContain('message.role must stay assistant, found "system"');
  });

  it('denies with HOOK_DENIED', async () => {
    expect((await rejection(afterChat([hook('h', deny('off-topic'))], context(), 'openai', request, 'gpt', false, result))).code).toBe('HOOK_DENIED');
  });

  it('sees a streamed answer once, assembled, after it ended; what it says is only logged', async () => {
    async function* events(): AsyncGenerator<ChatStreamEvent> {
      yield { type: 'text-delta', text: 'hel' };
      yield { type: 'text-delta', text: 'lo' };
      yield { type: 'tool-call-delta', index: 0, id: 'c1', name: 'a', arguments: '{"x"' };
      yield { type: 'tool-call-delta', index: 0, arguments: ':1}' };
      yield { type: 'usage', usage: { promptTokens: 1, completionTokens: 2 } };
      yield { type: 'done', finishReason: 'tool-calls', provider: 'openai', model: 'gpt', redactions: 0 };
    }
    const ctx = context();
    const h = hook('h', deny('too chatty'));
    const seen: ChatStreamEvent[] = [];
    for await (const e of afterChatStream([h], ctx, 'openai', request, 'gpt', false, events())) seen.push(e);
    expect(seen.map((e) => e.type)).toEqual(['text-delta', 'text-delta', 'tool-call-delta', 'tool-call-delta', 'usage', 'done']);
    expect(h.seen).toHaveLength(1);
    expect(JSON.parse((h.seen[0]!.args as string[])[2]!)).toEqual({
      message: { role: 'assistant', content: 'hello', toolCalls: [{ id: 'c1', name: 'a', arguments: '{"x":1}' }] },
      finishReason: 'tool-calls',
      usage: { promptTokens: 1, completionTokens: 2 },
    });
    expect(ctx.records[0]).toMatchObject({ outcome: 'refused', detail: 'too chatty' });
    expect(ctx.logs[0]).toMatchObject({ level: 'warn', plugin: 'h', message: expect.stringContaining('was not applied (the stream had ended)') });
  });

  it('shows no hook a stream that did not end', async () => {
    async function* broken(): AsyncGenerator<ChatStreamEvent> {
      yield { type: 'text-delta', text: 'x' };
      throw new Error('backend gone');
    }
    const h = hook('h', allow);
    await expect(async () => {
      for await (const _ of afterChatStream([h], context(), 'openai', request, 'gpt', false, broken()));
    }).rejects.toThrow('backend gone');
    expect(h.seen).toEqual([]);
  });
});

describe('around the host\'s calls', () => {
  const only = (id: string, answer: Answer, points: HookInfo['points']) => hook(id, answer, { points, priority: 0 });

  it('checks the caller\'s arguments before any hook sees them', async () => {
    const h = only('h', allow, ['before-tool-call']);
    const e = await rejection(toolCallThroughHooks(new HookChain([h]), context(), tool, { title: 1 }, async () => 'ran', (x) => x));
    expect(e.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(h.seen).toEqual([]);
  });

  it('runs the tool with the rewritten arguments, and shows its masked error to the after hooks', async () => {
    const ran: unknown[] = [];
    const chain = new HookChain([only('b', rewrite({ title: 'clean' }), ['before-tool-call']), only('a', allow, ['after-tool-call'])]);
    const run = async (args: unknown) => {
      ran.push(args);
      throw new AirlockError('TOOL_FAILED', 'failed with sk-secret');
    };
    const masked = (err: unknown) => new AirlockError('TOOL_FAILED', (err as Error).message.replace('sk-secret', '***'));
    const e = await rejection(toolCallThroughHooks(chain, context(), tool, { title: 'x' }, run, masked));
    expect(ran).toEqual([{ title: 'clean' }]);
    expect(e.message).toBe('failed with ***');
    expect((chain.at('after-tool-call')[0] as ReturnType<typeof hook>).seen[0]!.args[1]).toEqual({ tag: 'error', val: 'failed with ***' });
  });

  const chat = { provider: 'echo', defaultModel: 'echo-1', redact: false };

  it('sends the provider the request the before-chat hooks let through, with the default model, and checks the caller\'s first', async () => {
    const chain = new HookChain([only('r', (_fn, args) => rewrite({ ...JSON.parse(args[1] as string), messages: [{ role: 'user', content: 'rewritten' }] }), ['before-chat'])]);
    const sent: ChatRequest[] = [];
    const out = await chatThroughHooks(chain, context(), chat, { provider: 'echo', messages: [{ role: 'user', content: 'hi' }] }, async (req) => {
      sent.push(req);
      return { ...result, message: { role: 'assistant', content: req.messages[0]!.content } };
    });
    expect(sent).toEqual([{ provider: 'echo', model: 'echo-1', messages: [{ role: 'user', content: 'rewritten' }] }]);
    expect(out.message.content).toBe('rewritten');
    expect((await rejection(chatThroughHooks(chain, context(), chat, { messages: [] }, async () => result))).code).toBe('CHAT_REQUEST_INVALID');
  });

  it('streams the rewritten request\'s answer, then shows it to the after-chat hooks', async () => {
    const after = only('after', allow, ['after-chat']);
    const chain = new HookChain([only('before', rewrite({ model: 'echo-1', messages: [{ role: 'user', content: 'b' }] }), ['before-chat']), after]);
    async function* echo(req: ChatRequest): AsyncGenerator<ChatStreamEvent> {
      yield { type: 'text-delta', text: req.messages[0]!.content };
      yield { type: 'done', finishReason: 'stop', provider: 'echo', model: req.model!, redactions: 0 };
    }
    const events: ChatStreamEvent[] = [];
    for await (const e of chatStreamThroughHooks(chain, context(), chat, { messages: [{ role: 'user', content: 'a' }] }, echo)) events.push(e);
    expect(events[0]).toEqual({ type: 'text-delta', text: 'b' });
    expect(JSON.parse((after.seen[0]!.args as string[])[2]!).message).toEqual({ role: 'assistant', content: 'b' });
  });
});

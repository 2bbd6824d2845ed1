import { describe, expect, it } from 'vitest';
import { defineHookPlugin, toVerdict, type HookChatRequest, type HookDefinition } from '../src/hook.js';
import type { ToolCall } from 'airlock:plugin/hook@0.2.0';

const call: ToolCall = { plugin: 'notes', tool: 'add_note', arguments: '{"title":"mail a@b.c"}', risk: 'write' };
const request: HookChatRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

/** What the export threw or rejected with: the WIT error string. */
async function witError(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('defineHookPlugin', () => {
  it('is a hook plugin whose points are the hooks it defines, in contract order', () => {
    const all: HookDefinition = { beforeChat: () => {}, afterToolCall: () => {}, afterChat: () => {}, beforeToolCall: () => {} };
    expect(defineHookPlugin(all).kind).toBe('hook');
    expect(defineHookPlugin({ ...all, priority: -5 }).exports.info()).toEqual({ points: ['before-tool-call', 'after-tool-call', 'before-chat', 'after-chat'], priority: -5 });
    expect(defineHookPlugin({ afterChat: () => {} }).exports.info()).toEqual({ points: ['after-chat'], priority: 0 });
  });

  it('refuses a priority that is not a 32-bit integer', () => {
    expect(() => defineHookPlugin({ priority: 1.5 })).toThrow("a hook plugin's priority must be a 32-bit integer, got 1.5");
    expect(() => defineHookPlugin({ priority: 2 ** 31 })).toThrow('32-bit integer');
  });

  it('shows a tool call with parsed arguments, and turns each kind of answer into a verdict', async () => {
    const seen: unknown[] = [];
    const answers: unknown[] = [undefined, 'allow', { deny: 'no' }, { rewrite: { title: 'mail [email]' } }];
    const plugin = defineHookPlugin({
      beforeToolCall: async (c) => {
        seen.push(c);
        return answers.shift() as undefined;
      },
    });
    expect(await plugin.exports.beforeToolCall(call)).toEqual({ tag: 'allow' });
    expect(await plugin.exports.beforeToolCall(call)).toEqual({ tag: 'allow' });
    expect(await plugin.exports.beforeToolCall(call)).toEqual({ tag: 'deny', val: 'no' });
    expect(await plugin.exports.beforeToolCall(call)).toEqual({ tag: 'rewrite', val: '{"title":"mail [email]"}' });
    expect(seen[0]).toEqual({ plugin: 'notes', tool: 'add_note', arguments: { title: 'mail a@b.c' }, risk: 'write' });
  });

  it('shows a tool outcome parsed: a result, or the error message', async () => {
    const seen: unknown[] = [];
    const plugin = defineHookPlugin({ afterToolCall: (_c, outcome) => void seen.push(outcome) });
    await plugin.exports.afterToolCall(call, { tag: 'ok', val: '{"id":1}' });
    await plugin.exports.afterToolCall(call, { tag: 'error', val: 'disk full' });
    expect(seen).toEqual([{ ok: true, result: { id: 1 } }, { ok: false, error: 'disk full' }]);
  });

  it('shows chats parsed and stringifies a rewrite', async () => {
    const plugin = defineHookPlugin({
      beforeChat: (provider, req) => ({ rewrite: { ...req, messages: [{ role: 'user', content: `${provider}: ${req.messages[0]!.content}` }] } }),
      afterChat: (_p, req, res) => ({ rewrite: { ...res, message: { role: 'assistant', content: `${req.model} ${res.finishReason}` } } }),
    });
    const rewritten = await plugin.exports.beforeChat('openai', JSON.stringify(request));
    expect(rewritten.tag).toBe('rewrite');
    expect(JSON.parse((rewritten as { val: string }).val)).toEqual({ model: 'm', messages: [{ role: 'user', content: 'openai: hi' }] });
    const answered = await plugin.exports.afterChat('openai', JSON.stringify(request), JSON.stringify({ message: { role: 'assistant', content: 'x' }, finishReason: 'stop' }));
    expect(JSON.parse((answered as { val: string }).val)).toEqual({ message: { role: 'assistant', content: 'm stop' }, finishReason: 'stop' });
  });

  it('turns what a hook throws or rejects with into the WIT error string, never an Error (which would trap)', async () => {
    const plugin = defineHookPlugin({
      beforeToolCall: () => {
        throw new Error('policy store unreachable');
      },
      beforeChat: () => Promise.reject(new Error('later')),
      afterChat: () => ({ maybe: true }) as never,
    });
    expect(await witError(() => plugin.exports.beforeToolCall(call))).toBe('policy store unreachable');
    expect(await witError(() => plugin.exports.beforeChat('p', JSON.stringify(request)))).toBe('later');
    expect(await witError(() => plugin.exports.afterChat('p', '{}', '{}'))).toBe("a hook must return nothing, 'allow', { deny: reason } or { rewrite: value }; it returned {\"maybe\":true}");
  });

  it('answers a hook that decides at once without a promise', () => {
    const plugin = defineHookPlugin({ beforeToolCall: () => ({ deny: 'now' }), afterToolCall: () => {
      throw new Error('at once');
    } });
    expect(plugin.exports.beforeToolCall(call)).toEqual({ tag: 'deny', val: 'now' });
    expect(() => plugin.exports.afterToolCall(call, { tag: 'ok', val: '1' })).toThrow('at once');
  });

  it('allows at a point whose hook is not defined', async () => {
    expect(await defineHookPlugin({}).exports.afterToolCall(call, { tag: 'ok', val: '1' })).toEqual({ tag: 'allow' });
  });
});

describe('toVerdict', () => {
  it('refuses a rewrite that is not JSON, and answers that mix verdicts', () => {
    expect(() => toVerdict({ rewrite: undefined })).toThrow('cannot be encoded as JSON');
    expect(() => toVerdict({ deny: 'x', rewrite: 1 })).toThrow('a hook must return');
    expect(() => toVerdict('deny')).toThrow('a hook must return');
    expect(toVerdict({ rewrite: null })).toEqual({ tag: 'rewrite', val: 'null' });
  });
});

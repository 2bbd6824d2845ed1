import { describe, expect, it } from 'vitest';
import { defineProviderPlugin, ProviderError, toProviderError, type ChatEvent, type ChatRequest, type ProviderDefinition } from '../src/provider.js';
import { HostError } from '../src/errors.js';
import { rejected } from './rejected.js';

import { dispose } from '../src/dispose.js';

const request: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'hi', toolCalls: [] }], tools: [] };

/** A provider with trivial info, models and chat, and the given overrides. */
const provider = (overrides: Partial<ProviderDefinition> & Pick<ProviderDefinition, 'streamChat'>) =>
  defineProviderPlugin({
    info: () => ({ displayName: 'T' }),
    models: () => [],
    chat: () => ({ message: { role: 'assistant', content: '', toolCalls: [] }, finishReason: 'stop' }),
    ...overrides,
  });

/** Where an error comes from: a named function, so its stack names it. */
function callTheBackend(): never {
  throw new Error('connection reset');
}

describe('toProviderError', () => {
  it('keeps the kind of a ProviderError, with its message and stack, and retry-after as a bigint', () => {
    const auth = new ProviderError('auth', 'bad key');
    expect(toProviderError(auth)).toEqual({ tag: 'auth', val: { message: 'bad key', details: auth.stack } });
    const limited = new ProviderError('rate-limited', 'slow down', { retryAfterMs: 1500 });
    expect(toProviderError(limited)).toEqual({ tag: 'rate-limited', val: { message: 'slow down', details: limited.stack, retryAfterMs: 1500n } });
    expect(limited.stack).toContain('provider.test.ts');
  });

  it('leaves out a retry-after that is missing or not a number of milliseconds', () => {
    for (const retryAfterMs of [undefined, Number.NaN, Number.POSITIVE_INFINITY]) {
      const e = new ProviderError('rate-limited', 'later', { retryAfterMs });
      expect(toProviderError(e)).toEqual({ tag: 'rate-limited', val: { message: 'later', details: e.stack, retryAfterMs: undefined } });
    }
    expect(toProviderError(new ProviderError('rate-limited', 'later', { retryAfterMs: -5 }))).toMatchObject({ val: { retryAfterMs: 0n } });
  });

  it('turns any other Error into `other`, with its message (or name) and stack', () => {
    const e = new TypeError('boom');
    expect(toProviderError(e)).toEqual({ tag: 'other', val: { message: 'boom', details: e.stack } });
    const unnamed = new SyntaxError();
    expect(toProviderError(unnamed)).toEqual({ tag: 'other', val: { message: 'SyntaxError', details: unnamed.stack } });
  });

  it('maps a credentials refusal from the host to `auth`, other HostErrors to `other`', () => {
    const denied = new HostError('credentials', 'denied', 'no grant');
    expect(toProviderError(denied)).toEqual({ tag: 'auth', val: { message: 'credentials: denied: no grant', details: denied.stack } });
    expect(toProviderError(new HostError('credentials', 'unavailable', 'gone'))).toMatchObject({ tag: 'other', val: { message: 'credentials: unavailable: gone' } });
  });

  it('describes thrown values that are not errors, without details', () => {
    expect(toProviderError('plain')).toEqual({ tag: 'other', val: { message: 'plain', details: undefined } });
    expect(toProviderError({ status: 503 })).toEqual({ tag: 'other', val: { message: '{"status":503}', details: undefined } });
    expect(toProviderError(undefined)).toEqual({ tag: 'other', val: { message: 'undefined', details: undefined } });
  });
});

describe('defineProviderPlugin', () => {
  it('serves every ready event in one next, and an empty list after the end', async () => {
    const plugin = provider({
      async *streamChat() {
        yield { tag: 'text-delta', val: 'a' } as ChatEvent;
        yield { tag: 'done', val: 'stop' } as ChatEvent;
      },
    });
    // No time cap: on a busy machine 2 ms can pass between two ready events.
    const stream = (await plugin.exports.streamChat(request, { maxBatchMs: Infinity })) as { next(): Promise<ChatEvent[]> };
    expect(await stream.next()).toEqual([
      { tag: 'text-delta', val: 'a' },
      { tag: 'done', val: 'stop' },
    ]);
    expect(await stream.next()).toEqual([]);
    expect(await stream.next()).toEqual([]);
  });

  it('ends a batch where the producer waits (for the backend), and picks that step up in the next call', async () => {
    let release!: () => void;
    const backend = new Promise<void>((resolve) => (release = resolve));
    const plugin = provider({
      async *streamChat() {
        yield { tag: 'text-delta', val: 'a' } as ChatEvent;
        yield { tag: 'text-delta', val: 'b' } as ChatEvent;
        await backend;
        yield { tag: 'text-delta', val: 'c' } as ChatEvent;
      },
    });
    const stream = (await plugin.exports.streamChat(request, { maxBatchMs: Infinity })) as { next(): Promise<ChatEvent[]> };
    expect(await stream.next()).toEqual([
      { tag: 'text-delta', val: 'a' },
      { tag: 'text-delta', val: 'b' },
    ]);
    const following = stream.next();
    release();
    expect(await following).toEqual([{ tag: 'text-delta', val: 'c' }]);
    expect(await stream.next()).toEqual([]);
  });

  /** Every batch of `stream` until the empty one that ends it. */
  async function batches(stream: { next(): Promise<ChatEvent[]> }): Promise<ChatEvent[][]> {
    const all: ChatEvent[][] = [];
    for (let b = await stream.next(); b.length > 0; b = await stream.next()) all.push(b);
    return all;
  }

  it('caps a batch at 256 events', async () => {
    const plugin = provider({
      async *streamChat() {
        for (let i = 0; i < 300; i++) yield { tag: 'text-delta', val: String(i) } as ChatEvent;
      },
    });
    const all = await batches((await plugin.exports.streamChat(request, { maxBatchMs: Infinity })) as { next(): Promise<ChatEvent[]> });
    expect(all.map((b) => b.length)).toEqual([256, 44]);
    expect(all.flat().map((e) => e.val)).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
  });

  it('takes a yielded array as the events it holds, carrying past 256 into the next call, and waits past an empty one', async () => {
    const text = (val: string) => ({ tag: 'text-delta', val }) as ChatEvent;
    const plugin = provider({
      async *streamChat() {
        yield [text('a'), text('b')];
        yield [];
        yield text('c');
        yield Array.from({ length: 300 }, (_, i) => text(String(i)));
      },
    });
    const all = await batches((await plugin.exports.streamChat(request, { maxBatchMs: Infinity })) as { next(): Promise<ChatEvent[]> });
    expect(all.flat()).toEqual([text('a'), text('b'), text('c'), ...Array.from({ length: 300 }, (_, i) => text(String(i)))]);
    // The array of 300 came in one step: it fills the batch to the cap, and the rest waits for the next call.
    expect(all.map((b) => b.length)).toEqual([256, 47]);
    // Without lookahead (a 0.1 build) an array is handed over one event per call.
    const single = (await plugin.exports.streamChat(request, { lookahead: false })) as { next(): Promise<ChatEvent[]> };
    expect(await single.next()).toEqual([text('a')]);
    expect(await single.next()).toEqual([text('b')]);
    expect(await single.next()).toEqual([text('c')]);
  });

  it('hands a batch over once it has gathered for maxBatchMs, without waiting for the producer\'s next step', async () => {
    let made = 0;
    const plugin = provider({
      async *streamChat() {
        for (;;) {
          made++;
          yield { tag: 'text-delta', val: '.' } as ChatEvent;
        }
      },
    });
    // With no time at all to gather, every batch is the one event it waited for.
    const stream = (await plugin.exports.streamChat(request, { maxBatchMs: 0 })) as { next(): Promise<ChatEvent[]> };
    expect(await stream.next()).toEqual([{ tag: 'text-delta', val: '.' }]);
    expect(await stream.next()).toEqual([{ tag: 'text-delta', val: '.' }]);
    expect(made).toBe(2);
  });

  it('takes one event per next without lookahead (a build for contract 0.1)', async () => {
    let made = 0;
    const plugin = provider({
      async *streamChat() {
        for (;;) {
          made++;
          yield { tag: 'text-delta', val: '.' } as ChatEvent;
        }
      },
    });
    const stream = (await plugin.exports.streamChat(request, { lookahead: false })) as { next(): Promise<ChatEvent[]> };
    expect(await stream.next()).toEqual([{ tag: 'text-delta', val: '.' }]);
    expect(await stream.next()).toEqual([{ tag: 'text-delta', val: '.' }]);
    expect(made).toBe(2);
  });

  it('finishes the step it read ahead, then runs the producer\'s cleanup, on cancel', async () => {
    let release!: () => void;
    const backend = new Promise<void>((resolve) => (release = resolve));
    const order: string[] = [];
    const plugin = provider({
      async *streamChat() {
        try {
          yield { tag: 'text-delta', val: 'a' } as ChatEvent;
          await backend;
          order.push('read ahead');
          yield { tag: 'text-delta', val: 'b' } as ChatEvent;
        } finally {
          order.push('cleaned up');
        }
      },
    });
    const stream = (await plugin.exports.streamChat(request, { maxBatchMs: Infinity })) as { next(): Promise<ChatEvent[]>; cancel(): Promise<void> };
    expect(await stream.next()).toEqual([{ tag: 'text-delta', val: 'a' }]);
    const cancelled = stream.cancel();
    release();
    await cancelled;
    expect(order).toEqual(['read ahead', 'cleaned up']);
    expect(await stream.next()).toEqual([]);
  });

  it('runs the generator\'s finally block when the host drops the stream', async () => {
    let cleaned = false;
    const plugin = provider({
      chat: () => {
        throw new ProviderError('unavailable', 'down');
      },
      async *streamChat() {
        try {
          for (;;) yield { tag: 'text-delta', val: '.' } as ChatEvent;
        } finally {
          cleaned = true;
        }
      },
    });
    const stream = (await plugin.exports.streamChat(request)) as Record<symbol, () => void> & { next(): Promise<unknown> };
    await stream.next();
    stream[dispose]!();
    await new Promise((r) => setTimeout(r, 0));
    expect(cleaned).toBe(true);
    expect(await stream.next()).toEqual([]);
    expect(await rejected(plugin.exports.chat(request))).toEqual({ tag: 'unavailable', val: { message: 'down', details: expect.stringContaining('provider.test.ts') } });
  });

  it('turns an error thrown mid-stream into the WIT error', async () => {
    const plugin = provider({
      async *streamChat() {
        yield { tag: 'text-delta', val: 'a' } as ChatEvent;
        throw new ProviderError('rate-limited', 'later', { retryAfterMs: 10 });
      },
    });
    const stream = (await plugin.exports.streamChat(request)) as { next(): Promise<unknown> };
    // The events before the error come first; the error with the call after them.
    expect(await stream.next()).toEqual([{ tag: 'text-delta', val: 'a' }]);
    expect(await rejected(stream.next())).toEqual({ tag: 'rate-limited', val: { message: 'later', details: expect.stringContaining('streamChat'), retryAfterMs: 10n } });
    // The failed stream is over: the next `next` ends it instead of failing again.
    expect(await stream.next()).toEqual([]);
  });

  it('turns a synchronous throw into the WIT error, with the stack naming the function', async () => {
    const plugin = provider({ chat: callTheBackend, async *streamChat() {} });
    const e = await rejected(plugin.exports.chat(request));
    expect(e).not.toBeInstanceOf(Error);
    expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
    expect(e).toEqual({ tag: 'other', val: { message: 'connection reset', details: expect.stringContaining('callTheBackend') } });
  });

  it('turns an async rejection into the WIT error, from every export', async () => {
    const fail = async (): Promise<never> => {
      await Promise.resolve();
      throw new ProviderError('unavailable', 'backend down');
    };
    const plugin = provider({ info: fail, models: fail, chat: fail, streamChat: fail });
    for (const call of [plugin.exports.info, plugin.exports.models, () => plugin.exports.chat(request), () => plugin.exports.streamChat(request)]) {
      expect(await rejected(call())).toEqual({ tag: 'unavailable', val: { message: 'backend down', details: expect.stringContaining('fail') } });
    }
  });

  it('turns a throw before the first event into the WIT error of stream-chat', async () => {
    const plugin = provider({
      streamChat: () => {
        throw new ProviderError('invalid-request', 'unknown model');
      },
    });
    expect(await rejected(plugin.exports.streamChat(request))).toMatchObject({ tag: 'invalid-request', val: { message: 'unknown model' } });
    const notIterable = provider({ streamChat: () => ({}) as AsyncIterable<ChatEvent> });
    expect(await rejected(notIterable.exports.streamChat(request))).toMatchObject({ tag: 'other', val: { details: expect.any(String) } });
  });

  it.each([
    ['a string', 'stream broke', 'stream broke'],
    ['an object', { code: 'ECONNRESET' }, '{"code":"ECONNRESET"}'],
    ['undefined', undefined, 'undefined'],
  ])('turns %s thrown mid-stream into `other` with its text and no details', async (_, thrown, message) => {
    const plugin = provider({
      async *streamChat() {
        yield { tag: 'text-delta', val: 'a' } as ChatEvent;
        throw thrown;
      },
    });
    const stream = (await plugin.exports.streamChat(request)) as { next(): Promise<unknown> };
    expect(await stream.next()).toEqual([{ tag: 'text-delta', val: 'a' }]);
    expect(await rejected(stream.next())).toEqual({ tag: 'other', val: { message, details: undefined } });
  });

  it('turns a failing `next` of a hand-written iterator into the WIT error', async () => {
    const plugin = provider({
      streamChat: () => ({
        [Symbol.asyncIterator]: () => ({
          next: () => {
            throw new TypeError('not ready');
          },
        }),
      }),
    });
    const stream = (await plugin.exports.streamChat(request)) as { next(): Promise<unknown> };
    expect(await rejected(stream.next())).toEqual({ tag: 'other', val: { message: 'not ready', details: expect.stringContaining('TypeError') } });
  });

  it('does not throw from a drop when the producer fails to clean up', async () => {
    for (const fail of [
      () => {
        throw new Error('sync cleanup failure');
      },
      () => Promise.reject(new Error('async cleanup failure')),
      () => 'not a promise',
    ]) {
      const plugin = provider({
        streamChat: () => ({ [Symbol.asyncIterator]: () => ({ next: async () => ({ done: false, value: { tag: 'text-delta', val: '.' } as ChatEvent }), return: fail as never }) }),
      });
      const stream = (await plugin.exports.streamChat(request)) as Record<symbol, () => void> & { next(): Promise<unknown> };
      await stream.next();
      expect(() => stream[dispose]!()).not.toThrow();
      await new Promise((r) => setTimeout(r, 0));
      expect(await stream.next()).toEqual([]);
    }
  });
});

describe('provider info and health check', () => {
  const base = { models: () => [], chat: () => ({ message: { role: 'assistant' as const, content: '', toolCalls: [] }, finishReason: 'stop' as const }), async *streamChat() {} };

  it('fill in the limits a provider leaves out as no limit', async () => {
    const plugin = defineProviderPlugin({ ...base, info: () => ({ displayName: 'T', limits: { maxConcurrency: 2 } }) });
    expect(await plugin.exports.info()).toEqual({ displayName: 'T', limits: { maxTokensPerRequest: undefined, maxConcurrency: 2, requestsPerSecond: undefined } });
    const none = defineProviderPlugin({ ...base, info: () => ({ displayName: 'T' }) });
    expect((await none.exports.info()).limits).toEqual({ maxTokensPerRequest: undefined, maxConcurrency: undefined, requestsPerSecond: undefined });
  });

  it('answer available without a check, and unavailable with the reason when the check says so or throws', async () => {
    expect(await defineProviderPlugin({ ...base, info: () => ({ displayName: 'T' }) }).exports.isAvailable()).toEqual({ available: true, reason: undefined });
    const down = defineProviderPlugin({ ...base, info: () => ({ displayName: 'T' }), isAvailable: () => ({ available: false, reason: 'not signed in' }) });
    expect(await down.exports.isAvailable()).toEqual({ available: false, reason: 'not signed in' });
    const broken = defineProviderPlugin({
      ...base,
      info: () => ({ displayName: 'T' }),
      isAvailable: async () => {
        await Promise.resolve();
        throw new Error('backend unreachable: ECONNREFUSED');
      },
    });
    expect(await broken.exports.isAvailable()).toEqual({ available: false, reason: 'backend unreachable: ECONNREFUSED' });
  });
});

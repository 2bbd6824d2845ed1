import { describe, expect, it } from 'vitest';
import { defineProviderPlugin, ProviderError, toProviderError, type ChatEvent, type ChatRequest, type ProviderDefinition } from '../src/provider.js';
import { HostError } from '../src/errors.js';

const request: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'hi', toolCalls: [] }], tools: [] };
import { dispose } from '../src/dispose.js';

/** A provider with trivial info, models and chat, and the given overrides. */
const provider = (overrides: Partial<ProviderDefinition> & Pick<ProviderDefinition, 'streamChat'>) =>
  defineProviderPlugin({
    info: () => ({ displayName: 'T' }),
    models: () => [],
    chat: () => ({ message: { role: 'assistant', content: '', toolCalls: [] }, finishReason: 'stop' }),
    ...overrides,
  });

async function rejected(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('toProviderError', () => {
  it('keeps the kind of a ProviderError, with retry-after as a bigint', () => {
    expect(toProviderError(new ProviderError('auth', 'bad key'))).toEqual({ tag: 'auth', val: 'bad key' });
    expect(toProviderError(new ProviderError('rate-limited', 'slow down', { retryAfterMs: 1500 }))).toEqual({ tag: 'rate-limited', val: { message: 'slow down', retryAfterMs: 1500n } });
  });

  it('turns anything else into `other` with its message', () => {
    expect(toProviderError(new TypeError('boom'))).toEqual({ tag: 'other', val: 'boom' });
    expect(toProviderError('plain')).toEqual({ tag: 'other', val: 'plain' });
    expect(toProviderError(new HostError('credentials', 'denied', 'no grant'))).toMatchObject({ tag: 'auth' });
  });
});

describe('defineProviderPlugin', () => {
  it('serves a stream one event per next, and undefined after the end', async () => {
    const plugin = provider({
      async *streamChat() {
        yield { tag: 'text-delta', val: 'a' } as ChatEvent;
        yield { tag: 'done', val: 'stop' } as ChatEvent;
      },
    });
    const stream = (await plugin.exports.streamChat(request)) as { next(): Promise<ChatEvent | undefined> };
    expect(await stream.next()).toEqual({ tag: 'text-delta', val: 'a' });
    expect(await stream.next()).toEqual({ tag: 'done', val: 'stop' });
    expect(await stream.next()).toBeUndefined();
    expect(await stream.next()).toBeUndefined();
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
    expect(await stream.next()).toBeUndefined();
    expect(await rejected(plugin.exports.chat(request))).toEqual({ tag: 'unavailable', val: 'down' });
  });

  it('turns an error thrown mid-stream into the WIT error', async () => {
    const plugin = provider({
      async *streamChat() {
        yield { tag: 'text-delta', val: 'a' } as ChatEvent;
        throw new ProviderError('rate-limited', 'later', { retryAfterMs: 10 });
      },
    });
    const stream = (await plugin.exports.streamChat(request)) as { next(): Promise<unknown> };
    await stream.next();
    expect(await rejected(stream.next())).toEqual({ tag: 'rate-limited', val: { message: 'later', retryAfterMs: 10n } });
  });
});

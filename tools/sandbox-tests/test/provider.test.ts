// The host's provider API against a provider plugin that needs no network:
// chat, streaming in order, cancelling (the plugin's cleanup runs), a stream
// that stalls past the deadline, failures (with the plugin's stack as
// details, never a trap), and outbound secret redaction. Every test runs
// against the same plugin built for each contract line the host serves: 0.2
// (batched `next`) and 0.1 (one event per `next`, through the host's 0.1
// adapter), each in its own host.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, ProviderError, type ChatStreamEvent, type Host, type LogEntry } from '@airlock/host';
import { rejection } from '@airlock/test-utils';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;

const user = (content: string) => ({ messages: [{ role: 'user' as const, content }] });

async function collect(events: AsyncIterable<ChatStreamEvent>): Promise<ChatStreamEvent[]> {
  const out: ChatStreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe.each([
  { contract: '0.2.0', id: 'echo-provider' },
  { contract: '0.1.2', id: 'echo-provider-v01' },
])('provider plugins of contract $contract', ({ contract, id }) => {
  let home: string;
  let host: Host;
  const logs: LogEntry[] = [];

  /** Wait until the plugin logs a line matching `text` (its cleanup runs after the host moved on). */
  async function logged(text: RegExp, timeoutMs = 3000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!logs.some((l) => text.test(l.message))) {
      if (Date.now() > until) throw new Error(`the plugin never logged ${String(text)}; it logged: ${logs.map((l) => l.message).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'airlock-provider-'));
    host = await createHost({ home, logger: (e) => logs.push(e) });
    await host.load(join(fixtures, id));
  });

  afterAll(async () => {
    await host.close();
    await rm(home, { recursive: true, force: true });
  });

  it('are listed with their models, served by the adapter of their contract', async () => {
    expect(host.plugins().find((p) => p.id === id)?.contract).toBe(contract);
    expect(host.providers()).toEqual([{ id, displayName: 'Echo', defaultModel: 'echo', limits: {} }]);
    expect((await host.models()).map((m) => `${m.provider}/${m.id}`)).toEqual([`${id}/echo`, `${id}/slow`, `${id}/stall`, `${id}/fail`]);
  });

  it('answer their health check (a 0.1 provider has none, and says so)', async () => {
    const [status] = await host.checkProviders();
    expect(status).toEqual(contract === '0.2.0' ? { provider: id, available: true, reason: undefined } : { provider: id, available: true, reason: `built against contract ${contract}, which has no health check` });
  });

  it('answer a chat in one piece', async () => {
    const r = await host.chat(user('hello there'));
    expect(r).toMatchObject({ message: { role: 'assistant', content: 'echo: hello there' }, finishReason: 'stop', provider: id, model: 'echo', redactions: 0 });
  });

  it('stream deltas in order, then usage, then one done', async () => {
    const events = await collect(host.chatStream(user('one two three')));
    expect(events.filter((e) => e.type === 'text-delta').map((e) => (e as { text: string }).text)).toEqual(['echo: ', 'one ', 'two ', 'three']);
    expect(events.at(-2)).toEqual({ type: 'usage', usage: { promptTokens: 1, completionTokens: 4 } });
    expect(events.at(-1)).toEqual({ type: 'done', finishReason: 'stop', provider: id, model: 'echo', redactions: 0 });
  });

  it('cancel the plugin\'s stream when the consumer stops reading', async () => {
    let seen = 0;
    for await (const e of host.chatStream({ ...user('a b c d e f g h'), model: 'slow' })) {
      if (e.type === 'text-delta' && ++seen === 2) break;
    }
    // A 0.2 plugin's SDK asks the producer for the event after each batch (to see whether it is ready),
    // so it may have made one more than the host took; its cleanup (in `cancel`) runs after that one.
    await logged(contract === '0.1.2' ? /stream closed after 2 deltas/ : /stream closed after [23] deltas/);
    await expect(host.chat(user('still here'))).resolves.toMatchObject({ message: { content: 'echo: still here' } });
  });

  it('cancel on an AbortSignal, rejecting with its reason', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    let err: unknown;
    try {
      for await (const e of host.chatStream({ ...user('x y z w v u'), model: 'slow' }, { signal: controller.signal })) {
        if (e.type === 'text-delta') seen.push(e.text);
        if (seen.length === 3) controller.abort(new Error('user pressed stop'));
      }
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toBe('user pressed stop');
    expect(seen).toHaveLength(3);
    await logged(contract === '0.1.2' ? /stream closed after 3 deltas/ : /stream closed after [34] deltas/);
  });

  it('cut a stream that stalls past the deadline, and serve the next request', async () => {
    const events: ChatStreamEvent[] = [];
    const err = await rejection(
      (async () => {
        for await (const e of host.chatStream({ ...user('never ending story'), model: 'stall' })) events.push(e);
      })() as never,
    );
    expect(err.code).toBe('PLUGIN_TIMEOUT');
    expect(err.message).toContain('resource.next');
    expect(events.map((e) => e.type)).toEqual(['text-delta', 'text-delta']);
    await expect(host.chat(user('after the stall'))).resolves.toMatchObject({ message: { content: 'echo: after the stall' } });
  });

  it('surface the plugin\'s errors with their kind', async () => {
    const whole = await rejection(host.chat({ ...user('x'), model: 'fail' }));
    expect(whole.code).toBe('PROVIDER_UNAVAILABLE');
    expect(whole.message).toContain('the echo backend is down');
    const midway = await rejection(collect(host.chatStream({ ...user('a b c'), model: 'fail' })));
    expect(midway.code).toBe('PROVIDER_UNAVAILABLE');
    expect(midway.message).toContain('went away');
    expect(midway).toBeInstanceOf(ProviderError);
    expect(midway).toMatchObject({ pluginCode: 'unavailable', plugin: id, retryAfterMs: undefined });
    // The plugin's stack, from inside the component: it names the generator that threw.
    expect((midway as ProviderError).details).toContain('streamChat');
  });

  it('turn a synchronous throw into a provider error with the plugin\'s stack, and keep serving', async () => {
    const err = await rejection(host.chat({ ...user('x'), model: 'throw' }));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'PROVIDER_FAILED', pluginCode: 'other', message: `provider \`${id}\` chat: the backend reply is not JSON` });
    expect((err as ProviderError).details).toContain('parseBackendReply');
    await expect(host.chat(user('after a throw'))).resolves.toMatchObject({ message: { content: 'echo: after a throw' } });
  });

  it('turn an async rejection into a provider error with the plugin\'s stack, and keep serving', async () => {
    const err = await rejection(host.chat({ ...user('x'), model: 'reject' }));
    expect(err).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', pluginCode: 'unavailable', message: `provider \`${id}\` chat: the backend timed out` });
    expect((err as ProviderError).details).toContain('waitForBackend');
    await expect(host.chat(user('after a rejection'))).resolves.toMatchObject({ message: { content: 'echo: after a rejection' } });
  });

  it.each([
    ['throw', 'PROVIDER_FAILED', 'the backend reply is not JSON', 'parseBackendReply'],
    ['reject', 'PROVIDER_UNAVAILABLE', 'the backend timed out', 'waitForBackend'],
  ])('turn a `%s` mid-stream into a provider error with the plugin\'s stack, and keep serving', async (model, code, message, fn) => {
    const events: ChatStreamEvent[] = [];
    const err = await rejection(
      (async () => {
        for await (const e of host.chatStream({ ...user('a b c'), model })) events.push(e);
      })(),
    );
    expect(events).toEqual([{ type: 'text-delta', text: 'echo: ' }]);
    expect(err).toMatchObject({ code, message: `provider \`${id}\` stream: ${message}` });
    expect((err as ProviderError).details).toContain(fn);
    const after = await collect(host.chatStream(user('still streaming')));
    expect(after.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
  });

  it('redact secrets before the plugin sees them, and say how many', async () => {
    const text = 'deploy with AKIAIOSFODNN7EXAMPLE and\nexport GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345';
    const r = await host.chat(user(text));
    expect(r.redactions).toBe(2);
    expect(r.message.content).toBe('echo: deploy with [REDACTED:aws-access-key] and\nexport GITHUB_TOKEN=[REDACTED:github-token]');
    const events = await collect(host.chatStream(user(text)));
    expect(events.at(-1)).toMatchObject({ type: 'done', redactions: 2 });
    expect(events.map((e) => (e.type === 'text-delta' ? e.text : '')).join('')).not.toContain('AKIA');
    const optedOut = await host.chat(user(text), { redact: false });
    expect(optedOut.redactions).toBe(0);
    expect(optedOut.message.content).toContain('AKIAIOSFODNN7EXAMPLE');
  });

  it('refuse malformed requests and unknown providers clearly', async () => {
    expect((await rejection(host.chat({ messages: [] }))).code).toBe('CHAT_REQUEST_INVALID');
    expect((await rejection(host.chat({ messages: [{ role: 'robot' as never, content: 'x' }] }))).message).toContain('messages[0].role');
    const unknown = await rejection(host.chat({ ...user('x'), provider: 'nope' }));
    expect(unknown.code).toBe('PROVIDER_NOT_FOUND');
    expect(unknown.hint).toContain(id);
  });
});

describe('closing the host right after a stream', () => {
  it('stops the stream\'s drop without calling it a crash', async () => {
    const home = await mkdtemp(join(tmpdir(), 'airlock-provider-close-'));
    const logs: LogEntry[] = [];
    const host = await createHost({ home, logger: (e) => logs.push(e) });
    try {
      await host.load(join(fixtures, 'echo-provider'));
      const events = await collect(host.chatStream(user('one two')));
      expect(events.at(-1)).toMatchObject({ type: 'done' });
    } finally {
      // The stream's drop is still on its way to the plugin.
      await host.close();
      await rm(home, { recursive: true, force: true });
    }
    expect(logs.filter((l) => /PLUGIN_CRASHED|crashed/.test(l.message))).toEqual([]);
  });
});

describe('provider limits and health (contract 0.2)', () => {
  let home: string;
  let host: Host;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'airlock-provider-limits-'));
    host = await createHost({ home, logger: () => {} });
    await host.load(join(fixtures, 'echo-provider'), { config: { limits: { maxTokensPerRequest: 100, maxConcurrency: 1 }, unavailable: 'not signed in to echo' } });
  });

  afterAll(async () => {
    await host.close();
    await rm(home, { recursive: true, force: true });
  });

  it('are what the provider declared', () => {
    expect(host.providers()[0]?.limits).toEqual({ maxTokensPerRequest: 100, maxConcurrency: 1 });
  });

  it('refuse a request asking for more tokens than the provider allows, before it reaches the plugin', async () => {
    const err = await rejection(host.chat({ ...user('x'), maxTokens: 101 }));
    expect(err).toMatchObject({ code: 'PROVIDER_INVALID_REQUEST', plugin: 'echo-provider' });
    expect(err.message).toBe('the request asks for up to 101 tokens, but provider `echo-provider` allows at most 100 per request');
    await expect(host.chat({ ...user('x'), maxTokens: 100 })).resolves.toMatchObject({ message: { content: 'echo: x' } });
  });

  it('hold a request while another holds the only slot, and let it go when that one ends', async () => {
    const stream = host.chatStream({ ...user('a b c d'), model: 'slow' })[Symbol.asyncIterator]();
    await stream.next();
    let answered = false;
    const waiting = host.chat(user('second')).then((r) => ((answered = true), r));
    // The stream goes on (each event a call into the plugin) while the chat waits for the slot.
    await stream.next();
    await stream.next();
    expect(answered).toBe(false);
    await stream.return?.();
    await expect(waiting).resolves.toMatchObject({ message: { content: 'echo: second' } });
  });

  it('answer the health check with the provider\'s reason', async () => {
    expect(await host.checkProviders('echo-provider')).toEqual([{ provider: 'echo-provider', available: false, reason: 'not signed in to echo' }]);
  });

  it('fail the load when they make no sense', async () => {
    const otherHome = await mkdtemp(join(tmpdir(), 'airlock-provider-bad-'));
    const other = await createHost({ home: otherHome, logger: () => {} });
    try {
      const err = await rejection(other.load(join(fixtures, 'echo-provider'), { config: { limits: { maxConcurrency: 0 } } }));
      expect(err.code).toBe('PROVIDER_FAILED');
      expect(err.message).toContain('declares limits.maxConcurrency = 0, which is not a positive whole number');
      expect(other.providers()).toEqual([]);
    } finally {
      await other.close();
      await rm(otherHome, { recursive: true, force: true });
    }
  });
});

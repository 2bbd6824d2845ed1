import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHost, ProviderError, type ChatRequest, type ChatStreamEvent, type Host, type LogEntry } from '@airlock/host';
import { startOAuthServer, type OAuthServer } from '@airlock/oauth-server';
import { startOpenAIServer, type ChatCompletionRequest, type OpenAIServer, type OpenAIServerOptions } from '@airlock/openai-server';
import { capabilityVariant, ensureBuilt, rejection } from '@airlock/test-utils';

const pluginDir = new URL('..', import.meta.url).pathname;
const authDir = new URL('../../auth-device-flow', import.meta.url).pathname;
const KEY = 'sk-test-4f9c2a7e1b3d5f6a8c0e';

let home: string;
let api: OpenAIServer;
let oauth: OAuthServer | undefined;
let logs: LogEntry[];
/** Request bodies as the backend received them. */
let received: ChatCompletionRequest[];
const hosts: Host[] = [];

async function serve(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  api = await startOpenAIServer({
    apiKeys: [KEY],
    reply: (req) => {
      received.push(req);
      return defaultReply(req);
    },
    ...options,
  });
  return api;
}

/** The server's own answer rule, for requests whose body the test records. */
function defaultReply(req: ChatCompletionRequest): string {
  const last = req.messages.at(-1)!;
  return last.role === 'tool' ? `The tool returned: ${String(last.content)}` : `You said: ${String(last.content)}`;
}

async function start(options: { env?: Record<string, string>; config?: Record<string, unknown>; dir?: string } = {}): Promise<Host> {
  const host = await createHost({ home, logger: (e) => logs.push(e), env: options.env ?? { OPENAI_API_KEY: KEY } });
  hosts.push(host);
  await host.load(options.dir ?? pluginDir, { grant: 'manifest', config: { baseUrl: api.url, retryBaseMs: 50, ...options.config } });
  return host;
}

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });

async function collect(stream: AsyncIterable<ChatStreamEvent>): Promise<ChatStreamEvent[]> {
  const events: ChatStreamEvent[] = [];
  for await (const e of stream) events.push(e);
  return events;
}

const chatPosts = () => api.requests.filter((r) => r.path === '/v1/chat/completions');

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-openai-'));
  logs = [];
  received = [];
});

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  await api?.close();
  await oauth?.close();
  oauth = undefined;
  await rm(home, { recursive: true, force: true });
});

describe('models and chat', () => {
  it('describes itself and lists the backend models', async () => {
    await serve({ models: ['gpt-4o-mini', 'local-llama'] });
    const host = await start();
    expect(host.providers()).toEqual([{ id: 'provider-openai', displayName: `OpenAI-compatible (${new URL(api.url).host})`, defaultModel: 'gpt-4o-mini' }]);
    expect((await host.models('provider-openai')).map((m) => [m.id, m.features.streaming, m.features.tools])).toEqual([
      ['gpt-4o-mini', true, true],
      ['local-llama', true, true],
    ]);
    expect(host.plugins()[0]!.capabilities.http).toEqual([new URL(api.url).origin]);
  });

  it('answers a chat with the backend text, finish reason and usage', async () => {
    await serve();
    const host = await start();
    const result = await host.chat(ask('hello there'));
    expect(result.message).toMatchObject({ role: 'assistant', content: 'You said: hello there' });
    expect(result.finishReason).toBe('stop');
    expect(result.usage!.promptTokens).toBeGreaterThan(0);
    expect(result.usage!.completionTokens).toBeGreaterThan(0);
    expect(chatPosts()[0]!.authorization).toMatch(/^Bearer sk-/);
  });

  it('streams the answer in order, with usage before done', async () => {
    await serve();
    const host = await start();
    const prompt = 'one two three four five six seven eight nine ten';
    const events = await collect(host.chatStream(ask(prompt)));
    const texts = events.filter((e) => e.type === 'text');
    expect(texts.length).toBeGreaterThan(5);
    expect(texts.map((e) => e.text).join('')).toBe(`You said: ${prompt}`);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['usage', 'done']);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop', provider: 'provider-openai', model: 'gpt-4o-mini' });
    expect(api.streams[0]).toMatchObject({ state: 'completed' });
    expect(api.streams[0]!.chunksWritten).toBe(api.streams[0]!.chunksPlanned);
  });

  it('asks for a tool, then answers with its result', async () => {
    await serve();
    const host = await start();
    const tools = [{ name: 'count_words', description: 'Count words.', parameters: { type: 'object', properties: { text: { type: 'string' } } } }];
    const first = await collect(host.chatStream(ask('use count_words {"text":"a b c"}', { tools })));
    const calls = first.filter((e) => e.type === 'tool-call');
    expect(calls[0]).toMatchObject({ index: 0, name: 'count_words' });
    expect(JSON.parse(calls.map((c) => c.arguments).join(''))).toEqual({ text: 'a b c' });
    expect(first.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool-calls' });

    const id = calls[0]!.id!;
    const second = await host.chat({
      model: 'gpt-4o-mini',
      tools,
      messages: [
        { role: 'user', content: 'use count_words {"text":"a b c"}' },
        { role: 'assistant', content: '', toolCalls: [{ id, name: 'count_words', arguments: '{"text":"a b c"}' }] },
        { role: 'tool', content: '{"words":3}', toolCallId: id },
      ],
    });
    expect(second.message.content).toBe('The tool returned: {"words":3}');
    // The server's reply hook sees the second request only (the first was answered with a tool call).
    expect(received[0]!.tools).toEqual([{ type: 'function', function: tools[0] }]);
    expect(received[0]!.messages[1]).toMatchObject({ role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'count_words' } }] });
    expect(received[0]!.messages[2]).toMatchObject({ role: 'tool', tool_call_id: id });
  });

  it('stops reading when the host cancels: the backend sees the client close', async () => {
    await serve({ chunkDelayMs: 40 });
    const host = await start();
    const seen: string[] = [];
    for await (const e of host.chatStream(ask('a long answer with many many words to stream slowly one by one'))) {
      if (e.type === 'text') seen.push(e.text);
      if (seen.length === 3) break;
    }
    const closed = await api.waitForStreamClosed(3_000);
    expect(closed.state).toBe('client-closed');
    expect(closed.chunksWritten).toBeLessThan(closed.chunksPlanned);
    // The plugin is still healthy.
    expect((await host.chat(ask('still there?'))).message.content).toBe('You said: still there?');
  });

  it('cancels with an AbortSignal too', async () => {
    await serve({ chunkDelayMs: 40 });
    const host = await start();
    const controller = new AbortController();
    const events: ChatStreamEvent[] = [];
    await expect(
      (async () => {
        for await (const e of host.chatStream(ask('many words to stream here one after another slowly'), { signal: controller.signal })) {
          events.push(e);
          if (events.length === 2) controller.abort(new Error('stop'));
        }
      })(),
    ).rejects.toThrow('stop');
    expect((await api.waitForStreamClosed(3_000)).state).toBe('client-closed');
  });
});

describe('retries and errors', () => {
  it('retries a 429 after the time the server asked for, then succeeds', async () => {
    await serve();
    const host = await start();
    api.failNext(1, { status: 429, retryAfter: 0.3 });
    const started = Date.now();
    const result = await host.chat(ask('after a rate limit'));
    expect(result.message.content).toBe('You said: after a rate limit');
    expect(chatPosts().map((r) => r.status)).toEqual([429, 200]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(logs.some((l) => l.level === 'warn' && l.message.includes('HTTP 429; retry 1 of 3 in 300 ms'))).toBe(true);
  });

  it('retries the start of a stream on 5xx', async () => {
    await serve();
    const host = await start();
    api.failNext(2, { status: 503 });
    const events = await collect(host.chatStream(ask('eventually')));
    expect(events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text).join('')).toBe('You said: eventually');
    expect(chatPosts().map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('gives up after maxRetries with PROVIDER_RATE_LIMITED', async () => {
    await serve();
    const host = await start({ config: { maxRetries: 1 } });
    api.failNext(5, { status: 429, retryAfter: 0.05 });
    const err = await rejection(host.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(chatPosts()).toHaveLength(2);
  });

  it('does not wait longer than maxRetryWaitMs: a long retry-after is passed on at once', async () => {
    await serve();
    const host = await start({ config: { maxRetryWaitMs: 1000 } });
    api.failNext(1, { status: 429, retryAfter: 30 });
    const started = Date.now();
    const err = await rejection(host.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).retryAfterMs).toBe(30_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(chatPosts()).toHaveLength(1);
  });

  it('reports PROVIDER_UNAVAILABLE when 5xx outlasts the retries', async () => {
    await serve();
    const host = await start({ config: { maxRetries: 2 } });
    api.failNext(3, { status: 500 });
    expect((await rejection(host.chat(ask('x')))).code).toBe('PROVIDER_UNAVAILABLE');
    expect(chatPosts().map((r) => r.status)).toEqual([500, 500, 500]);
  });

  it('surfaces a refused key as PROVIDER_AUTH at once, without retrying or showing the key', async () => {
    await serve();
    const wrong = 'sk-wrong-9d8c7b6a5f4e3d2c1b0a';
    const host = await start({ env: { OPENAI_API_KEY: wrong } });
    const err = await rejection(host.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.message).toContain('Incorrect API key');
    expect(chatPosts()).toHaveLength(1);
  });

  it('masks the API key in errors and logs when the backend echoes it back', async () => {
    await serve();
    const host = await start();
    api.failNext(1, { status: 401, message: `Incorrect API key provided: ${KEY}` });
    const echoed = await rejection(host.chat(ask('x')));
    expect(echoed.code).toBe('PROVIDER_AUTH');
    expect(echoed.message).toContain('Incorrect API key provided: [REDACTED]');
    expect(JSON.stringify(echoed.toJSON()) + echoed.stack + (echoed as ProviderError).details).not.toContain(KEY);
  });

  it('reports a backend it cannot reach as PROVIDER_UNAVAILABLE', async () => {
    await serve();
    const url = api.url;
    const host = await start({ config: { maxRetries: 1 } });
    await api.close();
    const err = await rejection(host.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_UNAVAILABLE');
    expect(err.message).toContain(new URL(url).origin);
  });

  it('reports an unknown model as PROVIDER_INVALID_REQUEST', async () => {
    await serve();
    const host = await start();
    const err = await rejection(host.chat({ ...ask('x'), model: 'no-such-model' }));
    expect(err.code).toBe('PROVIDER_INVALID_REQUEST');
    expect(err.message).toContain('no-such-model');
  });
});

describe('credentials', () => {
  /** An OAuth server whose tokens the chat server accepts, and a host with both plugins. */
  async function brokered(options: { grantCredentials: boolean }) {
    oauth = await startOAuthServer({ interval: 1, autoApprove: true });
    const tokens = oauth;
    await serve({ apiKeys: [], verifyToken: (t) => tokens.verifyAccessToken(t).valid });
    await ensureBuilt(authDir);
    const host = await createHost({ home, logger: (e) => logs.push(e), env: {} });
    hosts.push(host);
    await host.load(authDir, {
      grant: 'manifest',
      config: { clientId: 'airlock-demo', deviceAuthorizationEndpoint: oauth.deviceAuthorizationEndpoint, tokenEndpoint: oauth.tokenEndpoint },
    });
    const dir = options.grantCredentials ? pluginDir : await capabilityVariant(pluginDir, home, 'provider-openai', { http: ['{{ config.baseUrl }}'], env: ['OPENAI_API_KEY'] });
    await host.load(dir, { grant: 'manifest', config: { baseUrl: api.url, retryBaseMs: 50 } });
    return host;
  }

  it('uses a token brokered from auth-device-flow when no key is set', async () => {
    const host = await brokered({ grantCredentials: true });
    const before = await rejection(host.chat(ask('x')));
    expect(before.code).toBe('PROVIDER_AUTH');
    expect(before.message).toContain('airlock auth login auth-device-flow');

    await (await host.auth('auth-device-flow').login()).wait();
    const result = await host.chat(ask('signed in'));
    expect(result.message.content).toBe('You said: signed in');
    const token = (await host.auth('auth-device-flow').token()).accessToken;
    expect(logs.filter((l) => l.message.includes(token))).toEqual([]);
  });

  it('gets no token without the credentials grant', async () => {
    const host = await brokered({ grantCredentials: false });
    await (await host.auth('auth-device-flow').login()).wait();
    const err = await rejection(host.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.message).toContain('grant this plugin credentials from auth-device-flow');
    expect(chatPosts()).toHaveLength(0);
  });

  it('refuses credentials mode without the key even when one is set, and api-key mode without a key', async () => {
    await serve();
    const keyOnly = await start({ env: {}, config: { auth: 'api-key' } });
    expect((await rejection(keyOnly.chat(ask('x')))).message).toContain('OPENAI_API_KEY is not set, or not granted');
  });
});

describe('redaction', () => {
  it('replaces secrets in the conversation before the plugin sees them, and counts them', async () => {
    await serve();
    const host = await start();
    const secret = 'AKIAIOSFODNN7EXAMPLE';
    const result = await host.chat(ask(`my key is ${secret}, and GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789`));
    expect(result.redactions).toBe(2);
    const sent = JSON.stringify(received[0]!.messages);
    expect(sent).not.toContain(secret);
    expect(sent).not.toContain('ghp_abcdefghijklmnopqrstuvwxyz0123456789');
    expect((await host.chat(ask(`again ${secret}`), { redact: false })).redactions).toBe(0);
    expect(JSON.stringify(received[1]!.messages)).toContain(secret);
  });
});

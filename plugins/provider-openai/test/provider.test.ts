import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, type ChatRequest, type ChatStreamEvent } from '@airlock/host';
import { startOAuthServer, type OAuthServer } from '@airlock/oauth-server';
import { startOpenAIServer, type ChatCompletionRequest, type OpenAIServer, type OpenAIServerOptions } from '@airlock/openai-server';
import { createTestHost, type FetchHandler, type TestHost } from '@airlock/plugin-kit/testing';
import { buildPlugin } from '@airlock/plugin-kit/build';
import { capabilityVariant, rejection } from '@airlock/test-utils';

const plugin = new URL('..', import.meta.url);
const authPlugin = new URL('../../auth-device-flow', import.meta.url);
const KEY = 'sk-test-4f9c2a7e1b3d5f6a8c0e';
/** The plugin's default backend; the test host sends it to the loopback chat server. */
const OPENAI = 'https://api.openai.com';
/** Where auth-device-flow is configured to sign in; sent to the loopback OAuth server. */
const LOGIN = 'https://login.example.com';

let api: OpenAIServer;
let oauth: OAuthServer | undefined;
/** Request bodies as the backend received them. */
let received: ChatCompletionRequest[];
const hosts: TestHost[] = [];
const scratch: string[] = [];

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

/** The plugin with its default baseUrl (api.openai.com), answered by the loopback server. */
async function start(options: { env?: Record<string, string>; config?: Record<string, unknown>; fetch?: Record<string, FetchHandler | string> } = {}): Promise<TestHost> {
  const t = await createTestHost({
    plugin,
    env: options.env ?? { OPENAI_API_KEY: KEY },
    config: { retryBaseMs: 50, ...options.config },
    fetch: options.fetch ?? { [OPENAI]: api.url },
  });
  hosts.push(t);
  return t;
}

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });

const chatPosts = () => api.requests.filter((r) => r.path === '/v1/chat/completions');

beforeEach(() => {
  received = [];
});

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((t) => t.close()));
  await api?.close();
  await oauth?.close();
  oauth = undefined;
  await Promise.all(scratch.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('models and chat', () => {
  it('describes itself and lists the backend models', async () => {
    await serve({ models: ['gpt-4o-mini', 'local-llama'] });
    const t = await start();
    expect(t.host.providers()).toEqual([{ id: 'provider-openai', displayName: 'OpenAI', defaultModel: 'gpt-4o-mini', limits: {} }]);
    expect(await t.host.checkProviders()).toEqual([{ provider: 'provider-openai', available: true, reason: undefined }]);
    expect((await t.models()).map((m) => [m.id, m.features.streaming, m.features.tools])).toEqual([
      ['gpt-4o-mini', true, true],
      ['local-llama', true, true],
    ]);
    expect(t.info.capabilities.http).toEqual([OPENAI]);
  });

  it('names another OpenAI-compatible backend by its host, and is granted only its origin', async () => {
    await serve();
    const t = await start({ config: { baseUrl: 'https://llm.example.com:8443/v1' }, fetch: { 'https://llm.example.com:8443': api.url } });
    expect(t.host.providers()[0]!.displayName).toBe('OpenAI-compatible (llm.example.com:8443)');
    expect(t.info.capabilities.http).toEqual(['https://llm.example.com:8443']);
    expect((await t.chat(ask('over there'))).message.content).toBe('You said: over there');
  });

  it('answers a chat with the backend text, finish reason and usage', async () => {
    await serve();
    const t = await start();
    const result = await t.chat(ask('hello there'));
    expect(result.message).toMatchObject({ role: 'assistant', content: 'You said: hello there' });
    expect(result.finishReason).toBe('stop');
    expect(result.usage!.promptTokens).toBeGreaterThan(0);
    expect(result.usage!.completionTokens).toBeGreaterThan(0);
    expect(chatPosts()[0]!.authorization).toMatch(/^Bearer sk-/);
  });

  it('streams the answer in order, with usage before done', async () => {
    await serve();
    const t = await start();
    const prompt = 'one two three four five six seven eight nine ten';
    const { events, text, finishReason, usage } = await t.streamChat(ask(prompt));
    const texts = events.filter((e) => e.type === 'text-delta');
    expect(texts.length).toBeGreaterThan(5);
    expect(texts.map((e) => e.text).join('')).toBe(`You said: ${prompt}`);
    expect(text).toBe(`You said: ${prompt}`);
    expect(finishReason).toBe('stop');
    expect(usage!.completionTokens).toBeGreaterThan(0);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['usage', 'done']);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop', provider: 'provider-openai', model: 'gpt-4o-mini' });
    expect(api.streams[0]).toMatchObject({ state: 'completed' });
    expect(api.streams[0]!.chunksWritten).toBe(api.streams[0]!.chunksPlanned);
  });

  it('asks for a tool, then answers with its result', async () => {
    await serve();
    const t = await start();
    const tools = [{ name: 'count_words', description: 'Count words.', parameters: { type: 'object', properties: { text: { type: 'string' } } } }];
    const first = await t.streamChat(ask('use count_words {"text":"a b c"}', { tools }));
    const calls = first.events.filter((e) => e.type === 'tool-call-delta');
    expect(calls[0]).toMatchObject({ index: 0, name: 'count_words' });
    expect(JSON.parse(calls.map((c) => c.arguments).join(''))).toEqual({ text: 'a b c' });
    expect(first.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool-calls' });
    expect(first.toolCalls).toEqual([{ id: calls[0]!.id, name: 'count_words', arguments: '{"text":"a b c"}' }]);

    const id = calls[0]!.id!;
    const second = await t.chat({
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
    const t = await start();
    const partial = await t.streamChat(ask('a long answer with many many words to stream slowly one by one'), {
      until: (_e, collected) => collected.events.filter((e) => e.type === 'text-delta').length === 3,
    });
    expect(partial).toMatchObject({ stopped: true, finishReason: undefined });
    const closed = await api.waitForStreamClosed(3_000);
    expect(closed.state).toBe('client-closed');
    expect(closed.chunksWritten).toBeLessThan(closed.chunksPlanned);
    // The plugin is still healthy.
    expect((await t.chat(ask('still there?'))).message.content).toBe('You said: still there?');
  });

  it('cancels with an AbortSignal too', async () => {
    await serve({ chunkDelayMs: 40 });
    const t = await start();
    const controller = new AbortController();
    const events: ChatStreamEvent[] = [];
    await expect(
      t.streamChat(ask('many words to stream here one after another slowly'), {
        signal: controller.signal,
        until: (e) => {
          events.push(e);
          if (events.length === 2) controller.abort(new Error('stop'));
        },
      }),
    ).rejects.toThrow('stop');
    expect(events).toHaveLength(2);
    expect((await api.waitForStreamClosed(3_000)).state).toBe('client-closed');
  });
});

describe('as a development build (airlock-plugin dev)', () => {
  it('streams through the engine, cancels, and answers again: its stream resource is the bundle\'s', { timeout: 300_000 }, async () => {
    // A copy of the plugin beside it, so its dist/ (which other suites run) stays the full build.
    const dir = await mkdtemp(fileURLToPath(new URL('../.tmp-dev-', import.meta.url)));
    scratch.push(dir);
    for (const file of ['src', 'package.json', 'tsconfig.json']) await cp(fileURLToPath(new URL(`../${file}`, import.meta.url)), join(dir, file), { recursive: true });
    const built = await buildPlugin({ dir, dev: true, skipTypecheck: true });
    expect(built).toMatchObject({ dev: true, bundle: join(dir, 'dist/plugin.dev.js') });

    await serve({ chunkDelayMs: 20 });
    const t = await createTestHost({ plugin: dir, build: false, env: { OPENAI_API_KEY: KEY }, config: { retryBaseMs: 50 }, fetch: { [OPENAI]: api.url } });
    hosts.push(t);
    const prompt = 'one two three four five';
    const streamed = await t.streamChat(ask(prompt));
    expect(streamed.text).toBe(`You said: ${prompt}`);
    expect(streamed.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop', provider: 'provider-openai' });

    const partial = await t.streamChat(ask('a long answer with many many words to stream slowly one by one'), {
      until: (_e, collected) => collected.events.filter((e) => e.type === 'text-delta').length === 2,
    });
    expect(partial).toMatchObject({ stopped: true });
    expect((await api.waitForStreamClosed(3_000)).state).toBe('client-closed');
    expect((await t.chat(ask('still there?'))).message.content).toBe('You said: still there?');
  });
});

describe('retries and errors', () => {
  it('retries a 429 after the time the server asked for, then succeeds', async () => {
    await serve();
    const t = await start();
    api.failNext(1, { status: 429, retryAfter: 0.3 });
    const result = await t.chat(ask('after a rate limit'));
    expect(result.message.content).toBe('You said: after a rate limit');
    expect(chatPosts().map((r) => r.status)).toEqual([429, 200]);
    // The wait it chose: the server's retry-after, not its own backoff.
    expect(t.logs.some((l) => l.level === 'warn' && l.message.includes('HTTP 429; retry 1 of 3 in 300 ms'))).toBe(true);
  });

  it('retries the start of a stream on 5xx', async () => {
    await serve();
    const t = await start();
    api.failNext(2, { status: 503 });
    expect((await t.streamChat(ask('eventually'))).text).toBe('You said: eventually');
    expect(chatPosts().map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('gives up after maxRetries with PROVIDER_RATE_LIMITED', async () => {
    await serve();
    const t = await start({ config: { maxRetries: 1 } });
    api.failNext(5, { status: 429, retryAfter: 0.05 });
    const err = await rejection(t.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(chatPosts()).toHaveLength(2);
  });

  it('does not wait longer than maxRetryWaitMs: a long retry-after is passed on at once', async () => {
    await serve();
    const t = await start({ config: { maxRetryWaitMs: 1000 } });
    api.failNext(1, { status: 429, retryAfter: 30 });
    const err = await rejection(t.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_RATE_LIMITED');
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).retryAfterMs).toBe(30_000);
    // It did not wait: no retry was scheduled, and the server saw one request.
    expect(t.logs.filter((l) => l.message.includes('retry 1 of'))).toEqual([]);
    expect(chatPosts()).toHaveLength(1);
  });

  it('reports PROVIDER_UNAVAILABLE when 5xx outlasts the retries', async () => {
    await serve();
    const t = await start({ config: { maxRetries: 2 } });
    api.failNext(3, { status: 500 });
    expect((await rejection(t.chat(ask('x')))).code).toBe('PROVIDER_UNAVAILABLE');
    expect(chatPosts().map((r) => r.status)).toEqual([500, 500, 500]);
  });

  it('surfaces a refused key as PROVIDER_AUTH at once, without retrying or showing the key', async () => {
    await serve();
    const wrong = 'sk-wrong-9d8c7b6a5f4e3d2c1b0a';
    const t = await start({ env: { OPENAI_API_KEY: wrong } });
    const err = await rejection(t.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.message).toContain('Incorrect API key');
    expect(chatPosts()).toHaveLength(1);
  });

  it('masks the API key in errors and logs when the backend echoes it back', async () => {
    await serve();
    const t = await start();
    api.failNext(1, { status: 401, message: `Incorrect API key provided: ${KEY}` });
    const echoed = await rejection(t.chat(ask('x')));
    expect(echoed.code).toBe('PROVIDER_AUTH');
    expect(echoed.message).toContain('Incorrect API key provided: [REDACTED]');
    expect(JSON.stringify(echoed.toJSON()) + echoed.stack + (echoed as ProviderError).details).not.toContain(KEY);
    expect(t.logs.filter((l) => l.message.includes(KEY))).toEqual([]);
  });

  it('reports a backend it cannot reach as PROVIDER_UNAVAILABLE', async () => {
    await serve();
    const t = await start({ config: { maxRetries: 1 } });
    await api.close();
    const err = await rejection(t.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_UNAVAILABLE');
    expect(err.message).toContain(`cannot reach ${OPENAI}`);
  });

  it('reports an unknown model as PROVIDER_INVALID_REQUEST', async () => {
    await serve();
    const t = await start();
    const err = await rejection(t.chat({ ...ask('x'), model: 'no-such-model' }));
    expect(err.code).toBe('PROVIDER_INVALID_REQUEST');
    expect(err.message).toContain('no-such-model');
  });
});

describe('against a scripted backend (fake origin)', () => {
  /** An OpenAI-style chunk of a streamed completion. */
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] });

  /** A stream of server-sent events with `eol` line ends, delivered `size` bytes at a time. */
  function sse(events: unknown[], size: number, eol = '\n'): Response {
    const bytes = new TextEncoder().encode(events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}${eol}${eol}`).join(''));
    return new Response(
      new ReadableStream({
        start(controller) {
          for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
          controller.close();
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    );
  }

  it('reads events split anywhere across network chunks, even inside a character, with CRLF line ends', async () => {
    const t = await start({
      fetch: {
        [OPENAI]: () =>
          sse([chunk({ role: 'assistant', content: 'Hel' }), chunk({ content: 'lo, ' }), chunk({ content: 'wörld' }), chunk({}, 'length'), { id: 'c1', choices: [], usage: { prompt_tokens: 4, completion_tokens: 3 } }, '[DONE]'], 3, '\r\n'),
      },
    });
    const result = await t.streamChat(ask('hi'));
    expect(result).toMatchObject({ text: 'Hello, wörld', finishReason: 'length', usage: { promptTokens: 4, completionTokens: 3 } });
    const [request] = t.requests;
    expect(request).toMatchObject({ method: 'POST', url: `${OPENAI}/v1/chat/completions`, headers: { authorization: `Bearer ${KEY}`, accept: 'text/event-stream' } });
    expect(JSON.parse(request!.body)).toMatchObject({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
  });

  it('reports a stream the backend cuts before [DONE] as PROVIDER_UNAVAILABLE, after the text it got', async () => {
    const t = await start({ fetch: { [OPENAI]: () => sse([chunk({ content: 'half an' })], 1000) } });
    const seen: string[] = [];
    const err = await rejection(t.streamChat(ask('hi'), { until: (e) => void (e.type === 'text-delta' && seen.push(e.text)) }));
    expect(seen).toEqual(['half an']);
    expect(err.code).toBe('PROVIDER_UNAVAILABLE');
    expect(err.message).toContain('the backend closed the stream before it finished');
  });

  it('retries when the backend fails, and reports what it said when it keeps failing', async () => {
    let calls = 0;
    const t = await start({
      config: { maxRetries: 1 },
      fetch: {
        [OPENAI]: () => {
          calls++;
          throw new Error('backend exploded');
        },
      },
    });
    const err = await rejection(t.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_UNAVAILABLE');
    expect(calls).toBe(2);
    expect(t.requests.map((r) => [r.status, r.error])).toEqual([
      [500, 'backend exploded'],
      [500, 'backend exploded'],
    ]);
  });
});

describe('credentials', () => {
  /** An OAuth server whose tokens the chat server accepts, and a test host with auth-device-flow loaded first. */
  async function brokered(options: { grantCredentials: boolean }) {
    oauth = await startOAuthServer({ interval: 1, autoApprove: true });
    const tokens = oauth;
    await serve({ apiKeys: [], verifyToken: (t) => tokens.verifyAccessToken(t).valid });
    let dir: string | URL = plugin;
    if (!options.grantCredentials) {
      // The same component, asking for no credentials.
      const base = await mkdtemp(join(tmpdir(), 'airlock-openai-'));
      scratch.push(base);
      dir = await capabilityVariant(fileURLToPath(plugin), base, 'provider-openai', { http: ['{{ config.baseUrl }}'], env: ['OPENAI_API_KEY'] });
    }
    const at = (url: string) => `${LOGIN}${new URL(url).pathname}`;
    const t = await createTestHost({
      plugin: dir,
      build: options.grantCredentials,
      env: {},
      config: { retryBaseMs: 50 },
      plugins: [{ plugin: authPlugin, config: { clientId: 'airlock-demo', deviceAuthorizationEndpoint: at(oauth.deviceAuthorizationEndpoint), tokenEndpoint: at(oauth.tokenEndpoint) } }],
      fetch: { [OPENAI]: api.url, [LOGIN]: oauth.url },
    });
    hosts.push(t);
    return t;
  }

  it('uses a token brokered from auth-device-flow when no key is set', async () => {
    const t = await brokered({ grantCredentials: true });
    // The health check says so before a request is tried.
    expect(await t.host.checkProviders('provider-openai')).toEqual([
      { provider: 'provider-openai', available: false, reason: 'not signed in: set OPENAI_API_KEY, or sign in with `airlock auth login auth-device-flow`' },
    ]);
    const before = await rejection(t.chat(ask('x')));
    expect(before.code).toBe('PROVIDER_AUTH');
    expect(before.message).toContain('airlock auth login auth-device-flow');

    expect(await t.deviceLogin({ plugin: 'auth-device-flow' })).toMatchObject({ signedIn: true });
    expect((await t.host.checkProviders('provider-openai'))[0]).toMatchObject({ available: true });
    const result = await t.chat(ask('signed in'));
    expect(result.message.content).toBe('You said: signed in');
    const token = (await t.host.auth('auth-device-flow').token()).accessToken;
    expect(t.logs.filter((l) => l.message.includes(token))).toEqual([]);
  });

  it('gets no token without the credentials grant', async () => {
    const t = await brokered({ grantCredentials: false });
    await t.deviceLogin({ plugin: 'auth-device-flow' });
    expect((await t.host.checkProviders('provider-openai'))[0]).toEqual({ provider: 'provider-openai', available: false, reason: 'no credentials: set OPENAI_API_KEY, or grant this plugin credentials from auth-device-flow' });
    const err = await rejection(t.chat(ask('x')));
    expect(err.code).toBe('PROVIDER_AUTH');
    expect(err.message).toContain('grant this plugin credentials from auth-device-flow');
    expect(chatPosts()).toHaveLength(0);
  });

  it('refuses credentials mode without the key even when one is set, and api-key mode without a key', async () => {
    await serve();
    const keyOnly = await start({ env: {}, config: { auth: 'api-key' } });
    expect((await keyOnly.host.checkProviders())[0]).toEqual({ provider: 'provider-openai', available: false, reason: 'OPENAI_API_KEY is not set, or not granted to this plugin' });
    expect((await rejection(keyOnly.chat(ask('x')))).message).toContain('OPENAI_API_KEY is not set, or not granted');
  });
});

describe('redaction', () => {
  it('replaces secrets in the conversation before the plugin sees them, and counts them', async () => {
    await serve();
    const t = await start();
    const secret = 'AKIAIOSFODNN7EXAMPLE';
    const result = await t.chat(ask(`my key is ${secret}, and GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789`));
    expect(result.redactions).toBe(2);
    const sent = JSON.stringify(received[0]!.messages);
    expect(sent).not.toContain(secret);
    expect(sent).not.toContain('ghp_abcdefghijklmnopqrstuvwxyz0123456789');
    expect((await t.chat(ask(`again ${secret}`), { redact: false })).redactions).toBe(0);
    expect(JSON.stringify(received[1]!.messages)).toContain(secret);
  });
});

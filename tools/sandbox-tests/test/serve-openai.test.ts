/**
 * The OpenAI-compatible API of `@airlock/serve`, fronting the
 * `provider-openai` sample plugin, which talks to the loopback OpenAI server.
 * Driven by clients nobody here wrote: the official `openai` package and the
 * Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { generateText, streamText } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { startOpenAIServer, type OpenAIServer } from '@airlock/openai-server';
import { createHost, type Host } from '@airlock/host';
import { createServer, TokenStore, type AirlockServer } from '@airlock/serve';

const providerOpenAI = new URL('../../../plugins/provider-openai', import.meta.url).pathname;
/** The upstream key: the host hands it to the plugin; no caller ever sees it. */
const UPSTREAM_KEY = 'sk-upstream-7d41c09b2e5f8a36';

let home: string;
let upstream: OpenAIServer;
let host: Host;
let server: AirlockServer;
let base: string;
let chat: string;
let toolsOnly: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-serve-openai-'));
  upstream = await startOpenAIServer({ apiKeys: [UPSTREAM_KEY] });
  host = await createHost({ home, logger: () => {}, env: { OPENAI_API_KEY: UPSTREAM_KEY } });
  await host.load(providerOpenAI, { grant: 'manifest', config: { baseUrl: upstream.url } });
  const store = await TokenStore.open(home);
  chat = (await store.create({ scopes: ['chat'] })).token;
  toolsOnly = (await store.create({ scopes: ['tools'] })).token;
  server = createServer(host, { tokens: store });
  base = `${(await server.listen()).url}/v1`;
});

afterAll(async () => {
  await server.close();
  await host.close();
  await upstream.close();
  await rm(home, { recursive: true, force: true });
});

const client = (apiKey = chat) => new OpenAI({ baseURL: base, apiKey, maxRetries: 0 });

describe('the OpenAI-compatible API, with the official openai client', () => {
  it('lists one model per <provider>/<model>', async () => {
    const ids = [];
    for await (const model of client().models.list()) ids.push(model.id);
    expect(ids).toEqual(expect.arrayContaining(['provider-openai/gpt-4o-mini', 'provider-openai/airlock-echo-1']));
  });

  it('answers a chat completion, with usage', async () => {
    const completion = await client().chat.completions.create({ model: 'provider-openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello gateway' }] });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('provider-openai/gpt-4o-mini');
    expect(completion.choices[0]!.message.content).toBe('You said: hello gateway');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('streams it, with usage in the last chunk when asked, and [DONE]', async () => {
    const stream = await client().chat.completions.create({
      model: 'provider-openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me a reply' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish ??= chunk.choices[0]?.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('You said: stream me a reply');
    expect(chunks).toBeGreaterThan(2);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('passes tool definitions through and returns the model’s tool call in OpenAI’s shape, whole and streamed', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'call get_weather {"city":"Oslo"}' }];
    const whole = await client().chat.completions.create({ model: 'provider-openai/gpt-4o-mini', messages, tools });
    expect(whole.choices[0]!.finish_reason).toBe('tool_calls');
    const call = whole.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } });

    const streamed = await client().chat.completions.create({ model: 'provider-openai/gpt-4o-mini', messages, tools, stream: true });
    let name = '';
    let args = '';
    let id: string | undefined;
    for await (const chunk of streamed) {
      for (const c of chunk.choices[0]?.delta.tool_calls ?? []) {
        id ??= c.id;
        name += c.function?.name ?? '';
        args += c.function?.arguments ?? '';
      }
    }
    expect({ id: typeof id, name, args }).toEqual({ id: 'string', name: 'get_weather', args: '{"city":"Oslo"}' });

    // The tool's answer goes back as a tool message; the model answers from it.
    const answer = await client().chat.completions.create({
      model: 'provider-openai/gpt-4o-mini',
      tools,
      messages: [...messages, whole.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"temp":4}' }],
    });
    expect(answer.choices[0]!.message.content).toBe('The tool returned: {"temp":4}');
  });

  it('refuses in OpenAI’s error shape: no token 401, the wrong scope 403, an unknown model 404, a bad request 400', async () => {
    await expect(client('alk_000000000000_nope').models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client(toolsOnly).models.list()).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    const unknown = await client()
      .chat.completions.create({ model: 'nobody/gpt-9', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    const bad = await client()
      .chat.completions.create({ model: 'provider-openai/gpt-4o-mini', messages: [] })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages');
  });

  it('passes the upstream’s rate limit on as a 429 with Retry-After', async () => {
    // Longer than the plugin is willing to wait and retry (20 s): it gives up at once and says how long.
    upstream.failNext(1, { status: 429, retryAfter: 60 });
    const limited = await client()
      .chat.completions.create({ model: 'provider-openai/gpt-4o-mini', messages: [{ role: 'user', content: 'too fast' }] })
      .catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('60');
  });

  it('stops the plugin’s stream, and its request upstream, when the caller leaves', async () => {
    const controller = new AbortController();
    const stream = await client().chat.completions.create({ model: 'provider-openai/stall', messages: [{ role: 'user', content: 'never ending' }], stream: true }, { signal: controller.signal });
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    controller.abort();
    const closed = await upstream.waitForStream((s) => s.model === 'stall', 30_000);
    expect(closed.state).toBe('client-closed');
  });

  it('keeps credentials brokered: the upstream sees the host’s key, never the caller’s token', async () => {
    await client().chat.completions.create({ model: 'provider-openai/gpt-4o-mini', messages: [{ role: 'user', content: 'whose key?' }] });
    const seen = upstream.requests.map((r) => r.authorization);
    expect(seen.length).toBeGreaterThan(0);
    for (const auth of seen) {
      expect(auth).toMatch(/^Bearer sk-/);
      expect(auth).not.toContain('alk_');
    }
  });
});

describe('the OpenAI-compatible API, with the Vercel AI SDK', () => {
  const airlock = () => createOpenAICompatible({ name: 'airlock', baseURL: base, apiKey: chat, includeUsage: true });

  it('generateText', async () => {
    const { text, finishReason, usage } = await generateText({ model: airlock()('provider-openai/gpt-4o-mini'), prompt: 'hello from the ai sdk' });
    expect(text).toBe('You said: hello from the ai sdk');
    expect(finishReason).toBe('stop');
    expect(usage.outputTokens).toBeGreaterThan(0);
  });

  it('streamText', async () => {
    const result = streamText({ model: airlock()('provider-openai/gpt-4o-mini'), prompt: 'streamed through the gateway' });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe('You said: streamed through the gateway');
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
  });
});

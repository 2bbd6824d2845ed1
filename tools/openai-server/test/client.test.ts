/**
 * The official openai client against the server: models, chat completions,
 * streaming, tool calls, usage and max_tokens.
 */
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIServer, type OpenAIServer } from '../src/index.js';
import { API_KEY, rejection } from './support.js';

let server: OpenAIServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startOpenAIServer();
  client = new OpenAI({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0 });
});
afterAll(() => server.close());

const model = 'gpt-4o-mini';

const tools: ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } },
];

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('models', () => {
  it('lists the default models', async () => {
    const { data } = await client.models.list();
    expect(data).toEqual([
      { id: 'gpt-4o-mini', object: 'model', created: expect.any(Number), owned_by: 'airlock' },
      { id: 'airlock-echo-1', object: 'model', created: expect.any(Number), owned_by: 'airlock' },
    ]);
  });

  it('retrieves one model, or NotFoundError', async () => {
    expect(await client.models.retrieve('airlock-echo-1')).toMatchObject({ id: 'airlock-echo-1', object: 'model' });
    const error = await rejection(client.models.retrieve('gpt-nope'));
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'model_not_found', type: 'invalid_request_error' });
  });
});

describe('chat completions', () => {
  it('echoes the last user message with usage and finish_reason stop', async () => {
    const { data: completion, request_id } = await client.chat.completions
      .create({ model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello there world' }] })
      .withResponse();
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(request_id).toMatch(/^req_/);
    expect(completion).toMatchObject({ object: 'chat.completion', model });
    expect(completion.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'You said: hello there world', refusal: null }, finish_reason: 'stop', logprobs: null },
    ]);
    // (1 + 2) + (1 + 3) prompt tokens; "You said: hello there world" is 5.
    expect(completion.usage).toEqual({ prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 });
  });

  it('reads text from content parts', async () => {
    const completion = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'two' }, { type: 'text', text: 'parts' }] }],
    });
    expect(completion.choices[0]?.message.content).toBe('You said: two parts');
  });

  it('truncates to max_tokens words with finish_reason length', async () => {
    const messages = [{ role: 'user' as const, content: 'one two three four' }];
    const completion = await client.chat.completions.create({ model, messages, max_tokens: 3 });
    expect(completion.choices[0]).toMatchObject({ message: { content: 'You said: one' }, finish_reason: 'length' });
    expect(completion.usage?.completion_tokens).toBe(3);
    const newer = await client.chat.completions.create({ model, messages, max_completion_tokens: 2 });
    expect(newer.choices[0]).toMatchObject({ message: { content: 'You said:' }, finish_reason: 'length' });
  });

  it('uses the reply option', async () => {
    const custom = await startOpenAIServer({ reply: (request) => `${request.messages.length} messages` });
    try {
      const customClient = new OpenAI({ baseURL: custom.url, apiKey: API_KEY, maxRetries: 0 });
      const completion = await customClient.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
      expect(completion.choices[0]?.message.content).toBe('1 messages');
    } finally {
      await custom.close();
    }
  });

  it('accepts tokens approved by verifyToken, and only those', async () => {
    const custom = await startOpenAIServer({ verifyToken: async (token) => token === 'issued-access-token' });
    try {
      const create = (apiKey: string) =>
        new OpenAI({ baseURL: custom.url, apiKey, maxRetries: 0 }).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
      expect((await create('issued-access-token')).choices[0]?.message.content).toBe('You said: hi');
      expect(await rejection(create(API_KEY))).toBeInstanceOf(OpenAI.AuthenticationError);
    } finally {
      await custom.close();
    }
  });
});

describe('streaming', () => {
  it('streams the role, one word per delta, the finish reason, then usage', async () => {
    const stream = await client.chat.completions.create({
      model,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'stream  this please' }],
    });
    const chunks = await collect(stream);
    const deltas = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta));
    expect(deltas[0]).toEqual({ role: 'assistant', content: '' });
    expect(deltas.slice(1, -1).map((delta) => delta.content)).toEqual(['You ', 'said: ', 'stream  ', 'this ', 'please']);
    expect(deltas.map((delta) => delta.content ?? '').join('')).toBe('You said: stream  this please');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 5, total_tokens: 9 } });
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.model === model)).toBe(true);
    expect(server.streams.at(-1)).toMatchObject({ state: 'completed', chunksWritten: chunks.length, chunksPlanned: chunks.length });
  });

  it('sends no usage chunk unless asked', async () => {
    const chunks = await collect(await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.every((chunk) => !('usage' in chunk))).toBe(true);
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const stream = await client.chat.completions.create({ model, stream: true, max_tokens: 2, messages: [{ role: 'user', content: 'a b c' }] });
    const chunks = await collect(stream);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('You said:');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });

  it('closes the upstream connection when the consumer breaks out of the loop', async () => {
    const slow = await startOpenAIServer({ chunkDelayMs: 10 });
    try {
      const slowClient = new OpenAI({ baseURL: slow.url, apiKey: API_KEY, maxRetries: 0 });
      const content = 'word '.repeat(100);
      const stream = await slowClient.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content }] });
      let received = 0;
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content && ++received === 3) break;
      }
      const closed = await slow.waitForStreamClosed();
      expect(closed.chunksWritten).toBeLessThan(50);
      expect(closed.chunksPlanned).toBe(104);
    } finally {
      await slow.close();
    }
  });
});

describe('tool calls', () => {
  it('calls the tool the user names first, with the JSON object after its name', async () => {
    const completion = await client.chat.completions.create({
      model,
      tools,
      messages: [{ role: 'user', content: 'Use get_time {"tz": "UTC", "note": "not {get_weather}"} then get_weather' }],
    });
    const [choice] = completion.choices;
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([
      { id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_time', arguments: '{"tz":"UTC","note":"not {get_weather}"}' } },
    ]);
    // "get_time {"tz":"UTC","note":"not {get_weather}"}" is 3 words.
    expect(completion.usage?.completion_tokens).toBe(3);
  });

  it('passes {} without a JSON object, and answers text when no tool is named as a word', async () => {
    const call = await client.chat.completions.create({ model, tools, messages: [{ role: 'user', content: 'what does get_weather say?' }] });
    expect(call.choices[0]?.message.tool_calls?.[0]).toMatchObject({ function: { name: 'get_weather', arguments: '{}' } });
    const text = await client.chat.completions.create({ model, tools, messages: [{ role: 'user', content: 'no get_weathers here' }] });
    expect(text.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'You said: no get_weathers here' } });
  });

  it('answers a tool result with it', async () => {
    const completion = await client.chat.completions.create({
      model,
      tools,
      messages: [
        { role: 'user', content: 'get_weather {"city":"Paris"}' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C and sunny' },
      ],
    });
    expect(completion.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'The tool returned: 18°C and sunny' } });
  });

  it('streams a tool call the way OpenAI does', async () => {
    const messages = [{ role: 'user' as const, content: 'get_weather {"city": "Paris", "days": [1, 2, 3]}' }];
    const chunks = await collect(await client.chat.completions.create({ model, tools, stream: true, messages }));
    const fragments = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
    const [first, ...rest] = fragments;
    expect(first).toEqual({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(rest.length).toBeGreaterThan(1);
    for (const fragment of rest) expect(fragment).toEqual({ index: 0, function: { arguments: expect.any(String) } });
    expect(JSON.parse(fragments.map((fragment) => fragment.function?.arguments).join(''))).toEqual({ city: 'Paris', days: [1, 2, 3] });
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it("satisfies the client's stream accumulator", async () => {
    const stream = client.chat.completions.stream({ model, tools, messages: [{ role: 'user', content: 'get_time {"tz":"Europe/Paris"}' }] });
    const completion = await stream.finalChatCompletion();
    expect(completion.choices[0]?.message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_time', arguments: '{"tz":"Europe/Paris"}' } });
  });
});

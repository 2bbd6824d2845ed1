/**
 * Scripted failures and auth errors, as the official openai client sees them.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIServer, type OpenAIServer } from '../src/index.js';
import { API_KEY, rejection } from './support.js';

let server: OpenAIServer;

beforeAll(async () => {
  server = await startOpenAIServer();
});
afterEach(() => server.reset());
afterAll(() => server.close());

function chat(options: { maxRetries?: number; apiKey?: string } = {}) {
  const client = new OpenAI({ baseURL: server.url, apiKey: options.apiKey ?? API_KEY, maxRetries: options.maxRetries ?? 0 });
  return client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
}

const chatRequests = () => server.requests.filter((request) => request.path === '/v1/chat/completions');

describe('auth', () => {
  it('answers a wrong key with 401 AuthenticationError, and records only a redacted prefix', async () => {
    const error = await rejection(chat({ apiKey: 'sk-wrong-secret-key' }));
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error).toMatchObject({ status: 401, type: 'invalid_request_error', code: 'invalid_api_key', param: null });
    expect(server.requests[0]).toMatchObject({ authorization: 'Bearer sk-wro…', status: 401 });
    await chat();
    expect(JSON.stringify(server.requests)).not.toMatch(/sk-wrong|sk-test/);
  });
});

describe('failNext', () => {
  it('answers 429 with retry-after, rate-limit headers and the OpenAI error body', async () => {
    server.failNext(1, { status: 429 });
    const error = await rejection(chat());
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimit = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimit).toMatchObject({ status: 429, type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' });
    expect(rateLimit.requestID).toMatch(/^req_/);
    expect(rateLimit.headers.get('retry-after')).toBe('1');
    expect(rateLimit.headers.get('retry-after-ms')).toBe('1000');
    expect(rateLimit.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((await chat()).choices[0]?.message.content).toBe('You said: hi');
  });

  it('lets a retrying client retry after a 429, then succeed', async () => {
    server.failNext(1, { status: 429, retryAfter: 0.05 });
    const completion = await chat({ maxRetries: 1 });
    expect(completion.choices[0]?.message.content).toBe('You said: hi');
    expect(chatRequests().map((request) => request.status)).toEqual([429, 200]);
  });

  it('sends a fractional wait as retry-after-ms, with retry-after rounded up to whole seconds', async () => {
    // The client reads retry-after-ms first (a wait in ms, fractions kept); clients that only know retry-after wait a whole second.
    server.failNext(1, { status: 429, retryAfter: 0.05 });
    const response = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after-ms')).toBe('50');
    expect(response.headers.get('retry-after')).toBe('1');
  });

  it('maps 500 and 503 to InternalServerError, 400 to BadRequestError, 401 to AuthenticationError', async () => {
    server.failNext(1, { status: 500 });
    server.failNext(1, { status: 503, message: 'down for a bit' });
    server.failNext(1, { status: 400 });
    server.failNext(1, { status: 401 });
    expect(await rejection(chat())).toSatisfy((e) => e instanceof OpenAI.InternalServerError && e.status === 500 && e.type === 'server_error');
    expect(await rejection(chat())).toSatisfy((e) => e instanceof OpenAI.InternalServerError && e.status === 503 && e.message === '503 down for a bit');
    expect(await rejection(chat())).toBeInstanceOf(OpenAI.BadRequestError);
    expect(await rejection(chat())).toBeInstanceOf(OpenAI.AuthenticationError);
    await chat();
  });

  it('fails the given number of requests, in queue order', async () => {
    // retryAfter 0 keeps the client from backing off.
    server.failNext(2, { status: 500, retryAfter: 0 });
    server.failNext(1, { status: 429, retryAfter: 0 });
    await chat({ maxRetries: 3 });
    expect(chatRequests().map((request) => request.status)).toEqual([500, 500, 429, 200]);
  });

  it('fails a streaming request before it streams', async () => {
    server.failNext(1, { status: 503 });
    const client = new OpenAI({ baseURL: server.url, apiKey: API_KEY, maxRetries: 0 });
    const error = await rejection(client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(server.streams).toHaveLength(0);
  });
});

/**
 * Raw HTTP: routing, auth and request validation, each answered in OpenAI's
 * error shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_BODY_BYTES, startOpenAIServer, type OpenAIServer } from '../src/index.js';
import { API_KEY, postChat } from './support.js';

let server: OpenAIServer;

beforeAll(async () => {
  server = await startOpenAIServer();
});
afterAll(() => server.close());

const auth = { authorization: `Bearer ${API_KEY}` };
const messages = [{ role: 'user', content: 'hi' }];

/** Status and error body of a response, checking the body has OpenAI's shape. */
async function errorOf(response: Response): Promise<{ status: number; error: Record<string, unknown> }> {
  expect(response.headers.get('content-type')).toBe('application/json');
  const body = (await response.json()) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error)).toEqual(['message', 'type', 'param', 'code']);
  expect(body.error.message).toEqual(expect.any(String));
  return { status: response.status, error: body.error };
}

describe('routing', () => {
  it('answers unknown paths with 404', async () => {
    expect(await errorOf(await fetch(`${server.url}/embeddings`, { headers: auth }))).toMatchObject({
      status: 404,
      error: { type: 'invalid_request_error', code: 'unknown_url', message: 'Invalid URL (GET /v1/embeddings).' },
    });
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const response = await fetch(`${server.url}/chat/completions`, { headers: auth });
    expect(response.headers.get('allow')).toBe('POST');
    expect(await errorOf(response)).toMatchObject({ status: 405, error: { code: 'method_not_allowed' } });
    expect((await fetch(`${server.url}/models`, { method: 'DELETE', headers: auth })).status).toBe(405);
  });

  it('retrieves special models, and percent-decodes model ids', async () => {
    expect(await (await fetch(`${server.url}/models/bench-100`, { headers: auth })).json()).toMatchObject({ id: 'bench-100', object: 'model' });
    const custom = await startOpenAIServer({ models: ['ft:gpt-4o-mini:org/x'] });
    try {
      const response = await fetch(`${custom.url}/models/${encodeURIComponent('ft:gpt-4o-mini:org/x')}`, { headers: auth });
      expect(await response.json()).toMatchObject({ id: 'ft:gpt-4o-mini:org/x' });
    } finally {
      await custom.close();
    }
  });
});

describe('auth', () => {
  it('answers a missing or non-bearer Authorization with 401 invalid_api_key', async () => {
    for (const headers of [{}, { authorization: `Basic ${API_KEY}` }] as Array<Record<string, string>>) {
      const { status, error } = await errorOf(await fetch(`${server.url}/models`, { headers }));
      expect(status).toBe(401);
      expect(error).toEqual({ message: expect.stringContaining("didn't provide an API key"), type: 'invalid_request_error', param: null, code: 'invalid_api_key' });
    }
    expect(server.requests.slice(-2).map((request) => request.authorization)).toEqual([null, 'Basic sk-…']);
  });
});

describe('validation', () => {
  const cases: Array<[string, unknown, number, Record<string, unknown>]> = [
    ['invalid JSON', '{"model": ', 400, { code: 'invalid_json' }],
    ['a non-object body', '[1, 2]', 400, { code: 'invalid_type', param: 'body' }],
    ['a missing model', { messages }, 400, { code: 'missing_required_parameter', param: 'model' }],
    ['missing messages', { model: 'gpt-4o-mini' }, 400, { code: 'missing_required_parameter', param: 'messages' }],
    ['messages not an array', { model: 'gpt-4o-mini', messages: 'hi' }, 400, { code: 'invalid_type', param: 'messages' }],
    ['no messages', { model: 'gpt-4o-mini', messages: [] }, 400, { code: 'empty_array', param: 'messages' }],
    ['a message without a role', { model: 'gpt-4o-mini', messages: [{ content: 'hi' }] }, 400, { param: 'messages[0].role' }],
    ['a numeric content', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 1 }] }, 400, { param: 'messages[0].content' }],
    ['a non-boolean stream', { model: 'gpt-4o-mini', messages, stream: 'yes' }, 400, { param: 'stream' }],
    ['a zero max_tokens', { model: 'gpt-4o-mini', messages, max_tokens: 0 }, 400, { param: 'max_tokens' }],
    ['a bad tool name', { model: 'gpt-4o-mini', messages, tools: [{ type: 'function', function: { name: 'a b' } }] }, 400, { param: 'tools[0].function.name' }],
    ['an unknown model', { model: 'gpt-9', messages }, 404, { code: 'model_not_found', param: 'model' }],
  ];
  it.each(cases)('answers %s', async (_, body, status, error) => {
    expect(await errorOf(await postChat(server, body))).toMatchObject({ status, error: { type: 'invalid_request_error', ...error } });
  });

  it('answers a body over 4 MiB with 413, and accepts one just under', async () => {
    const unpadded = JSON.stringify({ model: 'gpt-4o-mini', messages, pad: '' }).length;
    const bodyOf = (bytes: number) => JSON.stringify({ model: 'gpt-4o-mini', messages, pad: 'x'.repeat(bytes - unpadded) });
    expect(await errorOf(await postChat(server, bodyOf(DEFAULT_MAX_BODY_BYTES + 1)))).toMatchObject({ status: 413, error: { code: 'request_too_large' } });
    expect((await postChat(server, bodyOf(DEFAULT_MAX_BODY_BYTES))).status).toBe(200);
  });
});

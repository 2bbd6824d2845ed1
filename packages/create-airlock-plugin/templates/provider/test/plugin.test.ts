import { afterEach, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '@airlock/plugin-kit/testing';

const plugin = new URL('..', import.meta.url);
const KEY = 'sk-test-0123456789';

/** Server-sent events, one `data:` line per chunk, as OpenAI-compatible backends stream. */
function sse(chunks: unknown[]): Response {
  const lines = [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'];
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const line of lines) controller.enqueue(new TextEncoder().encode(line));
      controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}

/** A fake backend at https://api.example.com (the manifest's default baseUrl). */
const backend = {
  'https://api.example.com': async (req: Request) => {
    if (req.headers.get('authorization') !== `Bearer ${KEY}`) return Response.json({ error: 'bad key' }, { status: 401 });
    const path = new URL(req.url).pathname;
    if (path === '/v1/models') return Response.json({ data: [{ id: 'small' }, { id: 'large' }] });
    const body = (await req.json()) as { stream: boolean; messages: { content: string }[] };
    const question = body.messages.at(-1)!.content;
    if (!body.stream) {
      return Response.json({ choices: [{ message: { content: `echo: ${question}` }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2 } });
    }
    return sse([
      { choices: [{ delta: { content: 'echo: ' }, finish_reason: null }] },
      { choices: [{ delta: { content: question }, finish_reason: null }] },
      { choices: [{ delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2 } },
    ]);
  },
};

let t: TestHost | undefined;
afterEach(() => t?.close());

describe('{{id}}', () => {
  it('lists the backend’s models', async () => {
    t = await createTestHost({ plugin, env: { {{envName}}: KEY }, fetch: backend });
    expect((await t.models()).map((m) => m.id)).toEqual(['small', 'large']);
  });

  it('answers a chat request', async () => {
    t = await createTestHost({ plugin, env: { {{envName}}: KEY }, fetch: backend });
    const answer = await t.chat({ messages: [{ role: 'user', content: 'hello' }] });
    expect(answer).toMatchObject({ message: { role: 'assistant', content: 'echo: hello' }, finishReason: 'stop', usage: { promptTokens: 3, completionTokens: 2 } });
    expect(t.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST https://api.example.com/v1/chat/completions']);
    expect(JSON.parse(t.requests[0]!.body)).toMatchObject({ model: 'small', stream: false });
  });

  it('streams an answer', async () => {
    t = await createTestHost({ plugin, env: { {{envName}}: KEY }, fetch: backend });
    const streamed = await t.streamChat({ messages: [{ role: 'user', content: 'stream me' }] });
    expect(streamed.text).toBe('echo: stream me');
    expect(streamed.finishReason).toBe('stop');
    expect(streamed.usage).toEqual({ promptTokens: 3, completionTokens: 2 });
  });

  it('reports a refused key as PROVIDER_AUTH', async () => {
    t = await createTestHost({ plugin, env: { {{envName}}: 'sk-wrong-key-000' }, fetch: backend });
    await expect(t.chat({ messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ code: 'PROVIDER_AUTH' });
  });

  it('says so when the key is not set', async () => {
    t = await createTestHost({ plugin, env: {}, fetch: backend });
    await expect(t.chat({ messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ code: 'PROVIDER_AUTH', message: expect.stringContaining('{{envName}} is not set') });
    expect(t.requests).toEqual([]);
  });
});

/**
 * Streaming over raw fetch: SSE framing, client aborts, stalls, bench models,
 * and shutdown with streams open.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_CHUNK_TEXT, startOpenAIServer, type OpenAIServer } from '../src/index.js';
import { postChat, readEvents, sseData } from './support.js';

let server: OpenAIServer;

beforeAll(async () => {
  server = await startOpenAIServer({ chunkDelayMs: 5 });
});
afterEach(() => server.reset());
afterAll(() => server.close());

const messages = [{ role: 'user', content: 'frame me' }];

describe('SSE framing', () => {
  it('sends data-only events ending with [DONE]', async () => {
    const response = await postChat(server, { model: 'gpt-4o-mini', stream: true, messages });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    const data = sseData(await response.text());
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((payload) => JSON.parse(payload));
    expect(chunks.map((chunk) => chunk.choices[0].delta.content ?? '').join('')).toBe('You said: frame me');
    expect(server.requests[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', model: 'gpt-4o-mini', stream: true, status: 200 });
    expect(server.streams).toEqual([
      expect.objectContaining({ requestId: server.requests[0]?.id, completionId: chunks[0].id, state: 'completed', chunksWritten: 6, stalled: false, delayMs: 5 }),
    ]);
  });

  it('streams bench-<n> as n chunks of fixed-size text, without the chunk delay', async () => {
    const response = await postChat(server, { model: 'bench-2000', stream: true, stream_options: { include_usage: true }, messages });
    const data = sseData(await response.text());
    // This server pauses 5 ms between chunks; a bench stream does not pause at all.
    expect(server.streams.at(-1)).toMatchObject({ model: 'bench-2000', delayMs: 0, state: 'completed', chunksWritten: 2_003 });
    const chunks = data.slice(0, -1).map((payload) => JSON.parse(payload));
    const contents = chunks.slice(1, -2).map((chunk) => chunk.choices[0].delta.content);
    expect(contents).toHaveLength(2_000);
    expect(contents.every((content) => content === BENCH_CHUNK_TEXT)).toBe(true);
    expect(chunks.at(-1).usage.completion_tokens).toBe(8 * 2_000);
  });
});

describe('client going away', () => {
  it('records a client abort mid-stream and stops writing at once', async () => {
    const controller = new AbortController();
    const content = 'word '.repeat(200);
    const response = await postChat(server, { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content }] }, { signal: controller.signal });
    const reader = response.body!.getReader();
    await readEvents(reader, 3);
    controller.abort();
    const closed = await server.waitForStreamClosed();
    expect(closed.state).toBe('client-closed');
    const written = closed.chunksWritten;
    expect(written).toBeLessThan(closed.chunksPlanned);
    await sleep(50);
    expect(closed.chunksWritten).toBe(written);
  });
});

describe('stalls', () => {
  it('stalls the stall model after two chunks and keeps the connection open', async () => {
    const stalled = once(server, 'stream-stalled');
    const controller = new AbortController();
    const response = await postChat(server, { model: 'stall', stream: true, messages }, { signal: controller.signal });
    const reader = response.body!.getReader();
    const events = await readEvents(reader, 2);
    expect(JSON.parse(events[1]!).choices[0].delta.content).toBe('You ');
    await stalled;
    const next = await Promise.race([reader.read(), sleep(150, 'nothing more')]);
    expect(next).toBe('nothing more');
    expect(server.streams[0]).toMatchObject({ state: 'streaming', stalled: true, chunksWritten: 2 });
    controller.abort();
    expect(await server.waitForStreamClosed()).toMatchObject({ stalled: true, chunksWritten: 2 });
  });

  it('stalls every stream after stallAfterChunks, withholding [DONE] even when all chunks went out', async () => {
    const stalling = await startOpenAIServer({ stallAfterChunks: 10 });
    try {
      const stalled = once(stalling, 'stream-stalled');
      const controller = new AbortController();
      const response = await postChat(stalling, { model: 'gpt-4o-mini', stream: true, messages }, { signal: controller.signal });
      await stalled;
      expect(stalling.streams[0]).toMatchObject({ chunksPlanned: 6, chunksWritten: 6, stalled: true, state: 'streaming' });
      const reader = response.body!.getReader();
      await readEvents(reader, 6);
      expect(await Promise.race([reader.read(), sleep(100, 'no [DONE]')])).toBe('no [DONE]');
      controller.abort();
    } finally {
      await stalling.close();
    }
  });

  it('never answers a non-streaming request to the stall model', async () => {
    const error = await postChat(server, { model: 'stall', messages }, { signal: AbortSignal.timeout(150) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(server.requests[0]).toMatchObject({ model: 'stall', stream: false });
    expect(server.requests[0]?.status).toBeUndefined();
  });

  it('cuts open streams on close()', async () => {
    const closing = await startOpenAIServer();
    const stalled = once(closing, 'stream-stalled');
    const response = await postChat(closing, { model: 'stall', stream: true, messages });
    await stalled;
    await closing.close();
    expect(closing.streams[0]?.state).toBe('server-closed');
    await expect(response.text()).rejects.toThrow();
  });
});

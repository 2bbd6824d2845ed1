/**
 * An LLM provider for any OpenAI-compatible endpoint: OpenAI itself, or any
 * server that speaks `/v1/models` and `/v1/chat/completions` (set `baseUrl`).
 * It authenticates with OPENAI_API_KEY when granted and set, or with a token
 * the host brokers from the `auth-device-flow` plugin; retries 429 and 5xx;
 * streams answers as they arrive; and when the host cancels a stream it stops
 * reading, which closes the connection to the backend.
 */
import { defineProviderPlugin, ProviderError, type ChatEvent, type ChatRequest, type FinishReason, type ModelInfo } from '@airlock/sdk';
import { availability, send, settings } from './backend.js';
import { SseParser } from './sse.js';
import { chunkEvents, fromWire, toWire, type WireChunk, type WireCompletion } from './wire.js';

async function json<T>(res: Response): Promise<T> {
  try {
    return (await res.json()) as T;
  } catch (e) {
    throw new ProviderError('other', `the backend answered with something that is not JSON (${(e as Error).message})`);
  }
}

function parseChunk(data: string): WireChunk {
  try {
    return JSON.parse(data) as WireChunk;
  } catch {
    throw new ProviderError('other', `the backend sent a stream event that is not JSON: ${data.slice(0, 100)}`);
  }
}

/** The events of each network read, yielded together: one generator step per read, not per chunk. */
async function* streamChat(req: ChatRequest): AsyncGenerator<ChatEvent[]> {
  const s = settings();
  const res = await send(s, 'POST', '/chat/completions', toWire(req, true));
  if (!res.body) throw new ProviderError('other', 'the backend answered a stream request without a body');
  const reader = res.body.getReader();
  const parser = new SseParser();
  const state: { finish: FinishReason } = { finish: 'stop' };
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new ProviderError('unavailable', 'the backend closed the stream before it finished');
      const events: ChatEvent[] = [];
      for (const data of parser.push(value)) {
        if (data === '[DONE]') {
          finished = true;
          events.push({ tag: 'done', val: state.finish });
          yield events;
          return;
        }
        try {
          for (const event of chunkEvents(parseChunk(data), state)) events.push(event);
        } catch (e) {
          // What came before the bad event reaches the host first.
          if (events.length) yield events;
          throw e;
        }
      }
      if (events.length) yield events;
    }
  } finally {
    // Cancelled by the host, or failed: stop reading. (The host also closes the
    // connection when the stream ends, as not every fetch can cancel its body.)
    if (!finished) await reader.cancel().catch(() => {});
  }
}

export default defineProviderPlugin({
  info: () => {
    const s = settings();
    const host = new URL(s.baseUrl).host;
    return { displayName: host === 'api.openai.com' ? 'OpenAI' : `OpenAI-compatible (${host})`, defaultModel: s.defaultModel };
  },
  // Configured and signed in? (No network call: a backend that is down shows in the requests' errors.)
  isAvailable: () => availability(settings()),
  models: async (): Promise<ModelInfo[]> => {
    const body = await json<{ data?: { id?: unknown }[] }>(await send(settings(), 'GET', '/models'));
    return (body.data ?? []).flatMap((m) => (typeof m.id === 'string' ? [{ id: m.id, features: { streaming: true, tools: true } }] : []));
  },
  chat: async (req) => fromWire(await json<WireCompletion>(await send(settings(), 'POST', '/chat/completions', toWire(req, false)))),
  streamChat,
});

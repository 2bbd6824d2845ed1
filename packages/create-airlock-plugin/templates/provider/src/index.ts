/**
 * {{name}}: a provider plugin for a chat backend that speaks the OpenAI
 * chat-completions API (`GET /models`, `POST /chat/completions`, server-sent
 * events when streaming). Point `baseUrl` at your backend; the user consents
 * to that origin when they install the plugin.
 */
import { config, defineProviderPlugin, env, ProviderError, type ChatEvent, type ChatRequest, type FinishReason, type Message } from '@airlock/sdk';

const baseUrl = () => (config.get<string>('baseUrl') ?? '').replace(/\/+$/, '');

/** Call the backend; turn HTTP failures into the provider errors the host understands. */
async function send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
  const key = env.get('{{envName}}');
  if (!key) throw new ProviderError('auth', '{{envName}} is not set (or the user did not grant it)');
  const res = await fetch(baseUrl() + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.ok) return res;
  const text = await res.text();
  if (res.status === 401 || res.status === 403) throw new ProviderError('auth', `the backend refused the key (${res.status})`);
  if (res.status === 429) {
    const seconds = Number(res.headers.get('retry-after'));
    throw new ProviderError('rate-limited', 'the backend is rate limiting', { retryAfterMs: Number.isFinite(seconds) ? seconds * 1000 : undefined });
  }
  if (res.status >= 400 && res.status < 500) throw new ProviderError('invalid-request', `${res.status}: ${text.slice(0, 200)}`);
  throw new ProviderError('unavailable', `the backend failed (${res.status})`);
}

const FINISH: Record<string, FinishReason> = { stop: 'stop', length: 'length', tool_calls: 'tool-calls', content_filter: 'content-filter' };

const toWire = (req: ChatRequest, stream: boolean) => ({
  model: req.model || config.get<string>('model'),
  messages: req.messages.map((m) => ({ role: m.role, content: m.content, ...(m.toolCallId ? { tool_call_id: m.toolCallId } : {}) })),
  stream,
  ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
  ...(req.maxTokens === undefined ? {} : { max_tokens: req.maxTokens }),
});

interface Completion {
  choices: { message: { content: string | null }; finish_reason: string }[];
  usage?: { prompt_tokens: number; completion_tokens: number };
}

interface Chunk {
  choices: { delta: { content?: string | null }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
}

/** Split server-sent events into their `data` payloads, across network chunks. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split('\n')) if (line.startsWith('data:')) yield line.slice(5).trim();
      }
    }
  } finally {
    // Runs when the host cancels the stream, too: stop reading from the backend.
    await reader.cancel().catch(() => {});
  }
}

export default defineProviderPlugin({
  info: () => ({ displayName: '{{name}}', defaultModel: config.get<string>('model') }),

  async models() {
    const res = await send('GET', '/models');
    const { data } = (await res.json()) as { data: { id: string }[] };
    return data.map((m) => ({ id: m.id, features: { streaming: true } }));
  },

  async chat(req) {
    const res = await send('POST', '/chat/completions', toWire(req, false));
    const body = (await res.json()) as Completion;
    const choice = body.choices[0];
    if (!choice) throw new ProviderError('other', 'the backend answered without a choice');
    const message: Message = { role: 'assistant', content: choice.message.content ?? '', toolCalls: [] };
    return {
      message,
      finishReason: FINISH[choice.finish_reason] ?? 'other',
      usage: body.usage && { promptTokens: body.usage.prompt_tokens, completionTokens: body.usage.completion_tokens },
    };
  },

  async *streamChat(req): AsyncGenerator<ChatEvent> {
    const res = await send('POST', '/chat/completions', toWire(req, true));
    if (!res.body) throw new ProviderError('other', 'the backend answered without a body');
    let finish: FinishReason = 'stop';
    for await (const data of sseData(res.body)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data) as Chunk;
      if (chunk.usage) yield { tag: 'usage', val: { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens } };
      const choice = chunk.choices[0];
      if (choice?.delta.content) yield { tag: 'text-delta', val: choice.delta.content };
      if (choice?.finish_reason) finish = FINISH[choice.finish_reason] ?? 'other';
    }
    yield { tag: 'done', val: finish };
  },
});

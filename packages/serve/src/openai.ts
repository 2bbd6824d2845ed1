/**
 * The host's provider plugins behind an OpenAI-compatible API:
 * `GET /v1/models` (one id per `<provider>/<model>`) and
 * `POST /v1/chat/completions`, whole or streamed as server-sent events
 * (`data: [DONE]` last, usage in a final chunk when
 * `stream_options.include_usage` asks). Tool definitions and tool calls pass
 * through in OpenAI's shapes: the caller runs the tools. Errors are in
 * OpenAI's shape with its statuses. The caller's bearer token is this
 * server's own; upstream keys and tokens stay with the host, which hands them
 * to the provider plugin under its grant.
 */
import { randomUUID } from 'node:crypto';
import { AirlockError, type ChatMessage, type ChatRequest, type ChatStreamEvent, type FinishReason, type Host, type ToolCall } from '@airlock/host';

/** An error in OpenAI's shape. */
export function openAIError(status: number, message: string, type: string, code: string | null = null, param: string | null = null, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: { message, type, param, code } }), { status, headers: { 'content-type': 'application/json', ...headers } });
}

class BadRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** A host error as OpenAI's clients expect it: the status their retry logic reads, the host's code. */
export function fromHostError(err: unknown): Response {
  if (err instanceof BadRequest) return openAIError(400, err.message, 'invalid_request_error', null, err.param);
  if (!AirlockError.isInstance(err)) return openAIError(500, `the gateway failed: ${(err as Error)?.message ?? String(err)}`, 'server_error');
  const code = err.code.toLowerCase();
  switch (err.code) {
    case 'PROVIDER_NOT_FOUND':
      return openAIError(404, err.message, 'invalid_request_error', 'model_not_found', 'model');
    case 'CHAT_REQUEST_INVALID':
    case 'PROVIDER_INVALID_REQUEST':
      return openAIError(400, err.message, 'invalid_request_error', code);
    case 'PROVIDER_RATE_LIMITED': {
      const after = (err as { retryAfterMs?: number }).retryAfterMs;
      return openAIError(429, err.message, 'rate_limit_error', code, null, after ? { 'retry-after': String(Math.ceil(after / 1000)) } : {});
    }
    case 'PLUGIN_TIMEOUT':
      return openAIError(504, err.message, 'timeout_error', code);
    case 'HOOK_DENIED':
      // A hook plugin's policy refused the request: retrying it unchanged will not help.
      return openAIError(403, err.message, 'permission_error', code);
    case 'PROVIDER_AUTH':
      // The upstream refused the host's credentials: the gateway's problem, not the caller's token.
      return openAIError(500, `${err.message} (the credentials are the Airlock host's: check the provider plugin's sign-in or key)`, 'server_error', code);
    default:
      return openAIError(500, err.message, 'server_error', code);
  }
}

const FINISH: Record<FinishReason, string> = { stop: 'stop', length: 'length', 'tool-calls': 'tool_calls', 'content-filter': 'content_filter', other: 'stop' };

interface OpenAIMessage {
  role: string;
  content?: unknown;
  tool_calls?: { id: string; type?: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

/** A message's text: a string, or the text parts of an array of parts. */
function textOf(content: unknown, at: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: string; text?: unknown }, i) => {
        if (part?.type === 'text' && typeof part.text === 'string') return part.text;
        throw new BadRequest(`${at}.content[${i}] is a ${String(part?.type)} part; this gateway passes text only`, `${at}.content`);
      })
      .join('');
  }
  throw new BadRequest(`${at}.content must be a string or an array of text parts`, `${at}.content`);
}

function toMessage(m: OpenAIMessage, i: number): ChatMessage {
  const at = `messages[${i}]`;
  if (typeof m !== 'object' || m === null) throw new BadRequest(`${at} must be an object`, at);
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textOf(m.content, at) };
    case 'user':
      return { role: 'user', content: textOf(m.content, at) };
    case 'assistant': {
      const toolCalls: ToolCall[] | undefined = m.tool_calls?.map((c) => ({ id: c.id, name: c.function?.name, arguments: c.function?.arguments ?? '' }));
      return { role: 'assistant', content: textOf(m.content, at), ...(toolCalls?.length ? { toolCalls } : {}) };
    }
    case 'tool':
      if (typeof m.tool_call_id !== 'string') throw new BadRequest(`${at}.tool_call_id is required for a tool message`, `${at}.tool_call_id`);
      return { role: 'tool', content: textOf(m.content, at), toolCallId: m.tool_call_id };
    default:
      throw new BadRequest(`${at}.role ${JSON.stringify(m.role)} is not one of system, developer, user, assistant, tool`, `${at}.role`);
  }
}

/** `<provider>/<model>`, or a bare model id when one provider is loaded. */
function route(host: Host, model: unknown): { provider: string; model: string } {
  if (typeof model !== 'string' || model === '') throw new BadRequest('model is required: one of the ids GET /v1/models lists (<provider>/<model>)', 'model');
  const slash = model.indexOf('/');
  if (slash > 0) return { provider: model.slice(0, slash), model: model.slice(slash + 1) };
  const providers = host.providers();
  if (providers.length === 1) return { provider: providers[0]!.id, model };
  throw new AirlockError('PROVIDER_NOT_FOUND', `model ${JSON.stringify(model)} names no provider: use <provider>/<model>, as GET /v1/models lists them`);
}

export interface ChatBody {
  model?: unknown;
  messages?: unknown;
  tools?: { type?: string; function?: { name?: string; description?: string; parameters?: Record<string, unknown> } }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  temperature?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
}

export function toChatRequest(host: Host, body: ChatBody): { request: ChatRequest; model: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the body must be a JSON object');
  const { provider, model } = route(host, body.model);
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new BadRequest('messages must be a non-empty array', 'messages');
  const messages = (body.messages as OpenAIMessage[]).map(toMessage);
  const tools = body.tools?.map((t, i) => {
    if (t?.type !== 'function' || typeof t.function?.name !== 'string') throw new BadRequest(`tools[${i}] must be {"type": "function", "function": {"name", …}}`, `tools[${i}]`);
    return { name: t.function.name, description: t.function.description ?? '', parameters: t.function.parameters ?? { type: 'object', properties: {} } };
  });
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  return {
    request: {
      provider,
      model,
      messages,
      ...(tools?.length ? { tools } : {}),
      ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
      ...(typeof maxTokens === 'number' ? { maxTokens } : {}),
    },
    model: `${provider}/${model}`,
  };
}

export async function listModels(host: Host): Promise<Response> {
  try {
    const models = await host.models();
    return Response.json({ object: 'list', data: models.map((m) => ({ id: `${m.provider}/${m.id}`, object: 'model', created: 0, owned_by: m.provider })) });
  } catch (err) {
    return fromHostError(err);
  }
}

/** POST /v1/chat/completions. `signal` aborts when the caller goes away. */
export async function chatCompletions(host: Host, body: ChatBody, signal: AbortSignal): Promise<Response> {
  let request: ChatRequest;
  let model: string;
  try {
    ({ request, model } = toChatRequest(host, body));
  } catch (err) {
    return fromHostError(err);
  }
  const id = `chatcmpl-${randomUUID().replaceAll('-', '')}`;
  const created = Math.floor(Date.now() / 1000);
  if (!body.stream) {
    try {
      const result = await host.chat(request, { signal });
      const message = result.message;
      return Response.json({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: message.content === '' && message.toolCalls?.length ? null : message.content,
              ...(message.toolCalls?.length ? { tool_calls: message.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
              refusal: null,
            },
            finish_reason: FINISH[result.finishReason],
            logprobs: null,
          },
        ],
        ...(result.usage ? { usage: usageOf(result.usage) } : {}),
      });
    } catch (err) {
      return fromHostError(err);
    }
  }
  return stream(host, request, { id, created, model, includeUsage: body.stream_options?.include_usage === true }, signal);
}

const usageOf = (u: { promptTokens: number; completionTokens: number }) => ({ prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens });

/**
 * The stream: the first event is awaited before the response starts, so a
 * request the provider refuses still gets an error status; later failures end
 * the stream with an error event, as OpenAI does.
 */
async function stream(host: Host, request: ChatRequest, meta: { id: string; created: number; model: string; includeUsage: boolean }, signal: AbortSignal): Promise<Response> {
  const controller = new AbortController();
  const abort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', abort, { once: true });
  const events = host.chatStream(request, { signal: controller.signal })[Symbol.asyncIterator]();
  let first: IteratorResult<ChatStreamEvent>;
  try {
    first = await events.next();
  } catch (err) {
    signal.removeEventListener('abort', abort);
    return fromHostError(err);
  }
  const encoder = new TextEncoder();
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    encoder.encode(`data: ${JSON.stringify({ id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, choices, ...extra })}\n\n`);
  const body = new ReadableStream<Uint8Array>({
    async start(out) {
      let usage: ReturnType<typeof usageOf> | undefined;
      try {
        out.enqueue(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]));
        for (let next = first; !next.done; next = await events.next()) {
          const e = next.value;
          if (e.type === 'text-delta') out.enqueue(chunk([{ index: 0, delta: { content: e.text }, finish_reason: null, logprobs: null }]));
          else if (e.type === 'tool-call-delta') {
            const call = { index: e.index, ...(e.id ? { id: e.id, type: 'function' } : {}), function: { ...(e.name ? { name: e.name } : {}), arguments: e.arguments } };
            out.enqueue(chunk([{ index: 0, delta: { tool_calls: [call] }, finish_reason: null, logprobs: null }]));
          } else if (e.type === 'usage') usage = usageOf(e.usage);
          else if (e.type === 'done') out.enqueue(chunk([{ index: 0, delta: {}, finish_reason: FINISH[e.finishReason], logprobs: null }]));
        }
        if (meta.includeUsage) out.enqueue(chunk([], { usage: usage ?? null }));
        out.enqueue(encoder.encode('data: [DONE]\n\n'));
      } catch (err) {
        if (!controller.signal.aborted) {
          const failed = await fromHostError(err).json();
          out.enqueue(encoder.encode(`data: ${JSON.stringify(failed)}\n\n`));
        }
      } finally {
        signal.removeEventListener('abort', abort);
        try {
          out.close();
        } catch {
          // the caller went away
        }
      }
    },
    cancel() {
      // The caller closed the connection: stop the plugin's stream.
      controller.abort(new Error('the client closed the stream'));
      void events.return?.();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' } });
}

/**
 * The OpenAI chat completions wire format, and conversions to and from the
 * contract's shapes. Only the fields this plugin reads or writes are typed.
 */
import { ProviderError, type ChatEvent, type ChatRequest, type ChatResponse, type FinishReason, type Message, type Usage } from '@airlock/sdk';

interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface WireMessage {
  role: string;
  content: string | null;
  tool_calls?: WireToolCall[];
  tool_call_id?: string;
}

interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

export interface WireCompletion {
  choices?: { message?: Partial<WireMessage>; finish_reason?: string | null }[];
  usage?: WireUsage | null;
}

export interface WireChunk {
  choices?: {
    delta?: { content?: string | null; tool_calls?: { index?: number; id?: string; function?: { name?: string; arguments?: string } }[] };
    finish_reason?: string | null;
  }[];
  usage?: WireUsage | null;
  error?: { message?: string; type?: string };
}

/** The request body for `POST /chat/completions`. */
export function toWire(req: ChatRequest, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = { model: req.model, messages: req.messages.map(toWireMessage) };
  if (req.tools.length) {
    body.tools = req.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: parameters(t.parameters, t.name) } }));
  }
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

function parameters(text: string, tool: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ProviderError('invalid-request', `the parameters of tool \`${tool}\` are not JSON`);
  }
}

function toWireMessage(m: Message): WireMessage {
  const out: WireMessage = { role: m.role, content: m.content };
  if (m.toolCalls.length) {
    out.tool_calls = m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
    if (m.content === '') out.content = null;
  }
  if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
  return out;
}

const FINISH: Record<string, FinishReason> = { stop: 'stop', length: 'length', tool_calls: 'tool-calls', function_call: 'tool-calls', content_filter: 'content-filter' };
export const finishReason = (r: string | null | undefined): FinishReason => (r ? (FINISH[r] ?? 'other') : 'stop');

export const usageOf = (u: WireUsage | null | undefined): Usage | undefined =>
  u ? { promptTokens: u.prompt_tokens ?? 0, completionTokens: u.completion_tokens ?? 0 } : undefined;

/** A complete answer in the contract's shape. */
export function fromWire(c: WireCompletion): ChatResponse {
  const choice = c.choices?.[0];
  if (!choice?.message) throw new ProviderError('other', 'the backend answered without a message');
  const m = choice.message;
  return {
    message: {
      role: 'assistant',
      content: typeof m.content === 'string' ? m.content : '',
      toolCalls: (m.tool_calls ?? []).map((t) => ({ id: t.id, name: t.function.name, arguments: t.function.arguments })),
    },
    finishReason: finishReason(choice.finish_reason),
    usage: usageOf(c.usage),
  };
}

/** The events one stream chunk carries; remembers the finish reason in `state` for the final `done`. */
export function chunkEvents(chunk: WireChunk, state: { finish: FinishReason }): ChatEvent[] {
  if (chunk.error) throw new ProviderError('unavailable', `the backend failed mid-stream: ${chunk.error.message ?? chunk.error.type ?? 'unknown error'}`);
  const events: ChatEvent[] = [];
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta;
    if (delta?.content) events.push({ tag: 'text-delta', val: delta.content });
    for (const t of delta?.tool_calls ?? []) {
      events.push({ tag: 'tool-call-delta', val: { index: t.index ?? 0, id: t.id, name: t.function?.name, arguments: t.function?.arguments ?? '' } });
    }
    if (choice.finish_reason) state.finish = finishReason(choice.finish_reason);
  }
  const usage = usageOf(chunk.usage);
  if (usage) events.push({ tag: 'usage', val: usage });
  return events;
}

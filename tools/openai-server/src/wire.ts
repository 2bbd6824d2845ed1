/**
 * A {@link Completion} framed the way OpenAI sends it: one `chat.completion`
 * object, or a sequence of `chat.completion.chunk` objects.
 */
import { randomBytes } from 'node:crypto';
import { argumentFragments, textPieces, type Completion, type Usage } from './rules.js';

type FinishReason = 'stop' | 'length' | 'tool_calls';

interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

interface Delta {
  role?: 'assistant';
  content?: string | null;
  tool_calls?: Array<{ index: number; id?: string; type?: 'function'; function: { name?: string; arguments: string } }>;
}

/** A non-streamed chat completion. */
export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: 0;
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: ToolCall[] };
    finish_reason: FinishReason;
    logprobs: null;
  }>;
  usage: Usage;
}

/** One event of a streamed chat completion. */
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{ index: 0; delta: Delta; finish_reason: FinishReason | null; logprobs: null }>;
  /** Present only when the request set `stream_options.include_usage`: null but on the last chunk. */
  usage?: Usage | null;
}

/** What every object of one response shares. */
export interface Envelope {
  id: string;
  created: number;
  model: string;
  /** The id of the tool call, if the completion is one. */
  toolCallId: string;
}

/** Fresh ids (`chatcmpl-…`, `call_…`) and the current time for a response from `model`. */
export function newEnvelope(model: string): Envelope {
  return {
    id: `chatcmpl-${randomBytes(12).toString('hex')}`,
    created: Math.floor(Date.now() / 1000),
    model,
    toolCallId: `call_${randomBytes(12).toString('hex')}`,
  };
}

function finishReason(completion: Completion): FinishReason {
  return completion.kind === 'text' ? completion.finishReason : 'tool_calls';
}

/** The `chat.completion` object answering a non-streamed request. */
export function chatCompletion(envelope: Envelope, completion: Completion, usage: Usage): ChatCompletion {
  const message: ChatCompletion['choices'][number]['message'] =
    completion.kind === 'text'
      ? { role: 'assistant', content: completion.text, refusal: null }
      : {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [{ id: envelope.toolCallId, type: 'function', function: { name: completion.name, arguments: completion.arguments } }],
        };
  const { id, created, model } = envelope;
  return { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, finish_reason: finishReason(completion), logprobs: null }], usage };
}

/** The chunks of a streamed answer, and how many there are. */
export interface ChunkPlan {
  count: number;
  chunks: Iterable<ChatCompletionChunk>;
}

/**
 * The chunks streaming `completion`: the role (with the tool call's id and
 * name, for a tool call), one delta per piece, one with the finish reason, and,
 * when `usage` is given (`stream_options.include_usage`), one with no choices
 * and the usage.
 */
export function chunkPlan(envelope: Envelope, completion: Completion, usage: Usage | undefined): ChunkPlan {
  const pieces = completion.kind === 'text' ? textPieces(completion.text, envelope.model) : argumentFragments(completion.arguments);
  const first: Delta =
    completion.kind === 'text'
      ? { role: 'assistant', content: '' }
      : {
          role: 'assistant',
          content: null,
          tool_calls: [{ index: 0, id: envelope.toolCallId, type: 'function', function: { name: completion.name, arguments: '' } }],
        };
  const pieceDelta = (piece: string): Delta =>
    completion.kind === 'text' ? { content: piece } : { tool_calls: [{ index: 0, function: { arguments: piece } }] };
  const chunk = (choices: ChatCompletionChunk['choices'], last = false): ChatCompletionChunk => {
    const { id, created, model } = envelope;
    const base = { id, object: 'chat.completion.chunk' as const, created, model, choices };
    return usage ? { ...base, usage: last ? usage : null } : base;
  };
  const choice = (delta: Delta, finish: FinishReason | null = null) => [{ index: 0 as const, delta, finish_reason: finish, logprobs: null }];
  function* chunks(): Generator<ChatCompletionChunk> {
    yield chunk(choice(first));
    for (const piece of pieces) yield chunk(choice(pieceDelta(piece)));
    yield chunk(choice({}, finishReason(completion)));
    if (usage) yield chunk([], true);
  }
  return { count: pieces.length + 2 + (usage ? 1 : 0), chunks: chunks() };
}

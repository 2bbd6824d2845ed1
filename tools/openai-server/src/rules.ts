/**
 * The deterministic rules: what the server answers is a pure function of the
 * request (ids and timestamps aside). README.md states the same rules.
 */
import type { ChatCompletionRequest, ChatMessage, MessageContent } from './types.js';

/** What to answer, before it is framed as a completion or a stream. */
export type Completion =
  | { kind: 'text'; text: string; finishReason: 'stop' | 'length' }
  | { kind: 'tool_call'; name: string; arguments: string };

/** Token counts, as in a completion's `usage`. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A model id with a special behaviour, accepted whatever the `models` option says. */
export type SpecialModel = { kind: 'bench'; chunks: number } | { kind: 'stall' };

/** The content of each chunk a `bench-<n>` model streams: 64 bytes, 8 tokens. */
export const BENCH_CHUNK_TEXT = 'airlock '.repeat(8);

/** Largest `n` of a `bench-<n>` model. */
export const MAX_BENCH_CHUNKS = 1_000_000;

/** Chunks a `stall` model streams before stalling, unless `stallAfterChunks` says otherwise. */
export const STALL_MODEL_CHUNKS = 2;

/** Characters of tool-call arguments per streamed fragment. */
const ARGUMENT_FRAGMENT_LENGTH = 8;

/** `bench-<n>` (1 ≤ n ≤ {@link MAX_BENCH_CHUNKS}) or `stall`; anything else is an ordinary model id. */
export function specialModel(model: string): SpecialModel | undefined {
  if (model === 'stall') return { kind: 'stall' };
  const digits = /^bench-([1-9]\d*)$/.exec(model)?.[1];
  if (digits === undefined || Number(digits) > MAX_BENCH_CHUNKS) return undefined;
  return { kind: 'bench', chunks: Number(digits) };
}

/** A message content as text: a string as is, text parts joined by a space, nothing as ''. */
export function contentText(content: MessageContent | null | undefined): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content.flatMap((part) => (typeof part.text === 'string' ? [part.text] : [])).join(' ');
}

/** Tokens in `text`: its whitespace-separated words. */
export function countTokens(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/**
 * `text` cut into one piece per word, each with the whitespace after it (the
 * first also with any leading whitespace): the pieces join back into `text`.
 */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}

function splitFixed(text: string, length: number): string[] {
  const pieces: string[] = [];
  for (let start = 0; start < text.length; start += length) pieces.push(text.slice(start, start + length));
  return pieces;
}

/** The content deltas a text completion streams: one per word, or one per {@link BENCH_CHUNK_TEXT} for `bench-<n>`. */
export function textPieces(text: string, model: string): string[] {
  return specialModel(model)?.kind === 'bench' ? splitFixed(text, BENCH_CHUNK_TEXT.length) : splitWords(text);
}

/** The argument fragments a tool call streams: 8 characters each. */
export function argumentFragments(args: string): string[] {
  return splitFixed(args, ARGUMENT_FRAGMENT_LENGTH);
}

/** The answer to `request`. `reply` replaces the default text rules. */
export function planCompletion(request: ChatCompletionRequest, reply?: (request: ChatCompletionRequest) => string): Completion {
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  const special = specialModel(request.model);
  if (special?.kind === 'bench') return textCompletion(BENCH_CHUNK_TEXT.repeat(special.chunks), maxTokens);
  return toolCall(request) ?? textCompletion(reply ? reply(request) : defaultReply(request.messages), maxTokens);
}

function defaultReply(messages: ChatMessage[]): string {
  const last = messages.at(-1);
  if (last?.role === 'tool') return `The tool returned: ${contentText(last.content)}`;
  return `You said: ${contentText(messages.findLast((message) => message.role === 'user')?.content)}`;
}

/** `text`, or its first `maxTokens` words (trailing whitespace dropped) with finish reason `length`. */
function textCompletion(text: string, maxTokens: number | undefined): Completion {
  const pieces = splitWords(text);
  if (maxTokens === undefined || pieces.length <= maxTokens) return { kind: 'text', text, finishReason: 'stop' };
  return { kind: 'text', text: pieces.slice(0, maxTokens).join('').trimEnd(), finishReason: 'length' };
}

/**
 * A call to the tool the last (user) message names first, as a whole word; its
 * arguments are the first JSON object after the name, else `{}`.
 */
function toolCall(request: ChatCompletionRequest): Completion | undefined {
  const last = request.messages.at(-1);
  if (!request.tools?.length || last?.role !== 'user') return undefined;
  const text = contentText(last.content);
  let first: { name: string; index: number } | undefined;
  for (const { function: fn } of request.tools) {
    const index = text.search(new RegExp(`(?<![\\w-])${fn.name}(?![\\w-])`));
    if (index !== -1 && (!first || index < first.index)) first = { name: fn.name, index };
  }
  if (!first) return undefined;
  const args = firstJsonObject(text.slice(first.index + first.name.length)) ?? {};
  return { kind: 'tool_call', name: first.name, arguments: JSON.stringify(args) };
}

/** The first `{…}` in `text` that parses as a JSON object. */
function firstJsonObject(text: string): Record<string, unknown> | undefined {
  for (let start = text.indexOf('{'); start !== -1; start = text.indexOf('{', start + 1)) {
    const end = closingBrace(text, start);
    if (end === undefined) continue;
    try {
      const value: unknown = JSON.parse(text.slice(start, end + 1));
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // Not JSON after all (e.g. `{braces} in prose`): try the next brace.
    }
  }
  return undefined;
}

/** Index of the `}` balancing the `{` at `start`, skipping braces inside JSON strings. */
function closingBrace(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{') depth++;
    else if (char === '}' && --depth === 0) return i;
  }
  return undefined;
}

/**
 * Prompt tokens: for each message, 1 plus the words of its text content.
 * Completion tokens: the words of the answer; for a tool call, of its name and
 * arguments string.
 */
export function usage(request: ChatCompletionRequest, completion: Completion): Usage {
  const prompt = request.messages.reduce((sum, message) => sum + 1 + countTokens(contentText(message.content)), 0);
  const answer = completion.kind === 'text' ? completion.text : `${completion.name} ${completion.arguments}`;
  const completionTokens = countTokens(answer);
  return { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens };
}

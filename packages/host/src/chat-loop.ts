/**
 * The assistant loop: stream an answer; when the model asks for tools, run
 * them on the host, append their results and stream again, up to a number of
 * rounds. A tool that fails, or arguments that are not JSON, become an error
 * result the model can read; only the provider's errors end the conversation.
 * The CLI's `airlock chat`, integrators (`host.chatWithTools`) and the test
 * kit's stream collector share it, and with it one way to join tool-call
 * fragments (ToolCallAssembler).
 */
import { createHash } from 'node:crypto';
import { AirlockError } from './errors.js';
import type { ChatMessage, ChatOptions, ChatRequest, ChatStreamEvent, ChatTool, FinishReason, ToolCall, Usage } from './kinds/provider.js';
import type { ToolInfo } from './kinds/tool.js';

/** What the loop needs of a host. */
export interface ChatLoopHost {
  chatStream(request: ChatRequest, options?: ChatOptions): AsyncIterable<ChatStreamEvent>;
  tools(): ToolInfo[];
  callTool(name: string, args?: unknown): Promise<unknown>;
}

/** A tool call the model made, about to run. */
export interface ToolCallEvent {
  /** The call id the model gave (or one made up when it gave none). */
  id: string;
  /** The name the model used. */
  name: string;
  /** The tool's qualified name, when the name is one the model was offered. */
  tool: string | undefined;
  /** The parsed arguments, or the raw text when it is not JSON. */
  arguments: unknown;
}

/** A tool call's outcome, as sent back to the model. */
export type ToolResultEvent = { id: string; name: string; tool: string | undefined } & ({ result: unknown } | { error: { code: string; message: string } });

/** The chat options (signal, redact, timeoutMs) apply to every round's stream. */
export interface ChatLoopOptions extends ChatOptions {
  /** Offer the host's tools to the model. Default true. */
  tools?: boolean;
  /** Streams at most this many answers. Default 8 (MAX_TOOL_ROUNDS). */
  maxRounds?: number;
  /** Every stream event, as the provider sends it. */
  onEvent?: (event: ChatStreamEvent) => void;
  /** A tool call the model made, before it runs. */
  onToolCall?: (call: ToolCallEvent) => void;
  /** A tool call's outcome, as it goes back to the model. */
  onToolResult?: (result: ToolResultEvent) => void;
}

export interface ChatLoopOutcome {
  /** The conversation: the request's messages, then every assistant and tool message. */
  messages: ChatMessage[];
  finishReason: FinishReason;
  /** Summed over every round; undefined when the provider reported none. */
  usage: Usage | undefined;
  /** Secrets replaced in the last (and largest) request sent. */
  redactions: number;
  provider: string;
  model: string;
  rounds: number;
}

export const MAX_TOOL_ROUNDS = 8;

/**
 * Tool calls assembled from a stream's `tool-call` fragments, by index: the
 * arguments joined in order, the first id and name a fragment gives kept
 * (providers send them once, on the first fragment; a later one that differs
 * does not rename a call already announced), and a call without an id named
 * `call_<index>`.
 */
export class ToolCallAssembler {
  readonly #calls = new Map<number, ToolCall>();

  add(event: Extract<ChatStreamEvent, { type: 'tool-call-delta' }>): void {
    const call = this.#calls.get(event.index) ?? { id: '', name: '', arguments: '' };
    if (event.id && !call.id) call.id = event.id;
    if (event.name && !call.name) call.name = event.name;
    call.arguments += event.arguments;
    this.#calls.set(event.index, call);
  }

  /** The calls so far, by index. */
  calls(): ToolCall[] {
    return [...this.#calls].sort(([a], [b]) => a - b).map(([index, c]) => ({ ...c, id: c.id || `call_${index}` }));
  }
}

/**
 * Chat with tools. The model sees each tool under its plain name when that is
 * unique among the loaded tools, else as `<plugin>__<name>` (provider tool
 * names allow no dots). Rejects with TOOL_ROUNDS_EXCEEDED when the model still
 * asks for tools after `maxRounds` answers.
 *
 * @example
 * const outcome = await host.chatWithTools({ messages: [{ role: 'user', content: 'Count the words in "a b"' }] }, {
 *   onEvent: (e) => e.type === 'text-delta' && process.stdout.write(e.text),
 * });
 */
export async function runChatLoop(host: ChatLoopHost, request: ChatRequest, options: ChatLoopOptions = {}): Promise<ChatLoopOutcome> {
  const maxRounds = options.maxRounds ?? MAX_TOOL_ROUNDS;
  const offered = options.tools === false ? new Map<string, ToolInfo>() : chatToolNames(host.tools());
  const tools: ChatTool[] = [...offered].map(([name, t]) => ({ name, description: t.description, parameters: t.parameters }));
  const messages = [...request.messages];
  let usage: Usage | undefined;
  for (let round = 1; ; round++) {
    const answer = await streamRound(host, { ...request, messages, ...(tools.length ? { tools } : {}) }, options);
    if (answer.usage) usage = { promptTokens: (usage?.promptTokens ?? 0) + answer.usage.promptTokens, completionTokens: (usage?.completionTokens ?? 0) + answer.usage.completionTokens };
    const done = answer.done;
    const outcome = { messages, finishReason: done.finishReason, usage, redactions: done.redactions, provider: done.provider, model: done.model, rounds: round };
    if (answer.toolCalls.length === 0) {
      messages.push({ role: 'assistant', content: answer.text });
      return outcome;
    }
    if (round >= maxRounds) {
      throw new AirlockError('TOOL_ROUNDS_EXCEEDED', `the model still asked for tools after ${maxRounds} rounds; stopped`, {
        hint: 'Ask for something that needs fewer tool calls, raise maxRounds, or chat without tools.',
      });
    }
    messages.push({ role: 'assistant', content: answer.text, toolCalls: answer.toolCalls });
    for (const call of answer.toolCalls) {
      const result = await runTool(host, offered, call, options);
      options.signal?.throwIfAborted();
      const content = 'error' in result ? { error: result.error } : result.result;
      messages.push({ role: 'tool', toolCallId: call.id, content: JSON.stringify(content) ?? 'null' });
    }
  }
}

interface Answer {
  text: string;
  toolCalls: ToolCall[];
  usage: Usage | undefined;
  done: Extract<ChatStreamEvent, { type: 'done' }>;
}

/** Stream one answer, gathering its text, its tool calls and its usage. */
async function streamRound(host: ChatLoopHost, request: ChatRequest, options: ChatLoopOptions): Promise<Answer> {
  let text = '';
  const calls = new ToolCallAssembler();
  let usage: Usage | undefined;
  const { signal, redact, timeoutMs } = options;
  for await (const event of host.chatStream(request, { signal, redact, timeoutMs })) {
    options.onEvent?.(event);
    switch (event.type) {
      case 'text-delta':
        text += event.text;
        break;
      case 'tool-call-delta':
        calls.add(event);
        break;
      case 'usage':
        usage = event.usage;
        break;
      case 'done':
        return { text, toolCalls: calls.calls(), usage, done: event };
    }
  }
  // The host always ends a stream with `done`; a stream that does not is a broken host.
  throw new AirlockError('CHAT_STREAM_INCOMPLETE', 'the answer stream ended without a `done` event');
}

async function runTool(host: ChatLoopHost, offered: Map<string, ToolInfo>, call: ToolCall, options: ChatLoopOptions): Promise<ToolResultEvent> {
  const tool = offered.get(call.name);
  const parsed = parseArguments(call.arguments);
  const about = { id: call.id, name: call.name, tool: tool?.qualifiedName };
  options.onToolCall?.({ ...about, arguments: parsed.ok ? parsed.value : call.arguments });
  let result: ToolResultEvent;
  if (!tool) {
    result = { ...about, error: { code: 'TOOL_NOT_FOUND', message: `no tool \`${call.name}\` was offered` } };
  } else if (!parsed.ok) {
    result = { ...about, error: { code: 'TOOL_ARGUMENTS_INVALID', message: `the arguments are not valid JSON: ${parsed.message}` } };
  } else {
    try {
      result = { ...about, result: await host.callTool(tool.qualifiedName, parsed.value) };
    } catch (err) {
      result = { ...about, error: AirlockError.isInstance(err) ? { code: err.code, message: err.message } : { code: 'TOOL_FAILED', message: String(err) } };
    }
  }
  options.onToolResult?.(result);
  return result;
}

function parseArguments(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  // Models send an empty string for a tool without arguments.
  if (text.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

const CHAT_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The name each tool is offered under: its plain name when no other loaded
 * tool has it, else `<plugin>__<name>`; a name that would still clash or be
 * too long for providers (64 characters) is cut and suffixed with a hash.
 */
export function chatToolNames(tools: readonly ToolInfo[]): Map<string, ToolInfo> {
  const count = new Map<string, number>();
  for (const t of tools) count.set(t.name, (count.get(t.name) ?? 0) + 1);
  const names = new Map<string, ToolInfo>();
  for (const t of tools) {
    let name = count.get(t.name) === 1 ? t.name : `${t.plugin}__${t.name}`;
    if (!CHAT_TOOL_NAME.test(name) || names.has(name) || (name !== t.name && count.has(name))) {
      name = `${name.slice(0, 55)}_${createHash('sha256').update(t.qualifiedName).digest('hex').slice(0, 8)}`;
    }
    names.set(name, t);
  }
  return names;
}

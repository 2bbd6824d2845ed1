/**
 * Hook plugins: policy and redaction around the host's work.
 * `defineHookPlugin` turns plain (async) functions into the contract's `hook`
 * export: each sees a tool call or chat as parsed objects and returns a
 * verdict (nothing or `'allow'`, `{ deny: reason }`, `{ rewrite: value }`);
 * the points the plugin hooks are the functions it defines. Anything a hook
 * throws becomes the WIT error string, never a trap: the host then refuses
 * the call (`before` hooks fail closed) or logs it (`after` hooks).
 */
/// <reference types="@airlock/wit/guest" />
import type { HookInfo, HookPoint, ToolCall as WitToolCall, ToolOutcome as WitToolOutcome, Verdict } from 'airlock:plugin/hook@0.2.0';
import { lifecycleExports, type LifecycleExports, type LifecycleHooks } from './lifecycle.js';
import type { RiskLevel } from './tool.js';

export type { HookInfo, HookPoint, Verdict };

type MaybePromise<T> = T | Promise<T>;

/** A tool call, as a hook sees it. */
export interface HookToolCall {
  /** The id of the tool plugin the call goes to. */
  plugin: string;
  /** The tool's name within its plugin. */
  tool: string;
  /** The arguments, already valid for the tool's schema. */
  arguments: Record<string, unknown>;
  risk: RiskLevel;
}

/** How a tool call ended: its result, or its error message. */
export type HookToolOutcome = { ok: true; result: unknown } | { ok: false; error: string };

export interface HookMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls?: { id: string; name: string; arguments: string }[];
  /** For a `tool` message: the call it answers. */
  toolCallId?: string;
}

/** A chat request about to reach a provider, as a hook sees it (secrets already replaced when the caller redacts). */
export interface HookChatRequest {
  model: string;
  messages: HookMessage[];
  tools?: { name: string; description: string; parameters: Record<string, unknown> }[];
  temperature?: number;
  maxTokens?: number;
}

/** A chat answer, as a hook sees it. */
export interface HookChatResponse {
  message: HookMessage;
  finishReason: 'stop' | 'length' | 'tool-calls' | 'content-filter' | 'other';
  usage?: { promptTokens: number; completionTokens: number };
}

/**
 * What a hook decides: nothing or `'allow'` lets the call go ahead unchanged;
 * `{ deny }` refuses it with the reason (shown to the caller and the model);
 * `{ rewrite }` lets it go ahead with this value instead, which the host
 * checks as if the caller had sent it.
 */
export type HookVerdict<T> = undefined | void | 'allow' | { deny: string } | { rewrite: T };

/** What a hook plugin implements: any of the four hooks, each may be async. */
export interface HookDefinition extends LifecycleHooks {
  /** Lower runs first; plugins of equal priority run in order of id. Default 0. */
  priority?: number;
  /** A tool call about to run: allow it, refuse it, or rewrite its arguments. */
  beforeToolCall?: (call: HookToolCall) => MaybePromise<HookVerdict<Record<string, unknown>>>;
  /** A tool call that ran: allow its outcome, withhold it (`deny`), or rewrite the result. */
  afterToolCall?: (call: HookToolCall, outcome: HookToolOutcome) => MaybePromise<HookVerdict<unknown>>;
  /** A chat request about to reach provider `provider`: allow, refuse, or rewrite it (same model; the same tools or fewer). */
  beforeChat?: (provider: string, request: HookChatRequest) => MaybePromise<HookVerdict<HookChatRequest>>;
  /** A chat answer: allow, withhold or rewrite it. For a streamed answer it runs after the stream ended, and the verdict is only logged. */
  afterChat?: (provider: string, request: HookChatRequest, response: HookChatResponse) => MaybePromise<HookVerdict<HookChatResponse>>;
}

/** What `defineHookPlugin` returns; the build exports it as the component's `hook` interface. */
export interface HookPlugin {
  readonly kind: 'hook';
  readonly exports: {
    info(): HookInfo;
    beforeToolCall(call: WitToolCall): Verdict | Promise<Verdict>;
    afterToolCall(call: WitToolCall, outcome: WitToolOutcome): Verdict | Promise<Verdict>;
    beforeChat(provider: string, request: string): Verdict | Promise<Verdict>;
    afterChat(provider: string, request: string, response: string): Verdict | Promise<Verdict>;
  };
  /** The hooks; the build exports them as the component's `lifecycle` interface. */
  readonly lifecycle: LifecycleExports;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The contract's verdict for what a hook returned. */
export function toVerdict(returned: unknown): Verdict {
  if (returned === undefined || returned === 'allow') return { tag: 'allow' };
  if (typeof returned === 'object' && returned !== null) {
    if ('deny' in returned && Object.keys(returned).length === 1) return { tag: 'deny', val: String((returned as { deny: unknown }).deny) };
    if ('rewrite' in returned && Object.keys(returned).length === 1) {
      const text = JSON.stringify((returned as { rewrite: unknown }).rewrite);
      if (text === undefined) throw new Error('a hook rewrote into a value that cannot be encoded as JSON');
      return { tag: 'rewrite', val: text };
    }
  }
  throw new Error(`a hook must return nothing, 'allow', { deny: reason } or { rewrite: value }; it returned ${JSON.stringify(returned) ?? String(returned)}`);
}

const fail = (e: unknown): never => {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the WIT `result` error case is the string itself
  throw message(e);
};

/**
 * Run a hook; what it returns becomes a verdict, what it throws the WIT error
 * string (a thrown Error would trap the component). A hook that answers at
 * once is answered at once: an export that returns a promise costs the
 * component a turn of its event loop.
 */
function decide(run: () => unknown): Verdict | Promise<Verdict> {
  try {
    const returned = run();
    return returned instanceof Promise ? returned.then(toVerdict).catch(fail) : toVerdict(returned);
  } catch (e) {
    return fail(e);
  }
}

const toCall = (c: WitToolCall): HookToolCall => ({ plugin: c.plugin, tool: c.tool, arguments: JSON.parse(c.arguments) as Record<string, unknown>, risk: c.risk as RiskLevel });

/**
 * Define a hook plugin. Export the result as the module's default export; its
 * manifest must list the points it hooks in `capabilities.hooks`.
 *
 * @example
 * export default defineHookPlugin({
 *   priority: 10,
 *   beforeToolCall: (call) => (call.risk === 'dangerous' ? { deny: `${call.tool} is not allowed here` } : 'allow'),
 * });
 */
export function defineHookPlugin(definition: HookDefinition): HookPlugin {
  const priority = definition.priority ?? 0;
  if (!Number.isInteger(priority) || priority < -(2 ** 31) || priority >= 2 ** 31) throw new Error(`a hook plugin's priority must be a 32-bit integer, got ${priority}`);
  const points: HookPoint[] = [];
  if (definition.beforeToolCall) points.push('before-tool-call');
  if (definition.afterToolCall) points.push('after-tool-call');
  if (definition.beforeChat) points.push('before-chat');
  if (definition.afterChat) points.push('after-chat');
  return {
    kind: 'hook',
    lifecycle: lifecycleExports(definition),
    exports: {
      info: () => ({ points: [...points], priority }),
      beforeToolCall: (call) => decide(() => definition.beforeToolCall?.(toCall(call))),
      afterToolCall: (call, outcome) =>
        decide(() => definition.afterToolCall?.(toCall(call), outcome.tag === 'ok' ? { ok: true, result: JSON.parse(outcome.val) } : { ok: false, error: outcome.val })),
      beforeChat: (provider, request) => decide(() => definition.beforeChat?.(provider, JSON.parse(request) as HookChatRequest)),
      afterChat: (provider, request, response) => decide(() => definition.afterChat?.(provider, JSON.parse(request) as HookChatRequest, JSON.parse(response) as HookChatResponse)),
    },
  };
}

/**
 * Provider plugins: LLM chat backends. `defineProviderPlugin` turns plain
 * (async) functions into the contract's `provider` export: a streaming answer
 * is an async iterable of events, which the SDK serves one `next` at a time
 * through the `chat-stream` resource. When the host cancels the stream, the
 * iterator's `return()` runs, so `finally` blocks in an async generator stop
 * reading from the backend.
 */
/// <reference types="@airlock/wit/guest" />
import type {
  ChatEvent,
  ChatRequest,
  ChatResponse,
  FinishReason,
  Message,
  ModelFeatures,
  ModelInfo,
  ProviderError as WitProviderError,
  ProviderInfo,
  ToolCall,
  ToolCallDelta,
  ToolSpec,
  Usage,
} from 'airlock:plugin/provider@0.1.2';
import { lifecycleExports, type LifecycleExports, type LifecycleHooks } from './lifecycle.js';
import { dispose } from './dispose.js';
import { HostError, failureOf } from './errors.js';

export type { ChatEvent, ChatRequest, ChatResponse, FinishReason, Message, ModelFeatures, ModelInfo, ProviderInfo, ToolCall, ToolCallDelta, ToolSpec, Usage };

export type ProviderErrorCode = WitProviderError['tag'];

/** A failure the host should see as such: `auth`, `rate-limited`, `invalid-request`, `unavailable` or `other`. */
export class ProviderError extends Error {
  readonly code: ProviderErrorCode;
  /** For `rate-limited`: how long the backend asked to wait. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ProviderErrorCode, message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ProviderError';
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The WIT `provider-error` for any thrown value (a thrown Error would trap the
 * component). Its kind: a ProviderError's code; `auth` for a credentials
 * refusal from the host; `other` for the rest. Its payload: the message and,
 * for an Error, the stack as `details` (and the wait for `rate-limited`).
 */
export function toProviderError(thrown: unknown): WitProviderError {
  const val = failureOf(thrown);
  if (thrown instanceof ProviderError) {
    if (thrown.code === 'rate-limited') {
      const wait = thrown.retryAfterMs;
      return { tag: 'rate-limited', val: { ...val, retryAfterMs: wait === undefined || !Number.isFinite(wait) ? undefined : BigInt(Math.max(0, Math.round(wait))) } };
    }
    return { tag: thrown.code, val };
  }
  if (thrown instanceof HostError) return { tag: thrown.code === 'denied' ? 'auth' : 'other', val };
  return { tag: 'other', val };
}

type MaybePromise<T> = T | Promise<T>;

/** What a provider plugin implements. Every function may be async. */
export interface ProviderDefinition extends LifecycleHooks {
  info: () => MaybePromise<ProviderInfo>;
  models: () => MaybePromise<ModelInfo[]>;
  chat: (request: ChatRequest) => MaybePromise<ChatResponse>;
  /**
   * Answer as a stream of events, typically an async generator. Put cleanup
   * (cancelling the backend response) in a `finally` block: it runs when the
   * host cancels the stream, as well as at its end.
   */
  streamChat: (request: ChatRequest) => MaybePromise<AsyncIterable<ChatEvent>>;
}

/** What `defineProviderPlugin` returns; the build exports it as the component's `provider` interface. */
export interface ProviderPlugin {
  readonly kind: 'provider';
  readonly exports: {
    info(): Promise<ProviderInfo>;
    models(): Promise<ModelInfo[]>;
    chat(request: ChatRequest): Promise<ChatResponse>;
    streamChat(request: ChatRequest): Promise<object>;
    ChatStream: new (events: AsyncIterator<ChatEvent>) => object;
  };
  /** The hooks; the build exports them as the component's `lifecycle` interface. */
  readonly lifecycle: LifecycleExports;
}

/** Run `f`; anything it throws or rejects with becomes the WIT error. */
async function guarded<T>(f: () => MaybePromise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw toProviderError(e);
  }
}

/**
 * Define a provider plugin. Export the result as the module's default export.
 *
 * @example
 * export default defineProviderPlugin({
 *   info: () => ({ displayName: 'Echo' }),
 *   models: () => [{ id: 'echo', features: { streaming: true } }],
 *   chat: async (req) => ({ message: { role: 'assistant', content: 'hi', toolCalls: [] }, finishReason: 'stop' }),
 *   async *streamChat(req) { yield { tag: 'text-delta', val: 'hi' }; yield { tag: 'done', val: 'stop' }; },
 * });
 */
export function defineProviderPlugin(definition: ProviderDefinition): ProviderPlugin {
  /** The `chat-stream` resource: one event per `next`, `undefined` after the end. */
  class ChatStream {
    #events: AsyncIterator<ChatEvent> | undefined;
    constructor(events: AsyncIterator<ChatEvent>) {
      this.#events = events;
    }
    async next(): Promise<ChatEvent | undefined> {
      const events = this.#events;
      if (!events) return undefined;
      try {
        const step = await events.next();
        if (step.done) this.#events = undefined;
        return step.done ? undefined : step.value;
      } catch (e) {
        this.#events = undefined;
        throw toProviderError(e);
      }
    }
    /** The host dropped the stream: let the producer clean up. */
    [dispose](): void {
      const events = this.#events;
      this.#events = undefined;
      // A producer that fails while cleaning up must not trap the drop.
      try {
        void Promise.resolve(events?.return?.()).catch(() => {});
      } catch {
        // thrown synchronously by `return()`
      }
    }
  }
  return {
    kind: 'provider',
    lifecycle: lifecycleExports(definition),
    exports: {
      info: () => guarded(definition.info),
      models: () => guarded(definition.models),
      chat: (request) => guarded(() => definition.chat(request)),
      streamChat: (request) =>
        guarded(async () => {
          const events = await definition.streamChat(request);
          return new ChatStream(events[Symbol.asyncIterator]());
        }),
      ChatStream,
    },
  };
}

/**
 * Provider plugins: LLM chat backends. `defineProviderPlugin` turns plain
 * (async) functions into the contract's `provider` export: a streaming answer
 * is an async iterable of events, which the SDK serves through the
 * `chat-stream` resource, every event the iterable has ready in one `next`.
 * When the host cancels the stream, the iterator's `return()` runs, so
 * `finally` blocks in an async generator stop reading from the backend.
 */
/// <reference types="@airlock/wit/guest" />
import type {
  Availability,
  ChatEvent,
  ChatRequest,
  ChatResponse,
  FinishReason,
  Message,
  ModelFeatures,
  ModelInfo,
  ProviderError as WitProviderError,
  ProviderInfo,
  ProviderLimits,
  ToolCall,
  ToolCallDelta,
  ToolSpec,
  Usage,
} from 'airlock:plugin/provider@0.2.0';
import { lifecycleExports, type LifecycleExports, type LifecycleHooks } from './lifecycle.js';
import { dispose } from './dispose.js';
import { HostError, failureOf } from './errors.js';

export type { Availability, ChatEvent, ChatRequest, ChatResponse, FinishReason, Message, ModelFeatures, ModelInfo, ProviderInfo, ProviderLimits, ToolCall, ToolCallDelta, ToolSpec, Usage };

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

/** What a provider's `info` returns: `limits` and its fields may be left out (no limit). */
export type ProviderInfoInput = Omit<ProviderInfo, 'limits'> & { limits?: Partial<ProviderLimits> };

/** What a provider plugin implements. Every function may be async. */
export interface ProviderDefinition extends LifecycleHooks {
  /** The backend's name, default model and limits (which the host enforces). */
  info: () => MaybePromise<ProviderInfoInput>;
  models: () => MaybePromise<ModelInfo[]>;
  /**
   * A cheap health check: configured, signed in, reachable? Default: always
   * available. What it throws counts as unavailable, with the message as the reason.
   */
  isAvailable?: () => MaybePromise<{ available: boolean; reason?: string }>;
  chat: (request: ChatRequest) => MaybePromise<ChatResponse>;
  /**
   * Answer as a stream of events, typically an async generator. Yield one
   * event, or an array of events you have at once (all those parsed from one
   * network read): an array costs one step of the generator instead of one
   * per event, which is most of a stream's cost inside the sandbox. Put
   * cleanup (cancelling the backend response) in a `finally` block: it runs
   * when the host cancels the stream, as well as at its end.
   */
  streamChat: (request: ChatRequest) => MaybePromise<AsyncIterable<ChatEvent | readonly ChatEvent[]>>;
}

/** What `defineProviderPlugin` returns; the build exports it as the component's `provider` interface. */
export interface ProviderPlugin {
  readonly kind: 'provider';
  readonly exports: {
    info(): Promise<ProviderInfo>;
    models(): Promise<ModelInfo[]>;
    isAvailable(): Promise<Availability>;
    chat(request: ChatRequest): Promise<ChatResponse>;
    /** `options` are for builds against contract 0.1 and for tests (see StreamOptions); the host passes none. */
    streamChat(request: ChatRequest, options?: StreamOptions): Promise<object>;
    ChatStream: new (events: AsyncIterator<ChatEvent | readonly ChatEvent[]>, options?: StreamOptions) => object;
  };
  /** The hooks; the build exports them as the component's `lifecycle` interface. */
  readonly lifecycle: LifecycleExports;
}

/** How the `chat-stream` resource gathers events; the defaults are what the host gets. */
export interface StreamOptions {
  /** false: one event per `next`, never asking the producer for more than was handed over (a build for contract 0.1). Default true. */
  lookahead?: boolean;
  /** Longest a batch gathers after its first event. Default 2 ms. */
  maxBatchMs?: number;
}

/** Most events one `next` carries, so one answer to the host stays small. */
const MAX_BATCH = 256;
/**
 * Longest a batch gathers after its first event, so that under a flood of
 * ready events the first of them still reaches the caller within a couple of
 * milliseconds (the host answers the first token, not the 256th).
 */
const MAX_BATCH_MS = 2;
const clock: () => number = (() => {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return perf ? () => perf.now() : () => Date.now();
})();
const NOT_READY = Symbol('not ready');

/**
 * The event loop's next turn: resolves with NOT_READY once every promise job
 * queued so far has run and the loop moved on to timers and I/O. A producer
 * step that settles before it had its event ready (only promise jobs stood
 * between); one that settles after it was waiting for the backend. One timer
 * serves a whole batch: `cancel` when the batch ends first.
 */
function nextTurn(): { turn: Promise<typeof NOT_READY>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const turn = new Promise<typeof NOT_READY>((resolve) => {
    timer = setTimeout(() => resolve(NOT_READY), 0);
  });
  return { turn, cancel: () => clearTimeout(timer) };
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
  /**
   * The `chat-stream` resource. `next` waits for one event (or array of
   * events), then takes every further one the iterator has ready without
   * waiting for the backend, at most 256 and for at most 2 ms (the rest of an
   * array waits for the next call); the
   * step it did not wait for is kept for the next call (so the producer runs
   * at most one event ahead; `cancel` waits for that step before `return()`).
   * An error after some events comes with the call after them. `[]` after
   * the end. With `lookahead: false` (a build for contract 0.1, whose host
   * takes one event per call and only drops the stream) it never asks the
   * producer for more than the host took.
   */
  class ChatStream {
    #events: AsyncIterator<ChatEvent | readonly ChatEvent[]> | undefined;
    #pending: Promise<IteratorResult<ChatEvent | readonly ChatEvent[]>> | undefined;
    /** Events of a yielded array that did not fit in the last batch (or, without lookahead, beyond its one event). */
    #carried: ChatEvent[] = [];
    #failure: { error: unknown } | undefined;
    readonly #lookahead: boolean;
    readonly #maxBatchMs: number;
    constructor(events: AsyncIterator<ChatEvent | readonly ChatEvent[]>, options: StreamOptions = {}) {
      this.#events = events;
      this.#lookahead = options.lookahead ?? true;
      this.#maxBatchMs = options.maxBatchMs ?? MAX_BATCH_MS;
    }
    async next(): Promise<ChatEvent[]> {
      const events = this.#events;
      const limit = this.#lookahead ? MAX_BATCH : 1;
      if (this.#carried.length > 0) return this.#carried.splice(0, limit);
      if (this.#failure) {
        const { error } = this.#failure;
        this.#failure = undefined;
        throw toProviderError(error);
      }
      if (!events) return [];
      let batch: ChatEvent[] = [];
      let loop: ReturnType<typeof nextTurn> | undefined;
      try {
        let step: IteratorResult<ChatEvent | readonly ChatEvent[]> | typeof NOT_READY = await (this.#pending ?? events.next());
        this.#pending = undefined;
        const until = clock() + this.#maxBatchMs;
        while (step !== NOT_READY && !step.done) {
          if (Array.isArray(step.value)) batch = batch.length === 0 ? [...(step.value as readonly ChatEvent[])] : batch.concat(step.value as readonly ChatEvent[]);
          else batch.push(step.value as ChatEvent);
          if (batch.length >= limit) {
            this.#carried = batch.splice(limit);
            return batch;
          }
          // Long enough: hand these over now, and ask for more when the host does.
          if (batch.length > 0 && clock() >= until) return batch;
          const following = events.next();
          if (batch.length === 0) {
            // An empty array: nothing to hand over yet, so wait for the producer.
            step = await following;
            continue;
          }
          loop ??= nextTurn();
          step = await Promise.race([following, loop.turn]);
          if (step === NOT_READY) this.#pending = following;
        }
        if (step !== NOT_READY) this.#events = undefined;
        return batch;
      } catch (e) {
        this.#events = undefined;
        this.#pending = undefined;
        if (batch.length === 0) throw toProviderError(e);
        this.#failure = { error: e };
        return batch;
      } finally {
        loop?.cancel();
      }
    }
    /** The caller stopped early: let the step in flight finish (the host closed what it reads from), then the producer's cleanup. */
    async cancel(): Promise<void> {
      const events = this.#events;
      const pending = this.#pending;
      this.#carried = [];
      this.#events = undefined;
      this.#pending = undefined;
      if (!events) return;
      await pending?.catch(() => {});
      try {
        await events.return?.();
      } catch {
        // A producer that fails while cleaning up must not fail the cancel.
      }
    }
    /** The host dropped the stream: let the producer clean up (if `cancel` did not). */
    [dispose](): void {
      const events = this.#events;
      this.#carried = [];
      this.#events = undefined;
      // A step still running when the stream is dropped must not surface as an unhandled rejection.
      this.#pending?.catch(() => {});
      this.#pending = undefined;
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
      info: () =>
        guarded(async () => {
          const { limits, ...info } = await definition.info();
          return { ...info, limits: { maxTokensPerRequest: limits?.maxTokensPerRequest, maxConcurrency: limits?.maxConcurrency, requestsPerSecond: limits?.requestsPerSecond } };
        }),
      models: () => guarded(definition.models),
      async isAvailable() {
        if (!definition.isAvailable) return { available: true, reason: undefined };
        try {
          const { available, reason } = await definition.isAvailable();
          return { available: !!available, reason: reason === undefined ? undefined : String(reason) };
        } catch (e) {
          return { available: false, reason: e instanceof Error ? e.message : String(e) };
        }
      },
      chat: (request) => guarded(() => definition.chat(request)),
      streamChat: (request, options) =>
        guarded(async () => {
          const events = await definition.streamChat(request);
          return new ChatStream(events[Symbol.asyncIterator](), options);
        }),
      ChatStream,
    },
  };
}

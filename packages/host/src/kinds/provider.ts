/**
 * Provider plugins: LLM chat backends. The host converts between its own
 * request and event shapes and the contract's, redacts secrets from outbound
 * messages, and runs a stream as a sequence of `next` calls on the plugin's
 * `chat-stream` resource, each under the call deadline (a stalled stream is
 * cut with PLUGIN_TIMEOUT). Leaving the stream early, or aborting its signal,
 * drops the resource in the plugin.
 *
 * One adapter per contract line: a 0.2 plugin's `next` returns every event it
 * has ready (a list; empty at the end), a 0.1 plugin's one event (`none` at
 * the end); a 0.1 plugin declares no limits and has no health check.
 */
import { AirlockError, ProviderError, type ProviderErrorCode } from '../errors.js';
import { redactSecrets } from '../redact.js';
import { abortable, errorOf, refusalsOf, type CallOutcome, type PluginCaller } from '../sandbox/instance.js';
import { explainRefusals, type Refusal } from '../capabilities/refusal.js';
import type { TraceContext } from '../tracing.js';
import { releaseLine } from '@airlock/wit';
import { ProviderGate, type ProviderLimits } from './provider-gate.js';
// The contract's own shapes, generated from wit/provider.wit.
import type { ChatEvent as WitEvent, ChatRequest as WitRequest, Failure as WitFailure, Message as WitMessage, ProviderError as WitProviderError } from '@airlock/wit/host/interfaces/airlock-plugin-provider';

export type Role = 'system' | 'user' | 'assistant' | 'tool';
export type FinishReason = 'stop' | 'length' | 'tool-calls' | 'content-filter' | 'other';

export interface ToolCall {
  id: string;
  name: string;
  /** Arguments as JSON text, as the model wrote them. */
  arguments: string;
}

export interface ChatMessage {
  role: Role;
  content: string;
  toolCalls?: ToolCall[];
  /** For a `tool` message: the call it answers. */
  toolCallId?: string;
}

export interface ChatTool {
  name: string;
  description: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

export interface ChatRequest {
  /** Provider plugin id; may be omitted when one provider is loaded. */
  provider?: string;
  /** Model id; default: the provider's default model. */
  model?: string;
  messages: ChatMessage[];
  tools?: ChatTool[];
  temperature?: number;
  maxTokens?: number;
}

export interface ChatOptions {
  /** Cancels the call (or the stream); the promise or iterator rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Replace secrets in outgoing messages with markers. Default: true. */
  redact?: boolean;
  /** Deadline of each call into the plugin (for a stream: each event), capped by the host maximum. */
  timeoutMs?: number;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatResult {
  message: ChatMessage;
  finishReason: FinishReason;
  usage: Usage | undefined;
  provider: string;
  model: string;
  /** Secrets replaced in the outgoing messages. */
  redactions: number;
}

/** One event of a streaming answer. */
export type ChatStreamEvent =
  | { type: 'text-delta'; text: string }
  | { type: 'tool-call-delta'; index: number; id?: string; name?: string; arguments: string }
  | { type: 'usage'; usage: Usage }
  | { type: 'done'; finishReason: FinishReason; provider: string; model: string; redactions: number };

export interface ProviderInfo {
  /** The provider plugin's id. */
  id: string;
  displayName: string;
  defaultModel: string | undefined;
  /** What the backend allows, which the host enforces (contract 0.2.0; `{}` for a plugin built against 0.1). */
  limits: ProviderLimits;
}

export type { ProviderLimits };

/** Whether a provider can serve requests now, by its own health check. */
export interface ProviderAvailability {
  provider: string;
  available: boolean;
  /** Why not (or a note when it is). */
  reason: string | undefined;
}

export interface ModelInfo {
  id: string;
  provider: string;
  displayName: string | undefined;
  contextWindow: number | undefined;
  features: { streaming: boolean; tools: boolean; vision: boolean; jsonMode: boolean };
}

// ── The contract's errors ────────────────────────────────────────────────────

const ERROR_CODES: Record<WitProviderError['tag'], ProviderErrorCode> = {
  auth: 'PROVIDER_AUTH',
  'rate-limited': 'PROVIDER_RATE_LIMITED',
  'invalid-request': 'PROVIDER_INVALID_REQUEST',
  unavailable: 'PROVIDER_UNAVAILABLE',
  other: 'PROVIDER_FAILED',
};

const HINTS: Partial<Record<WitProviderError['tag'], string>> = {
  auth: 'Sign in again (`airlock auth login <auth-plugin>`) or check the API key the provider is configured with.',
  'rate-limited': 'Wait and retry; the provider already retried as long as it was told to.',
};

/** A ProviderError for a provider's WIT error, with the plugin's stack as `details` and what the host refused it meanwhile. */
export function providerError(pluginId: string, what: string, error: unknown, refused?: Refusal[]): ProviderError {
  const e = error as { tag?: unknown; val?: Partial<WitFailure> & { retryAfterMs?: unknown } } | null | undefined;
  if (!e || typeof e !== 'object' || typeof e.tag !== 'string' || !Object.hasOwn(ERROR_CODES, e.tag) || !e.val || typeof e.val.message !== 'string') {
    const explained = explainRefusals(`provider \`${pluginId}\` failed in ${what}: ${String(error)}`, refused);
    return new ProviderError('PROVIDER_FAILED', explained.message, { plugin: pluginId, hint: explained.hint, refused });
  }
  const tag = e.tag as WitProviderError['tag'];
  const { message, details, retryAfterMs } = e.val;
  const explained = explainRefusals(`provider \`${pluginId}\` ${what}: ${message}`, refused, HINTS[tag]);
  return new ProviderError(ERROR_CODES[tag], explained.message, {
    plugin: pluginId,
    pluginCode: tag,
    details: typeof details === 'string' ? details : undefined,
    retryAfterMs: tag === 'rate-limited' && typeof retryAfterMs === 'bigint' ? Number(retryAfterMs) : undefined,
    hint: explained.hint,
    refused,
  });
}

function invalid(message: string): AirlockError {
  return new AirlockError('CHAT_REQUEST_INVALID', `invalid chat request: ${message}`, { hint: 'See ChatRequest in @airlock/host for the expected shape.' });
}

const ROLES = new Set<Role>(['system', 'user', 'assistant', 'tool']);

/** Check a host request and convert it to the contract's, redacting secrets when asked. */
export function toWitRequest(req: ChatRequest, model: string, redact: boolean): { request: WitRequest; redactions: number } {
  if (!req || typeof req !== 'object' || !Array.isArray(req.messages) || req.messages.length === 0) throw invalid('`messages` must be a non-empty array');
  let redactions = 0;
  const clean = (text: string) => {
    if (!redact) return text;
    const r = redactSecrets(text);
    redactions += r.total;
    return r.text;
  };
  const messages = req.messages.map((m, i): WitMessage => {
    if (!m || !ROLES.has(m.role)) throw invalid(`messages[${i}].role must be one of ${[...ROLES].join(', ')}`);
    if (typeof m.content !== 'string') throw invalid(`messages[${i}].content must be a string`);
    return {
      role: m.role,
      content: clean(m.content),
      toolCalls: (m.toolCalls ?? []).map((c) => ({ id: String(c.id), name: String(c.name), arguments: clean(String(c.arguments)) })),
      toolCallId: m.toolCallId,
    };
  });
  const tools = (req.tools ?? []).map((t, i) => {
    if (!t || typeof t.name !== 'string') throw invalid(`tools[${i}].name must be a string`);
    return { name: t.name, description: String(t.description ?? ''), parameters: JSON.stringify(t.parameters ?? { type: 'object' }) };
  });
  return { request: { model, messages, tools, temperature: req.temperature, maxTokens: req.maxTokens }, redactions };
}

function fromWitMessage(m: WitMessage): ChatMessage {
  const out: ChatMessage = { role: m.role, content: m.content };
  if (m.toolCalls.length) out.toolCalls = m.toolCalls.map((c) => ({ ...c }));
  if (m.toolCallId !== undefined) out.toolCallId = m.toolCallId;
  return out;
}

/** A loaded provider plugin, as the host calls it. */
export interface ProviderHandle {
  id: string;
  info: ProviderInfo;
  /** The contract version its component was built against: which adapter drives it. */
  contract: string;
  /** Holds requests to the provider's declared limits. */
  gate: ProviderGate;
  caller: PluginCaller & { pin(): PluginCaller };
  /** Close the HTTP responses the plugin opened in calls made with `scope`. */
  release(scope: object): void;
}

/** Ask a freshly loaded provider for its info; limits that make no sense fail the load. */
export async function readProviderInfo(caller: PluginCaller, pluginId: string): Promise<ProviderInfo> {
  const outcome = await caller.call('provider.info', []);
  if (!outcome.ok) throw providerError(pluginId, 'info', errorOf(outcome), refusalsOf(outcome));
  const v = outcome.value as { displayName: string; defaultModel?: string; limits?: { maxTokensPerRequest?: number; maxConcurrency?: number; requestsPerSecond?: number } };
  return { id: pluginId, displayName: v.displayName, defaultModel: v.defaultModel, limits: checkLimits(pluginId, v.limits ?? {}) };
}

/** The declared limits, each a positive number (a whole one where it counts things), without the absent ones. */
function checkLimits(pluginId: string, given: ProviderLimits): ProviderLimits {
  const limits: ProviderLimits = {};
  for (const [key, whole] of [['maxTokensPerRequest', true], ['maxConcurrency', true], ['requestsPerSecond', false]] as const) {
    const value = given[key];
    if (value === undefined) continue;
    if (!(value > 0) || !Number.isFinite(value) || (whole && !Number.isInteger(value))) {
      throw new ProviderError('PROVIDER_FAILED', `provider \`${pluginId}\` declares limits.${key} = ${value}, which is not a positive ${whole ? 'whole ' : ''}number`, {
        plugin: pluginId,
        hint: `Leave ${key} out of the provider's info for no limit, or give a positive ${whole ? 'whole ' : ''}number.`,
      });
    }
    limits[key] = value;
  }
  return limits;
}

/** Whether contract `version` has the 0.2 provider: batched `next`, limits, `is-available`. */
const batches = (version: string) => releaseLine(version) !== '0.1';

/** The events one `next` answered with: a 0.2 list (empty at the end), or a 0.1 single event (`undefined` at the end). */
function eventsOf(contract: string, value: unknown): WitEvent[] {
  if (batches(contract)) return value as WitEvent[];
  return value === undefined ? [] : [value as WitEvent];
}

/**
 * Ask the provider whether it can serve requests now (its `is-available`,
 * under its deadline). A failing check, a trap or a timeout answers
 * unavailable with the reason; a 0.1 provider, which has no check, answers
 * available with a note saying so.
 */
export async function checkAvailability(p: ProviderHandle, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ProviderAvailability> {
  if (!batches(p.contract)) return { provider: p.id, available: true, reason: `built against contract ${p.contract}, which has no health check` };
  const outcome = await abortable(p.caller.call('provider.isAvailable', [], { timeoutMs: options.timeoutMs }), options.signal);
  if (!outcome.ok) {
    const e = errorOf(outcome) as { message?: unknown } | undefined;
    return { provider: p.id, available: false, reason: `the health check failed: ${typeof e?.message === 'string' ? e.message : String(e)}` };
  }
  const v = outcome.value as { available: boolean; reason?: string };
  return { provider: p.id, available: !!v.available, reason: v.reason };
}

/** Refuse a request asking for more tokens than the provider allows. */
function withinLimits(p: ProviderHandle, req: ChatRequest): void {
  const max = p.info.limits.maxTokensPerRequest;
  if (max !== undefined && req.maxTokens !== undefined && req.maxTokens > max) {
    throw new ProviderError('PROVIDER_INVALID_REQUEST', `the request asks for up to ${req.maxTokens} tokens, but provider \`${p.id}\` allows at most ${max} per request`, {
      plugin: p.id,
      hint: `Set maxTokens to ${max} or less, or leave it out.`,
    });
  }
}

export async function listModels(p: ProviderHandle): Promise<ModelInfo[]> {
  const outcome = await p.caller.call('provider.models', []);
  if (!outcome.ok) throw providerError(p.id, 'models', errorOf(outcome), refusalsOf(outcome));
  return (outcome.value as { id: string; displayName?: string; contextWindow?: number; features: Partial<ModelInfo['features']> }[]).map((m) => ({
    id: m.id,
    provider: p.id,
    displayName: m.displayName,
    contextWindow: m.contextWindow,
    features: { streaming: !!m.features.streaming, tools: !!m.features.tools, vision: !!m.features.vision, jsonMode: !!m.features.jsonMode },
  }));
}

function modelFor(p: ProviderHandle, req: ChatRequest): string {
  const model = req.model ?? p.info.defaultModel;
  if (!model) throw invalid(`no model given and provider \`${p.id}\` names no default`);
  return model;
}

/** What the host adds to a caller's options: the span the plugin's calls belong to. */
export type ProviderCallOptions = ChatOptions & { trace?: TraceContext };

export async function chat(p: ProviderHandle, req: ChatRequest, options: ProviderCallOptions): Promise<ChatResult> {
  const model = modelFor(p, req);
  const { request, redactions } = toWitRequest(req, model, options.redact ?? true);
  withinLimits(p, req);
  const release = await p.gate.enter(options.signal);
  let outcome: CallOutcome;
  try {
    outcome = await abortable(p.caller.call('provider.chat', [request], { timeoutMs: options.timeoutMs, trace: options.trace }), options.signal);
  } finally {
    release();
  }
  if (!outcome.ok) throw providerError(p.id, 'chat', errorOf(outcome), refusalsOf(outcome));
  const r = outcome.value as { message: WitMessage; finishReason: FinishReason; usage?: Usage };
  return { message: fromWitMessage(r.message), finishReason: r.finishReason, usage: r.usage, provider: p.id, model, redactions };
}

function fromWitEvent(e: Exclude<WitEvent, { tag: 'done' }>): ChatStreamEvent {
  switch (e.tag) {
    case 'text-delta':
      return { type: 'text-delta', text: e.val };
    case 'tool-call-delta':
      return { type: 'tool-call-delta', index: e.val.index, id: e.val.id, name: e.val.name, arguments: e.val.arguments };
    case 'usage':
      return { type: 'usage', usage: { promptTokens: e.val.promptTokens, completionTokens: e.val.completionTokens } };
  }
}

/**
 * Stream an answer. Every `next` is a call into the same plugin instance (the
 * stream lives there) under the call deadline. The stream ends with one
 * `done` event; leaving the loop early or aborting drops the plugin's stream.
 */
export async function* chatStream(p: ProviderHandle, req: ChatRequest, options: ProviderCallOptions): AsyncGenerator<ChatStreamEvent, void, undefined> {
  const model = modelFor(p, req);
  const { request, redactions } = toWitRequest(req, model, options.redact ?? true);
  withinLimits(p, req);
  // The stream counts against the provider's limits from its start to its end.
  const release = await p.gate.enter(options.signal);
  try {
    yield* runStream(p, request, model, redactions, options);
  } finally {
    release();
  }
}

async function* runStream(p: ProviderHandle, request: WitRequest, model: string, redactions: number, options: ProviderCallOptions): AsyncGenerator<ChatStreamEvent, void, undefined> {
  const caller = p.caller.pin();
  // The stream's calls share a scope: what they open upstream is closed with the stream.
  const scope = {};
  const call = (fn: string, args: unknown[]) => {
    // Checked before the call is made: an aborted stream must not ask the plugin for more.
    options.signal?.throwIfAborted();
    return abortable(caller.call(fn, args, { timeoutMs: options.timeoutMs, scope, trace: options.trace }), options.signal);
  };
  let started: CallOutcome;
  try {
    started = await call('provider.streamChat', [request]);
  } catch (err) {
    p.release(scope);
    throw err;
  }
  if (!started.ok) {
    p.release(scope);
    throw providerError(p.id, 'stream-chat', errorOf(started), refusalsOf(started));
  }
  const handle = (started.value as { resource: number }).resource;
  let ended = false;
  try {
    for (;;) {
      const outcome = await call('resource.next', [handle]);
      if (!outcome.ok) throw providerError(p.id, 'stream', errorOf(outcome), refusalsOf(outcome));
      const events = eventsOf(p.contract, outcome.value);
      // A stream that ends without `done` still ends with one, reason `other`.
      if (events.length === 0) {
        ended = true;
        yield { type: 'done', finishReason: 'other', provider: p.id, model, redactions };
        return;
      }
      for (const event of events) {
        // A batch is many events: an abort takes effect at the next one, not after the batch.
        options.signal?.throwIfAborted();
        if (event.tag === 'done') {
          ended = true;
          yield { type: 'done', finishReason: event.val, provider: p.id, model, redactions };
          return;
        }
        yield fromWitEvent(event);
      }
    }
  } finally {
    // A 0.2 plugin may have read ahead, and finishes that read and its cleanup in `cancel`.
    const cancel = !ended && batches(p.contract);
    // After an abort a `next` may still be in flight, waiting on the backend, and a cancelled
    // stream's read-ahead may be: close what the stream opened upstream now, so those reads end
    // at once instead of running to the deadline.
    if (options.signal?.aborted || cancel) p.release(scope);
    if (cancel) void caller.call('resource.cancel', [handle], { timeoutMs: options.timeoutMs, scope }).catch(() => {});
    // Calls to an instance run in order, so this drop follows any `next` still in flight.
    // The plugin cleans up first (its `finally` runs on drop); then the host closes
    // whatever the stream left open upstream, since a plugin cannot always do so itself.
    void caller
      .call('resource.drop', [handle], { scope })
      .catch(() => {})
      .finally(() => p.release(scope));
  }
}

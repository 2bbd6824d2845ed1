/**
 * Hook plugins: policy and redaction around the host's work. A hook plugin
 * says at load which points it hooks (`hook.info`); each must be declared in
 * its manifest (`capabilities.hooks`) and granted. The loaded hooks form one
 * chain per point, ordered by priority (ascending), then plugin id.
 *
 * Invariants:
 * - A `before` hook that fails (a WIT error, a trap, a timeout, a crash)
 *   refuses the call it guards (HOOK_FAILED): hooks fail closed. An `after`
 *   hook that fails is logged and skipped; but one whose rewrite the host
 *   refuses fails the call, so a redaction gone wrong never lets the original
 *   through.
 * - What a hook rewrites is checked as if the caller had sent it (tool
 *   arguments against the tool's schema, a chat request against the request's
 *   shape with the same provider, model and at most the same tools), and held
 *   to the host's message size limit; otherwise HOOK_REWRITE_INVALID.
 * - Each hook sees what the one before it let through (rewritten or not).
 * - Hook plugins export no tools and cannot call any, so a hook never runs
 *   inside another hook's call.
 */
import { AirlockError, ToolArgumentsError } from '../errors.js';
import { HOOK_POINTS, type HookPoint } from '../manifest.js';
import { errorOf, type CallOutcome, type PluginCaller } from '../sandbox/instance.js';
import { compileSchema, formatProblems, type CompiledSchema, type SchemaProblem } from '../schema.js';
import { redactSecrets } from '../redact.js';
import { ToolCallAssembler } from '../chat-loop.js';
import type { ToolInfo } from './tool.js';
import { toWitRequest, type ChatMessage, type ChatRequest, type ChatResult, type ChatStreamEvent, type FinishReason, type Role, type Usage } from './provider.js';
import type { HookInfo as WitHookInfo } from '@airlock/wit/host/interfaces/airlock-plugin-hook';

export type { HookPoint };

/** Where and in which order a hook plugin's hooks run, as it said at load. */
export interface HookInfo {
  points: HookPoint[];
  /** Lower runs first; equal priorities run in order of plugin id. */
  priority: number;
}

/** A loaded hook plugin, as the chain calls it. */
export interface HookHandle {
  id: string;
  info: HookInfo;
  caller: PluginCaller;
}

/** What running hooks needs of the host. */
export interface HookContext {
  /** Largest rewrite, in bytes of JSON text (the host's `limits.maxMessageBytes`). */
  maxBytes: number;
  /** Record one hook's verdict (capability `hooks`). */
  audit(entry: { plugin: string; action: HookPoint; target: string; outcome: 'allowed' | 'refused' | 'rewritten'; detail: string | undefined }): void;
  log(level: 'warn' | 'debug', message: string, plugin: string): void;
  signal?: AbortSignal | undefined;
}

/** The export each point calls in the plugin's worker. */
const EXPORTS: Record<HookPoint, string> = {
  'before-tool-call': 'hook.beforeToolCall',
  'after-tool-call': 'hook.afterToolCall',
  'before-chat': 'hook.beforeChat',
  'after-chat': 'hook.afterChat',
};

// ── Load ─────────────────────────────────────────────────────────────────────

/**
 * Ask a freshly loaded hook plugin where its hooks run, and check each point
 * is among `granted` (its manifest's `capabilities.hooks`, as granted: the
 * load already refused a declared point that was not granted).
 */
export async function readHookInfo(caller: PluginCaller, pluginId: string, granted: readonly HookPoint[] | undefined): Promise<HookInfo> {
  const outcome = await caller.call('hook.info', []);
  if (!outcome.ok) throw new AirlockError('PLUGIN_ERROR', `plugin \`${pluginId}\` failed in hook info: ${describeError(outcome)}`, { plugin: pluginId });
  const v = outcome.value as Partial<WitHookInfo> | undefined;
  const bad = (what: string) => new AirlockError('COMPONENT_INVALID', `plugin \`${pluginId}\` returned an invalid hook info: ${what}`, { plugin: pluginId, hint: 'Fix the plugin\'s hook info and rebuild it.' });
  if (!v || !Array.isArray(v.points)) throw bad('`points` is not a list');
  if (typeof v.priority !== 'number' || !Number.isInteger(v.priority)) throw bad('`priority` is not an integer');
  const points = [...new Set(v.points)];
  for (const point of points) {
    if (!HOOK_POINTS.includes(point)) throw bad(`unknown hook point ${JSON.stringify(point)}`);
    if (!granted?.includes(point)) {
      throw new AirlockError('MANIFEST_INVALID', `plugin \`${pluginId}\` hooks ${point}, which its manifest does not declare in "capabilities.hooks"`, {
        plugin: pluginId,
        hint: `Add "${point}" to "capabilities.hooks" in the "airlock" field of the plugin's package.json, and grant it (\`airlock grant ${pluginId} hooks ${point}\`, or load with grant 'manifest').`,
      });
    }
  }
  return { points, priority: v.priority };
}

/** The loaded hooks of each point, in the order they run. Empty arrays when no hook plugin is loaded. */
export class HookChain {
  /** Every loaded hook plugin; the host's fast path checks only that this is empty. */
  readonly all: readonly HookHandle[];
  readonly #at: Record<HookPoint, HookHandle[]>;

  constructor(handles: readonly HookHandle[] = []) {
    this.all = [...handles].sort((a, b) => a.info.priority - b.info.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.#at = Object.fromEntries(HOOK_POINTS.map((p) => [p, this.all.filter((h) => h.info.points.includes(p))])) as Record<HookPoint, HookHandle[]>;
  }

  at(point: HookPoint): readonly HookHandle[] {
    return this.#at[point];
  }
}

// ── Running one hook ─────────────────────────────────────────────────────────

/** The contract's `verdict`, as the worker hands it over. */
type Verdict = { tag: 'allow' } | { tag: 'deny'; val: string } | { tag: 'rewrite'; val: string };

function describeError(outcome: Exclude<CallOutcome, { ok: true }>): string {
  if ('invalid' in outcome) return 'arguments refused';
  const e = errorOf(outcome);
  return typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e));
}

/** Call one hook; what it decided, or the error it failed with (a WIT error, or the host's error for a trap, timeout or crash). */
async function callHook(hook: HookHandle, point: HookPoint, args: unknown[], signal: AbortSignal | undefined): Promise<Verdict | { failed: string; cause?: unknown }> {
  let outcome: CallOutcome;
  try {
    outcome = await hook.caller.call(EXPORTS[point], args, { signal });
  } catch (cause) {
    // An abort is the caller's own doing, not the hook's failure.
    if (signal?.aborted) throw cause;
    return { failed: (cause as Error)?.message ?? String(cause), cause };
  }
  if (!outcome.ok) return { failed: describeError(outcome) };
  const v = outcome.value as Partial<Verdict> | undefined;
  if (v?.tag === 'allow') return { tag: 'allow' };
  if ((v?.tag === 'deny' || v?.tag === 'rewrite') && typeof v.val === 'string') return { tag: v.tag, val: v.val };
  return { failed: `returned a verdict the host does not know: ${JSON.stringify(v)?.slice(0, 200)}` };
}

const denied = (hook: HookHandle, point: HookPoint, target: string, reason: string) =>
  new AirlockError('HOOK_DENIED', `hook plugin \`${hook.id}\` refused ${point === 'before-tool-call' || point === 'after-tool-call' ? `the call of \`${target}\`` : `the chat with \`${target}\``} (${point}): ${reason}`, {
    plugin: hook.id,
    hint: `The hook's policy refused it; change the ${point.startsWith('before') ? 'request' : 'call'}, the hook's configuration, or unload \`${hook.id}\`.`,
  });

const rewriteInvalid = (hook: HookHandle, point: HookPoint, what: string) =>
  new AirlockError('HOOK_REWRITE_INVALID', `hook plugin \`${hook.id}\` rewrote the ${point} ${what}`, {
    plugin: hook.id,
    hint: 'A hook\'s rewrite is checked as if the caller had sent it; fix the hook so that it rewrites into a valid value.',
  });

/** Parse a rewrite's JSON text, held to the size limit. */
function parseRewrite(hook: HookHandle, point: HookPoint, text: string, maxBytes: number): unknown {
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw rewriteInvalid(hook, point, `into ${bytes} bytes, over the host's limit of ${maxBytes} bytes (limits.maxMessageBytes)`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw rewriteInvalid(hook, point, `into text that is not JSON: ${(e as Error).message}`);
  }
}

/**
 * Run the hooks of `point` in order over `value`. `view` turns the current
 * value into the hook's arguments; `accept` checks a rewrite and returns the
 * new value (or throws HOOK_REWRITE_INVALID). `before` points fail closed;
 * at `after` points a failing hook is logged and the value goes on as it was.
 */
async function runChain<T>(hooks: readonly HookHandle[], point: HookPoint, target: string, ctx: HookContext, value: T, view: (value: T) => unknown[], accept: (hook: HookHandle, parsed: unknown) => T): Promise<T> {
  const before = point.startsWith('before');
  for (const hook of hooks) {
    const verdict = await callHook(hook, point, view(value), ctx.signal);
    if ('failed' in verdict) {
      ctx.audit({ plugin: hook.id, action: point, target, outcome: before ? 'refused' : 'allowed', detail: `hook failed: ${verdict.failed}` });
      if (before) {
        throw new AirlockError('HOOK_FAILED', `hook plugin \`${hook.id}\` failed in ${point} for \`${target}\`, so the call was refused (hooks fail closed): ${verdict.failed}`, {
          plugin: hook.id,
          cause: verdict.cause,
          hint: `Fix or unload the hook plugin \`${hook.id}\` (\`host.unload('${hook.id}')\`, or \`airlock disable ${hook.id}\`).`,
        });
      }
      ctx.log('warn', `its ${point} hook failed for \`${target}\` and was skipped: ${verdict.failed}`, hook.id);
      continue;
    }
    if (verdict.tag === 'allow') {
      ctx.audit({ plugin: hook.id, action: point, target, outcome: 'allowed', detail: undefined });
      continue;
    }
    if (verdict.tag === 'deny') {
      ctx.audit({ plugin: hook.id, action: point, target, outcome: 'refused', detail: verdict.val });
      throw denied(hook, point, target, verdict.val);
    }
    try {
      value = accept(hook, parseRewrite(hook, point, verdict.val, ctx.maxBytes));
    } catch (err) {
      ctx.audit({ plugin: hook.id, action: point, target, outcome: 'refused', detail: (err as Error).message });
      throw err;
    }
    ctx.audit({ plugin: hook.id, action: point, target, outcome: 'rewritten', detail: undefined });
  }
  return value;
}

// ── Tool calls ───────────────────────────────────────────────────────────────

/** Each tool's schema, compiled once, for the arguments the hooks see and rewrite. */
const validators = new WeakMap<ToolInfo, CompiledSchema>();

/** Problems with arguments for `tool`, as its schema sees them: the check the tool's worker makes, made on the host for the hooks. */
function toolArgumentProblems(tool: ToolInfo, args: unknown): SchemaProblem[] {
  let validator = validators.get(tool);
  if (!validator) validators.set(tool, (validator = compileSchema(tool.parameters)));
  return validator.validate(args);
}

const toolCallOf = (tool: ToolInfo, args: unknown) => ({ plugin: tool.plugin, tool: tool.name, arguments: JSON.stringify(args), risk: tool.risk });

/**
 * The arguments a tool call goes ahead with, after the `before-tool-call`
 * hooks. `args` must already be valid for the tool (the hooks are told so);
 * a rewrite must be too.
 */
export function beforeToolCall(hooks: readonly HookHandle[], ctx: HookContext, tool: ToolInfo, args: unknown): Promise<unknown> {
  return runChain(hooks, 'before-tool-call', tool.qualifiedName, ctx, args, (a) => [toolCallOf(tool, a)], (hook, parsed) => {
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw rewriteInvalid(hook, 'before-tool-call', `arguments of \`${tool.qualifiedName}\` into something that is not a JSON object`);
    const problems = toolArgumentProblems(tool, parsed);
    if (problems.length) throw rewriteInvalid(hook, 'before-tool-call', `arguments of \`${tool.qualifiedName}\` into ones its schema refuses: ${formatProblems(problems)}`);
    return parsed;
  });
}

/**
 * A tool call's outcome after the `after-tool-call` hooks: a result (maybe
 * rewritten), or the tool's error thrown again. A hook may rewrite a failed
 * call into a result; `deny` withholds the result (HOOK_DENIED).
 */
export async function afterToolCall(hooks: readonly HookHandle[], ctx: HookContext, tool: ToolInfo, args: unknown, outcome: { ok: true; value: unknown } | { ok: false; error: AirlockError }): Promise<unknown> {
  type State = { ok: true; value: unknown } | { ok: false; error: AirlockError };
  const final = await runChain<State>(
    hooks,
    'after-tool-call',
    tool.qualifiedName,
    ctx,
    outcome,
    (s) => [toolCallOf(tool, args), s.ok ? { tag: 'ok', val: JSON.stringify(s.value ?? null) } : { tag: 'error', val: s.error.message }],
    (_hook, parsed) => ({ ok: true, value: parsed }),
  );
  if (!final.ok) throw final.error;
  return final.value;
}

// ── Chats ────────────────────────────────────────────────────────────────────

const ROLES = new Set<Role>(['system', 'user', 'assistant', 'tool']);
const FINISH_REASONS = new Set<FinishReason>(['stop', 'length', 'tool-calls', 'content-filter', 'other']);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The request as the hooks see it (`before-chat` in wit/hook.wit): the resolved model; secrets already replaced when the call redacts. */
function chatView(req: ChatRequest, model: string, redact: boolean): Record<string, unknown> {
  const clean = (text: string) => (redact ? redactSecrets(text).text : text);
  return {
    model,
    messages: req.messages.map((m) => ({
      role: m.role,
      content: clean(String(m.content)),
      ...(m.toolCalls?.length ? { toolCalls: m.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: clean(String(c.arguments)) })) } : {}),
      ...(m.toolCallId !== undefined ? { toolCallId: m.toolCallId } : {}),
    })),
    ...(req.tools ? { tools: req.tools } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.maxTokens !== undefined ? { maxTokens: req.maxTokens } : {}),
  };
}

/** A message a hook wrote, checked as a caller's would be; a problem as text. */
function checkMessage(m: unknown, at: string): ChatMessage | string {
  if (!isRecord(m)) return `${at} is not an object`;
  if (!ROLES.has(m.role as Role)) return `${at}.role must be one of ${[...ROLES].join(', ')}`;
  if (typeof m.content !== 'string') return `${at}.content must be a string`;
  const out: ChatMessage = { role: m.role as Role, content: m.content };
  if (m.toolCalls !== undefined) {
    if (!Array.isArray(m.toolCalls)) return `${at}.toolCalls must be a list`;
    const calls = m.toolCalls as unknown[];
    for (const [i, c] of calls.entries()) {
      if (!isRecord(c) || typeof c.id !== 'string' || typeof c.name !== 'string' || typeof c.arguments !== 'string') return `${at}.toolCalls[${i}] must be { id, name, arguments } strings`;
    }
    if (calls.length) out.toolCalls = (calls as Record<string, string>[]).map((c) => ({ id: c.id!, name: c.name!, arguments: c.arguments! }));
  }
  if (m.toolCallId !== undefined) {
    if (typeof m.toolCallId !== 'string') return `${at}.toolCallId must be a string`;
    out.toolCallId = m.toolCallId;
  }
  return out;
}

/** A request a `before-chat` hook rewrote, checked against the request it replaces. */
function acceptRequest(hook: HookHandle, parsed: unknown, current: ChatRequest, model: string): ChatRequest {
  const invalid = (what: string) => rewriteInvalid(hook, 'before-chat', `request into one the host refuses: ${what}`);
  if (!isRecord(parsed)) throw invalid('it is not a JSON object');
  if (parsed.model !== model) throw invalid(`the model must stay ${JSON.stringify(model)}, found ${JSON.stringify(parsed.model)}`);
  if (!Array.isArray(parsed.messages) || parsed.messages.length === 0) throw invalid('`messages` must be a non-empty list');
  const messages = (parsed.messages as unknown[]).map((m, i) => {
    const checked = checkMessage(m, `messages[${i}]`);
    if (typeof checked === 'string') throw invalid(checked);
    return checked;
  });
  const next: ChatRequest = { ...(current.provider !== undefined ? { provider: current.provider } : {}), model, messages };
  if (parsed.tools !== undefined) {
    if (!Array.isArray(parsed.tools)) throw invalid('`tools` must be a list');
    const offered = new Map((current.tools ?? []).map((t) => [t.name, t]));
    // The tools stay the caller's: a hook may withhold some, not add any or change their schemas.
    next.tools = (parsed.tools as unknown[]).map((t, i) => {
      const name = isRecord(t) ? t.name : undefined;
      const tool = typeof name === 'string' ? offered.get(name) : undefined;
      if (!tool) throw invalid(`tools[${i}] (${JSON.stringify(name)}) is not one of the tools the request offered`);
      return tool;
    });
  }
  if (parsed.temperature !== undefined) {
    if (typeof parsed.temperature !== 'number' || !Number.isFinite(parsed.temperature)) throw invalid('`temperature` must be a number');
    next.temperature = parsed.temperature;
  }
  if (parsed.maxTokens !== undefined) {
    if (!Number.isInteger(parsed.maxTokens) || (parsed.maxTokens as number) <= 0) throw invalid('`maxTokens` must be a positive integer');
    next.maxTokens = parsed.maxTokens as number;
  }
  return next;
}

/** The request a chat goes ahead with, after the `before-chat` hooks (provider `provider`, model `model` resolved). */
export async function beforeChat(hooks: readonly HookHandle[], ctx: HookContext, provider: string, req: ChatRequest, model: string, redact: boolean): Promise<ChatRequest> {
  return runChain(hooks, 'before-chat', provider, ctx, req, (r) => [provider, JSON.stringify(chatView(r, model, redact))], (hook, parsed) => acceptRequest(hook, parsed, req, model));
}

const responseView = (r: Pick<ChatResult, 'message' | 'finishReason' | 'usage'>) => ({ message: r.message, finishReason: r.finishReason, ...(r.usage ? { usage: r.usage } : {}) });

function acceptResponse(hook: HookHandle, parsed: unknown, current: ChatResult): ChatResult {
  const invalid = (what: string) => rewriteInvalid(hook, 'after-chat', `response into one the host refuses: ${what}`);
  if (!isRecord(parsed)) throw invalid('it is not a JSON object');
  const message = checkMessage(parsed.message, 'message');
  if (typeof message === 'string') throw invalid(message);
  if (message.role !== 'assistant') throw invalid(`message.role must stay assistant, found ${JSON.stringify(message.role)}`);
  if (!FINISH_REASONS.has(parsed.finishReason as FinishReason)) throw invalid(`finishReason must be one of ${[...FINISH_REASONS].join(', ')}`);
  let usage: Usage | undefined;
  if (parsed.usage !== undefined) {
    const u = parsed.usage;
    const count = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
    if (!isRecord(u) || !count(u.promptTokens) || !count(u.completionTokens)) throw invalid('usage must be { promptTokens, completionTokens } counts');
    usage = { promptTokens: u.promptTokens as number, completionTokens: u.completionTokens as number };
  }
  return { ...current, message, finishReason: parsed.finishReason as FinishReason, usage };
}

/** A complete answer after the `after-chat` hooks (`req` as the `before-chat` hooks left it). */
export function afterChat(hooks: readonly HookHandle[], ctx: HookContext, provider: string, req: ChatRequest, model: string, redact: boolean, result: ChatResult): Promise<ChatResult> {
  const request = JSON.stringify(chatView(req, model, redact));
  return runChain(hooks, 'after-chat', provider, ctx, result, (r) => [provider, request, JSON.stringify(responseView(r))], (hook, parsed) => acceptResponse(hook, parsed, result));
}

/**
 * Pass a stream's events on, and once it has ended (its `done` seen), show
 * the assembled answer to the `after-chat` hooks. It can no longer be
 * changed: what they decide is only recorded and logged.
 */
export async function* afterChatStream(hooks: readonly HookHandle[], ctx: HookContext, provider: string, req: ChatRequest, model: string, redact: boolean, events: AsyncIterable<ChatStreamEvent>): AsyncGenerator<ChatStreamEvent, void, undefined> {
  let text = '';
  const calls = new ToolCallAssembler();
  let usage: Usage | undefined;
  let done: Extract<ChatStreamEvent, { type: 'done' }> | undefined;
  try {
    for await (const e of events) {
      if (e.type === 'text-delta') text += e.text;
      else if (e.type === 'tool-call-delta') calls.add(e);
      else if (e.type === 'usage') usage = e.usage;
      else done = e;
      yield e;
    }
  } finally {
    if (done) {
      const toolCalls = calls.calls();
      const result: ChatResult = { message: { role: 'assistant', content: text, ...(toolCalls.length ? { toolCalls } : {}) }, finishReason: done.finishReason, usage, provider, model, redactions: done.redactions };
      try {
        await runChain(hooks, 'after-chat', provider, { ...ctx, signal: undefined }, result, (r) => [provider, JSON.stringify(chatView(req, model, redact)), JSON.stringify(responseView(r))], (hook, parsed) => {
          // The answer has reached the caller: a rewrite is checked and logged, not applied.
          acceptResponse(hook, parsed, result);
          ctx.log('debug', `its after-chat hook rewrote a streamed answer from \`${provider}\`, which had already been delivered; the rewrite was not applied`, hook.id);
          return result;
        });
      } catch (err) {
        ctx.log('warn', `an after-chat hook's verdict on a streamed answer from \`${provider}\` was not applied (the stream had ended): ${(err as Error).message}`, AirlockError.isInstance(err) ? (err.plugin ?? provider) : provider);
      }
    }
  }
}

// ── Around the host's calls ──────────────────────────────────────────────────

/**
 * A tool call through the chain: the caller's arguments checked against the
 * tool's schema (the hooks see only valid ones), the `before-tool-call` hooks,
 * `run`, then the `after-tool-call` hooks, which see its result or its error
 * as the caller would get it (`masked`).
 */
export async function toolCallThroughHooks(chain: HookChain, ctx: HookContext, tool: ToolInfo, args: unknown, run: (args: unknown) => Promise<unknown>, masked: (err: unknown) => unknown): Promise<unknown> {
  const before = chain.at('before-tool-call');
  const after = chain.at('after-tool-call');
  if (before.length) {
    const problems = toolArgumentProblems(tool, args ?? null);
    if (problems.length) throw new ToolArgumentsError(tool.name, tool.plugin, problems);
    args = await beforeToolCall(before, ctx, tool, args);
  }
  if (!after.length) return run(args);
  let outcome: { ok: true; value: unknown } | { ok: false; error: AirlockError };
  try {
    outcome = { ok: true, value: await run(args) };
  } catch (err) {
    if (!AirlockError.isInstance(err) || ctx.signal?.aborted) throw err;
    outcome = { ok: false, error: masked(err) as AirlockError };
  }
  return afterToolCall(after, ctx, tool, args, outcome);
}

/** What a chat through the chain needs to know of its provider and call. */
export interface HookedChat {
  provider: string;
  /** The provider's default model, for a request that names none. */
  defaultModel: string | undefined;
  redact: boolean;
}

/** The request a chat goes ahead with: the caller's, checked as the provider call will, then through the `before-chat` hooks. */
async function requestThroughHooks(chain: HookChain, ctx: HookContext, chat: HookedChat, request: ChatRequest): Promise<{ request: ChatRequest; model: string | undefined }> {
  const model = request?.model ?? chat.defaultModel;
  const before = chain.at('before-chat');
  // Without a model the provider call refuses the request: hooks see only requests it would take.
  if (model === undefined || before.length === 0) return { request, model };
  toWitRequest(request, model, false);
  return { request: await beforeChat(before, ctx, chat.provider, { ...request, model }, model, chat.redact), model };
}

/** A complete chat through the chain: `before-chat` hooks, `call`, `after-chat` hooks. */
export async function chatThroughHooks(chain: HookChain, ctx: HookContext, chat: HookedChat, request: ChatRequest, call: (request: ChatRequest) => Promise<ChatResult>): Promise<ChatResult> {
  const { request: req, model } = await requestThroughHooks(chain, ctx, chat, request);
  const result = await call(req);
  const after = chain.at('after-chat');
  return after.length && model !== undefined ? afterChat(after, ctx, chat.provider, req, model, chat.redact, result) : result;
}

/** A streamed chat through the chain: `before-chat` hooks, then `stream`; the `after-chat` hooks see the answer once it has ended. */
export async function* chatStreamThroughHooks(chain: HookChain, ctx: HookContext, chat: HookedChat, request: ChatRequest, stream: (request: ChatRequest) => AsyncIterable<ChatStreamEvent>): AsyncGenerator<ChatStreamEvent, void, undefined> {
  const { request: req, model } = await requestThroughHooks(chain, ctx, chat, request);
  const events = stream(req);
  const after = chain.at('after-chat');
  // The caller's abort ends the stream; the after hooks still see what was answered.
  yield* after.length && model !== undefined ? afterChatStream(after, { ...ctx, signal: undefined }, chat.provider, req, model, chat.redact, events) : events;
}

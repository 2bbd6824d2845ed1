/**
 * Spans through `@opentelemetry/api`, for an integrator who registers a
 * tracer provider (and, for spans to nest under the integrator's own, a
 * context manager; the Node SDK registers both):
 *
 * - `execute_tool <tool>` for a tool call, `chat <model>` for a chat request
 *   or a whole chat stream (from the request to the last event), named and
 *   attributed by the OpenTelemetry GenAI conventions (`gen_ai.*`), plus
 *   `airlock.plugin.id`;
 * - a client span per HTTP request a plugin makes (each redirect hop its
 *   own), by the HTTP conventions, under the span of the call that made it;
 *   refused requests end in an error status saying why.
 *
 * Without a provider the API's tracer is a no-op, and a call costs one
 * `startSpan` on it, which returns a non-recording span: no name, attribute
 * or context is built (names are set once a span is known to record). The
 * bench measures the trivial call both ways.
 */
import { SpanKind, SpanStatusCode, context, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { auditUrl } from './audit.js';
import { AirlockError } from './errors.js';
import { HOST_VERSION } from './version.js';

export type { Context as TraceContext } from '@opentelemetry/api';

/** Follows the global provider: a provider registered after the host starts is used from then on. */
const tracer = trace.getTracer('@airlock/host', HOST_VERSION);

/** A recording span, and the context that makes it the parent of what happens inside it. */
export interface Traced {
  span: Span;
  context: Context;
}

/**
 * Start a span named `name()` with `attributes()` under `parent` (default:
 * the active context), or return undefined when no provider records it.
 */
export function startSpan(kind: SpanKind, name: () => string, attributes: () => Attributes, parent?: Context): Traced | undefined {
  const base = parent ?? context.active();
  const span = tracer.startSpan('airlock', { kind }, base);
  if (!span.isRecording()) return undefined;
  span.updateName(name());
  span.setAttributes(attributes());
  return { span, context: trace.setSpan(base, span) };
}

/** End a span with what happened: an error sets its status and `error.type` (the Airlock code). */
export function endSpan(traced: Traced | undefined, error?: unknown): void {
  if (!traced) return;
  if (error !== undefined) failSpan(traced.span, error instanceof AirlockError ? error.code : error instanceof Error ? error.name : 'Error', error instanceof Error ? error.message : String(error));
  traced.span.end();
}

export function failSpan(span: Span, type: string, message: string): void {
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** The span of a tool call. */
export const toolSpan = (plugin: string, tool: string): Traced | undefined =>
  startSpan(
    SpanKind.INTERNAL,
    () => `execute_tool ${tool}`,
    () => ({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool, 'airlock.plugin.id': plugin }),
  );

/** The span of a chat request or a whole chat stream. */
export const chatSpan = (plugin: string, model: string, stream: boolean): Traced | undefined =>
  startSpan(
    SpanKind.CLIENT,
    () => `chat ${model}`,
    () => ({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': model, 'gen_ai.provider.name': plugin, 'airlock.plugin.id': plugin, 'airlock.chat.stream': stream }),
  );

/** What a chat answer adds to its span. */
export function chatAnswered(traced: Traced | undefined, finishReason: string, usage: { promptTokens: number; completionTokens: number } | undefined): void {
  if (!traced) return;
  traced.span.setAttribute('gen_ai.response.finish_reasons', [finishReason]);
  if (usage) traced.span.setAttributes({ 'gen_ai.usage.input_tokens': usage.promptTokens, 'gen_ai.usage.output_tokens': usage.completionTokens });
}

/** The client span of one HTTP request (one hop) a plugin makes; its `url.full` has no query string (which may carry secrets). */
export const httpSpan = (plugin: string, method: string, url: URL, parent: Context | undefined, scrub: (text: string) => string = (t) => t): Traced | undefined =>
  startSpan(
    SpanKind.CLIENT,
    () => method,
    () => ({
      'http.request.method': method,
      'url.full': scrub(auditUrl(url)),
      'server.address': url.hostname,
      'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
      'airlock.plugin.id': plugin,
    }),
    parent,
  );

/** Run `run` inside span `traced` (if any), ending it with the outcome; `onResult` adds what the result says. */
export async function inSpan<T>(traced: Traced | undefined, run: () => Promise<T>, onResult?: (result: T, traced: Traced) => void): Promise<T> {
  if (!traced) return run();
  try {
    const result = await run();
    onResult?.(result, traced);
    endSpan(traced);
    return result;
  } catch (err) {
    endSpan(traced, err);
    throw err;
  }
}

/** A chat stream under span `traced`: ended with the stream (its finish reason and usage), its error, or its cancellation. */
export async function* spanStream<E extends { type: string }>(events: AsyncIterable<E>, traced: Traced): AsyncGenerator<E, void, undefined> {
  let usage: { promptTokens: number; completionTokens: number } | undefined;
  let ended = false;
  try {
    for await (const e of events) {
      if (e.type === 'usage') usage = (e as unknown as { usage: typeof usage }).usage;
      if (e.type === 'done') {
        chatAnswered(traced, (e as unknown as { finishReason: string }).finishReason, usage);
        endSpan(traced);
        ended = true;
      }
      yield e;
    }
  } catch (err) {
    if (!ended) endSpan(traced, err);
    ended = true;
    throw err;
  } finally {
    // Left before `done`: the consumer stopped reading.
    if (!ended) {
      traced.span.setAttribute('airlock.chat.cancelled', true);
      endSpan(traced);
    }
  }
}

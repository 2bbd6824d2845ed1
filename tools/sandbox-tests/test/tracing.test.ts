// Spans through @opentelemetry/api, seen by a real SDK: none before the
// integrator registers a tracer provider; after, one span per tool call and
// per chat (a whole stream is one span, not one per chunk), an HTTP client span
// per request a plugin makes, under the call that made it, and errors and
// refusals as error statuses. Spans nest under the integrator's own.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createHost, type Host } from '@airlock/host';
import { capabilityVariant } from '@airlock/test-utils';

const misbehaving = new URL('../fixtures/misbehaving', import.meta.url).pathname;
const echoProvider = new URL('../fixtures/echo-provider', import.meta.url).pathname;
const SECRET = 'sk-trace-0123456789abcdef';

let base: string;
let host: Host;
let server: Server;
let origin: string;
const exporter = new InMemorySpanExporter();

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-tracing-'));
  server = createServer((req, res) => req.resume().on('end', () => res.writeHead(req.url?.startsWith('/missing') ? 404 : 200).end('ok')));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  host = await createHost({ home: join(base, 'home'), logger: () => {}, env: { TRACE_KEY: SECRET } });
  await host.load(await capabilityVariant(misbehaving, base, 'traced', { http: [origin], env: ['TRACE_KEY'] }), { grant: 'manifest' });
  await host.load(echoProvider);
});

afterAll(async () => {
  await host?.close();
  server?.close();
  trace.disable();
  context.disable();
  await rm(base, { recursive: true, force: true });
});

const byName = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('tracing', () => {
  it('records nothing while no tracer provider is registered, and follows one registered after the host started', async () => {
    expect(await host.callTool('traced.echo', { before: true })).toEqual({ before: true });
    // Registered now, with the host already running: its spans go to this provider from here on.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(await host.callTool('traced.echo', { after: true })).toEqual({ after: true });
    const [span] = byName('execute_tool echo');
    expect(span).toBeDefined();
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.attributes).toEqual({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'echo', 'airlock.plugin.id': 'traced' });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    exporter.reset();
  });

  it("puts a tool call under the integrator's span, and the plugin's HTTP requests under the tool call, without query strings or secrets", async () => {
    const outer = trace.getTracer('integrator');
    await outer.startActiveSpan('handle request', async (request) => {
      expect(await host.callTool('traced.fetch', { url: `${origin}/items?key=${SECRET}` })).toMatchObject({ status: 200 });
      request.end();
    });
    const [root] = byName('handle request');
    const [tool] = byName('execute_tool fetch');
    const [get] = byName('GET');
    expect(parentOf(tool!)).toBe(root!.spanContext().spanId);
    expect(parentOf(get!)).toBe(tool!.spanContext().spanId);
    expect(get!.spanContext().traceId).toBe(root!.spanContext().traceId);
    expect(get!.kind).toBe(SpanKind.CLIENT);
    expect(get!.attributes).toEqual({
      'http.request.method': 'GET',
      'url.full': `${origin}/items`,
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(origin).port),
      'airlock.plugin.id': 'traced',
      'http.response.status_code': 200,
    });
    expect(JSON.stringify(exporter.getFinishedSpans().map((s) => [s.name, s.attributes, s.status]))).not.toContain(SECRET);
    exporter.reset();
  });

  it('ends failed calls, refused requests and error responses with an error status saying why', async () => {
    expect(await host.callTool('traced.fetch', { url: 'https://elsewhere.example.com/x' })).toMatchObject({ rejected: true });
    expect(await host.callTool('traced.fetch', { url: `${origin}/missing` })).toMatchObject({ status: 404 });
    await expect(host.callTool('traced.fail', { code: 'nope' })).rejects.toMatchObject({ code: 'TOOL_FAILED' });
    const [refused, missing] = byName('GET');
    expect(refused!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringContaining('https://elsewhere.example.com') });
    expect(refused!.attributes['error.type']).toBe('refused');
    expect(missing!.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': '404' });
    const [failed] = byName('execute_tool fail');
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed!.attributes['error.type']).toBe('TOOL_FAILED');
    exporter.reset();
  });

  it('records a chat, and a whole chat stream as one span with its finish reason, however many chunks it has', async () => {
    const answer = await host.chat({ messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.finishReason).toBe('stop');
    const events = [];
    for await (const e of host.chatStream({ messages: [{ role: 'user', content: 'one two three four five' }] })) events.push(e);
    expect(events.length).toBeGreaterThan(5);
    const chats = byName('chat echo');
    expect(chats.map((s) => [s.kind, s.attributes['airlock.chat.stream'], s.attributes['gen_ai.response.finish_reasons']])).toEqual([
      [SpanKind.CLIENT, false, ['stop']],
      [SpanKind.CLIENT, true, ['stop']],
    ]);
    expect(chats[1]!.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'echo', 'airlock.plugin.id': 'echo-provider' });
    expect(exporter.getFinishedSpans()).toHaveLength(2);

    // A stream the reader leaves early ends its span, marked cancelled.
    for await (const e of host.chatStream({ messages: [{ role: 'user', content: 'a b c d e f' }], model: 'slow' })) if (e.type === 'text-delta') break;
    const cancelled = byName('chat slow');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]!.attributes['airlock.chat.cancelled']).toBe(true);
  });
});

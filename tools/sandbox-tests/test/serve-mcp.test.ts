/**
 * `@airlock/serve` over Streamable HTTP, driven by the official MCP SDK client:
 * what a client sees of the host's tools, calls and their failures,
 * cancellation, list_changed and log lines. The doors a request must pass
 * (token, scope, Host, Origin, body size) are tested in packages/serve.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, ElicitRequestSchema, LoggingMessageNotificationSchema, McpError, ToolListChangedNotificationSchema, type LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';
import { createHost, type Host } from '@airlock/host';
import { pluginVariant } from '@airlock/test-utils';
import { createServer, TokenStore, type AirlockServer, type ToolPolicy } from '@airlock/serve';
import { connectListening } from './mcp-client.js';

const fixture = new URL('../fixtures/misbehaving', import.meta.url).pathname;
const notes = new URL('../../../plugins/notes', import.meta.url).pathname;

let home: string;
let host: Host;
let server: AirlockServer;
let url: string;
let tools: string;
const open: Client[] = [];
/** Tool calls the server has started on the host and not seen end. */
let callsInFlight = 0;

let store: TokenStore;
const extraServers: AirlockServer[] = [];

async function connect(options: { at?: string; answer?: (message: string) => { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, unknown> } } = {}): Promise<Client> {
  const client = await connectListening(options.at ?? url, tools, { name: 'airlock-test', version: '1.0.0' }, options.answer ? { capabilities: { elicitation: { form: {} } } } : {});
  if (options.answer) {
    const answer = options.answer;
    client.setRequestHandler(ElicitRequestSchema, (request) => answer(request.params.message));
  }
  open.push(client);
  return client;
}

const text = (result: unknown) => ((result as { content: { type: string; text: string }[] }).content[0]!).text;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-serve-'));
  host = await createHost({ home, logger: () => {} });
  await host.load(fixture);
  const callTool = host.callTool.bind(host);
  host.callTool = async (...args: Parameters<Host['callTool']>) => {
    callsInFlight++;
    try {
      return await callTool(...args);
    } finally {
      callsInFlight--;
    }
  };
  store = await TokenStore.open(home);
  tools = (await store.create({ scopes: ['tools'], name: 'test client' })).token;
  server = createServer(host, { tokens: store });
  ({ url } = await server.listen());
});

afterAll(async () => {
  for (const client of open) await client.close().catch(() => {});
  for (const extra of extraServers) await extra.close();
  await server.close();
  await host.close();
  await rm(home, { recursive: true, force: true });
});

describe('MCP over Streamable HTTP', () => {
  it('lists each tool under its qualified name, with its schema and hints from its risk level', async () => {
    const client = await connect();
    expect(client.getServerCapabilities()?.tools?.listChanged).toBe(true);
    const { tools: listed } = await client.listTools();
    const echo = listed.find((t) => t.name === 'misbehaving.echo');
    expect(echo).toMatchObject({
      title: 'echo (misbehaving)',
      description: 'Return the arguments.',
      inputSchema: { type: 'object' },
      annotations: { readOnlyHint: true, destructiveHint: false, openWorldHint: false },
    });
    expect(listed.map((t) => t.name)).toEqual(host.tools().map((t) => t.qualifiedName));
  });

  it('calls a tool: the result as JSON text and as structured content', async () => {
    const client = await connect();
    const result = await client.callTool({ name: 'misbehaving.echo', arguments: { hello: 'world', n: 2 } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ hello: 'world', n: 2 });
    expect(JSON.parse(text(result))).toEqual({ hello: 'world', n: 2 });
  });

  it('reports a plugin that traps, or overruns its deadline, as a tool error; the session goes on', async () => {
    const client = await connect();
    const trapped = await client.callTool({ name: 'misbehaving.trap', arguments: {} });
    expect(trapped.isError).toBe(true);
    expect(text(trapped)).toMatch(/^PLUGIN_TRAPPED: plugin `misbehaving` trapped/);
    const late = await client.callTool({ name: 'misbehaving.spin', arguments: {} });
    expect(late.isError).toBe(true);
    expect(text(late)).toMatch(/^PLUGIN_TIMEOUT: .*\nHint: Raise `limits.timeoutMs`/s);
    expect((await client.callTool({ name: 'misbehaving.echo', arguments: { still: 'here' } })).structuredContent).toEqual({ still: 'here' });
  });

  it('refuses an unknown tool as invalid params, and arguments the schema refuses as a tool error', async () => {
    const client = await connect();
    const err = await client.callTool({ name: 'misbehaving.nope', arguments: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32602);
    const invalid = await client.callTool({ name: 'misbehaving.sleep', arguments: { ms: 'soon' } });
    expect(invalid.isError).toBe(true);
    expect(text(invalid)).toMatch(/^TOOL_ARGUMENTS_INVALID: /);
  });

  it('stops a call in the plugin when the client cancels it', async () => {
    const client = await connect();
    const instance = async () => ((await client.callTool({ name: 'misbehaving.sleep', arguments: { ms: 0 } })).structuredContent as { instance: string }).instance;
    const before = await instance();
    const controller = new AbortController();
    const call = client.request({ method: 'tools/call', params: { name: 'misbehaving.sleep', arguments: { ms: 60_000 } } }, CallToolResultSchema, { signal: controller.signal });
    await vi.waitFor(() => expect(callsInFlight).toBe(1), { timeout: 30_000, interval: 10 });
    controller.abort('the user cancelled');
    await expect(call).rejects.toThrow();
    // notifications/cancelled reached the host: its worker was stopped, and a new instance answers.
    await vi.waitFor(async () => expect(await instance()).not.toBe(before), { timeout: 30_000, interval: 50 });
  });

  it('sends the progress a tool reports to a client that asked for it, before the result', async () => {
    const client = await connect();
    const seen: { progress: number; total?: number; message?: string }[] = [];
    const result = await client.callTool({ name: 'misbehaving.progress', arguments: { fractions: [0.5, 1], message: 'halfway there', gapMs: 150 } }, CallToolResultSchema, {
      onprogress: (p) => seen.push(p),
    });
    expect(result.structuredContent).toEqual({ reported: 2 });
    expect(seen).toEqual([
      { progress: 0.5, total: 1, message: 'halfway there' },
      { progress: 1, total: 1, message: 'halfway there' },
    ]);
  });

  it('tells every client when the tools change', async () => {
    const client = await connect();
    const changes: string[] = [];
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes.push('changed'));
    await host.load(notes, { grant: 'manifest' });
    await vi.waitFor(() => expect(changes.length).toBeGreaterThan(0), { timeout: 30_000, interval: 20 });
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('notes.add_note');
    // The host finds a tool by qualified name, or by a name only one plugin has.
    expect(host.tool('notes.count_words')).toMatchObject({ plugin: 'notes', name: 'count_words', risk: 'read-only' });
    expect(host.tool('count_words')?.qualifiedName).toBe('notes.count_words');
    expect(host.tool('notes.nope')).toBeUndefined();
    const twin = await pluginVariant(notes, join(home, 'notes-two'), (pkg) => {
      pkg.name = 'notes-two';
      pkg.airlock.id = 'notes-two';
    });
    await host.load(twin, { grant: 'manifest' });
    expect(host.tool('count_words')).toBeUndefined();
    expect(host.tool('notes-two.count_words')?.plugin).toBe('notes-two');
    await host.unload('notes-two');
    const seen = changes.length;
    await host.unload('notes');
    await vi.waitFor(() => expect(changes.length).toBeGreaterThan(seen), { timeout: 30_000, interval: 20 });
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('notes.add_note');
  });

  it('sends plugin log lines as logging notifications at the level the client chose', async () => {
    const client = await connect();
    const messages: LoggingMessageNotification['params'][] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void messages.push(n.params));
    await client.setLoggingLevel('warning');
    await client.callTool({ name: 'misbehaving.print', arguments: {} });
    await vi.waitFor(() => expect(messages.some((m) => m.data === 'to stderr')).toBe(true), { timeout: 30_000, interval: 20 });
    expect(messages.find((m) => m.data === 'to stderr')).toMatchObject({ level: 'warning', logger: 'misbehaving' });
    // stdout is info, below the level chosen.
    expect(messages.some((m) => m.data === 'to stdout')).toBe(false);
  });
});

describe('under load', () => {
  it('answers 200 concurrent calls, each with a result or a clear error, and keeps answering /healthz', async () => {
    const client = await connect();
    const calls = Array.from({ length: 200 }, (_, i) => client.callTool({ name: 'misbehaving.echo', arguments: { i } }));
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const results = await Promise.all(calls);
    for (const [i, result] of results.entries()) {
      // The plugin's queue is bounded: a call past it is refused as busy, not dropped.
      if (result.isError) expect(text(result)).toMatch(/^PLUGIN_BUSY: /);
      else expect(result.structuredContent).toEqual({ i });
    }
    expect(results.filter((r) => !r.isError).length).toBeGreaterThan(0);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

describe('asking the user before a risky or dangerous tool runs', () => {
  async function servedWith(policy: ToolPolicy): Promise<string> {
    const extra = createServer(host, { tokens: store, policy });
    extraServers.push(extra);
    return (await extra.listen()).url;
  }

  it('asks through elicitation before a dangerous tool runs, and runs it once the user allows', async () => {
    const asked: string[] = [];
    const client = await connect({ answer: (message) => (asked.push(message), { action: 'accept', content: { allow: true } }) });
    const result = await client.callTool({ name: 'misbehaving.wipe', arguments: { all: true } });
    expect(result.structuredContent).toEqual({ wiped: true });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain('misbehaving.wipe (plugin misbehaving) is marked dangerous');
    expect(asked[0]).toContain('{"all":true}');
    // A read-only tool does not ask.
    await client.callTool({ name: 'misbehaving.echo', arguments: {} });
    expect(asked).toHaveLength(1);
  });

  it('asks on the call\'s own response stream: a client that never opened the session\'s GET stream is asked too', async () => {
    const headers = { authorization: `Bearer ${tools}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
    const post = (body: unknown, session?: string) =>
      fetch(`${url}/mcp`, { method: 'POST', headers: { ...headers, ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}) }, body: JSON.stringify(body) });
    /** The JSON-RPC messages of an SSE response, as they arrive. */
    async function* messages(res: Response): AsyncGenerator<{ id?: number; method?: string; result?: Record<string, unknown> }> {
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of res.body!) {
        buffered += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const data = buffered.slice(0, end).split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          buffered = buffered.slice(end + 2);
          if (data) yield JSON.parse(data);
        }
      }
    }
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { elicitation: {} }, clientInfo: { name: 'no-get-stream', version: '1.0.0' } } });
    const session = init.headers.get('mcp-session-id')!;
    await init.body!.cancel();
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status).toBe(202);

    const call = messages(await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'misbehaving.wipe', arguments: {} } }, session));
    const asked = (await call.next()).value!;
    expect(asked).toMatchObject({ method: 'elicitation/create' });
    expect((await post({ jsonrpc: '2.0', id: asked.id, result: { action: 'accept', content: { allow: true } } }, session)).status).toBe(202);
    expect((await call.next()).value).toMatchObject({ id: 2, result: { structuredContent: { wiped: true } } });
    await fetch(`${url}/mcp`, { method: 'DELETE', headers: { ...headers, 'mcp-session-id': session } });
  });

  it('does not run it when the user declines, or cancels', async () => {
    for (const action of ['decline', 'cancel'] as const) {
      const client = await connect({ answer: () => ({ action }) });
      const result = await client.callTool({ name: 'misbehaving.wipe', arguments: {} });
      expect(result.isError).toBe(true);
      expect(text(result)).toContain(`DECLINED: the user did not allow this call of misbehaving.wipe (${action})`);
    }
    const unchecked = await connect({ answer: () => ({ action: 'accept', content: { allow: false } }) });
    expect((await unchecked.callTool({ name: 'misbehaving.wipe', arguments: {} })).isError).toBe(true);
  });

  it('refuses it to a client that cannot ask, saying how to allow it', async () => {
    const client = await connect();
    const result = await client.callTool({ name: 'misbehaving.wipe', arguments: {} });
    expect(result.isError).toBe(true);
    expect(text(result)).toContain('CONFIRMATION_REQUIRED: misbehaving.wipe is a dangerous tool');
    expect(text(result)).toContain('{"serve": {"allow": ["misbehaving.wipe"]}}');
    // Risky tools run by default.
    expect((await client.callTool({ name: 'misbehaving.publish', arguments: {} })).structuredContent).toEqual({ published: true });
  });

  it('follows the policy: risky tools ask when it says so, allowed tools never ask', async () => {
    const strict = await connect({ at: await servedWith({ confirm: ['risky', 'dangerous'] }) });
    expect(text(await strict.callTool({ name: 'misbehaving.publish', arguments: {} }))).toContain('CONFIRMATION_REQUIRED: misbehaving.publish is a risky tool');
    const trusting = await connect({ at: await servedWith({ allow: ['misbehaving.wipe'] }) });
    expect((await trusting.callTool({ name: 'misbehaving.wipe', arguments: {} })).structuredContent).toEqual({ wiped: true });
    const wholePlugin = await connect({ at: await servedWith({ confirm: ['risky', 'dangerous'], allow: ['misbehaving.*'] }) });
    expect((await wholePlugin.callTool({ name: 'misbehaving.publish', arguments: {} })).structuredContent).toEqual({ published: true });
  });
});

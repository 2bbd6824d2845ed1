/**
 * The test harness against real components: three small fixture plugins
 * (test/fixtures), built by the harness itself when stale.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AirlockError, type ChatStreamEvent } from '@airlock/host';
import { linkSdk } from './global-setup.js';
import { buildIfStale, collectStream, createTestHost, isStale, TestHostError, type FetchHandler, type TestHost } from '../src/testing/index.js';

const pkgDir = resolve(fileURLToPath(new URL('..', import.meta.url)));
const fixtures = join(pkgDir, 'test', 'fixtures');
const TOOL = join(fixtures, 'harness-tool');
const PROVIDER = join(fixtures, 'harness-provider');
const AUTH = join(fixtures, 'harness-auth');

/** Plugin directories made by tests live under test/, inside the workspace (so they resolve @airlock/sdk), and are removed afterwards. */
let scratch: string;

// The fixtures are built by test/global-setup.ts.
beforeAll(async () => {
  scratch = await mkdtemp(join(pkgDir, 'test', '.tmp-'));
  await linkSdk(scratch);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let t: TestHost | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  vi.unstubAllEnvs();
});

/** What a promise rejects with; fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; hint?: string }> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) throw new Error('expected a rejection');
  return outcome.error as Error & { code?: string };
}

describe('a tool plugin in a test host', () => {
  it('loads with everything its manifest asks for, in a temporary home that close() removes', async () => {
    t = await createTestHost({ plugin: pathToFileURL(TOOL) });
    expect(t.id).toBe('harness-tool');
    expect(t.dir).toBe(TOOL);
    expect(t.info.capabilities).toMatchObject({ http: ['https://api.example.com', 'https://static.example.com'], env: ['FIXTURE_TOKEN'], storage: { quotaBytes: 65536 } });
    expect(t.tools().map((tool) => tool.qualifiedName)).toContain('harness-tool.fetch_text');
    const home = t.home;
    expect(existsSync(home)).toBe(true);
    await t.close();
    expect(existsSync(home)).toBe(false);
    await t.close();
    expect(await rejection(t.callTool('version'))).toMatchObject({ code: 'CLOSED', message: 'callTool: this test host is closed' });
    expect((await rejection(t.restart())).code).toBe('CLOSED');
  });

  it('gives the plugin the test\'s environment and configuration, never process.env', async () => {
    vi.stubEnv('FIXTURE_TOKEN', 'from-the-process');
    t = await createTestHost({ plugin: TOOL });
    expect(await t.callTool('env_get', { name: 'FIXTURE_TOKEN' })).toEqual({ value: null });
    await t.close();
    t = await createTestHost({ plugin: TOOL, env: { FIXTURE_TOKEN: 'tok-0123456789' }, config: { greeting: 'hi' } });
    expect(await t.callTool('env_get', { name: 'FIXTURE_TOKEN' })).toEqual({ value: 'tok-0123456789' });
    expect(await t.callTool('config_all')).toEqual({ baseUrl: 'https://api.example.com', greeting: 'hi' });
  });

  it('seeds storage before the plugin starts: objects as JSON, strings as UTF-8, bytes as they are', async () => {
    t = await createTestHost({ plugin: TOOL, storage: { 'notes/1': { title: 'x' }, text: 'héllo', raw: new Uint8Array([104, 105]) } });
    expect(await t.callTool('storage_get', { key: 'notes/1' })).toEqual({ value: '{"title":"x"}' });
    expect(await t.callTool('storage_get', { key: 'text' })).toEqual({ value: 'héllo' });
    expect(await t.callTool('storage_get', { key: 'raw' })).toEqual({ value: 'hi' });
    expect(await t.callTool('storage_keys')).toEqual(['notes/1', 'raw', 'text']);
    expect(await t.storage.getJson('notes/1')).toEqual({ title: 'x' });
  });

  it('reads and changes what the plugin stored', async () => {
    t = await createTestHost({ plugin: TOOL });
    await t.callTool('storage_set', { key: 'a/1', value: 'one' });
    expect(await t.storage.getText('a/1')).toBe('one');
    expect(await t.storage.get('a/1')).toEqual(new TextEncoder().encode('one'));
    await t.storage.set('a/2', { n: 2 });
    expect(await t.callTool('storage_keys', { prefix: 'a/' })).toEqual(['a/1', 'a/2']);
    expect(await t.callTool('storage_get', { key: 'a/2' })).toEqual({ value: '{"n":2}' });
    expect(await t.storage.keys('a/')).toEqual(['a/1', 'a/2']);
    expect(await t.storage.delete('a/1')).toBe(true);
    expect(await t.storage.getText('a/1')).toBeUndefined();
    expect(await t.storage.getJson('missing')).toBeUndefined();
    expect(await t.storage.usage()).toBe('a/2'.length + '{"n":2}'.length);
  });

  it('keeps storage across restart() without seeding it again', async () => {
    t = await createTestHost({ plugin: TOOL, storage: { seeded: 'first' } });
    await t.callTool('storage_set', { key: 'seeded', value: 'changed' });
    const before = t.host;
    await t.restart();
    expect(t.host).not.toBe(before);
    expect(await t.callTool('storage_get', { key: 'seeded' })).toEqual({ value: 'changed' });
  });

  it('calls a tool by name or qualified name; an unknown name is TOOL_NOT_FOUND listing the plugin\'s tools', async () => {
    t = await createTestHost({ plugin: TOOL });
    expect(await t.callTool('version')).toEqual({ version: 1 });
    expect(await t.callTool('harness-tool.version', {})).toEqual({ version: 1 });
    const err = await rejection(t.callTool('send_email', {}));
    expect(AirlockError.isInstance(err)).toBe(true);
    expect(err.code).toBe('TOOL_NOT_FOUND');
    expect(err.message).toBe('plugin `harness-tool` has no tool `send_email`');
    expect(err.hint).toContain('harness-tool.fetch_text');
  });

  it('passes the host\'s errors through and cleans up when the plugin cannot load', async () => {
    const home = await mkdtemp(join(scratch, 'home-'));
    const err = await rejection(createTestHost({ plugin: TOOL, grant: { storage: {} }, home, fetch: { 'https://api.example.com': () => new Response('') } }));
    expect(AirlockError.isInstance(err)).toBe(true);
    expect(err.code).toBe('CAPABILITY_NOT_GRANTED');
    // A home the test gave is left in place; the host in it was closed, so it opens again.
    expect(existsSync(home)).toBe(true);
    t = await createTestHost({ plugin: TOOL, home });
    expect(t.home).toBe(home);
  });
});

describe('fake origins', () => {
  it('answer a granted origin from the test\'s handler, and record what the plugin sent', async () => {
    const extra: string[] = [];
    let seen: { url: string; method: string; body: string; auth: string | null } | undefined;
    t = await createTestHost({
      plugin: TOOL,
      logger: (e) => extra.push(e.message),
      fetch: {
        'https://api.example.com': async (req) => {
          seen = { url: req.url, method: req.method, body: await req.text(), auth: req.headers.get('authorization') };
          return new Response('pong', { status: 201, headers: { 'content-type': 'text/plain', 'x-fake': 'yes' } });
        },
      },
    });
    const result = await t.callTool('fetch_text', { url: 'https://api.example.com/v1/ping?x=1', method: 'POST', body: '{"a":1}', headers: { authorization: 'Bearer t', 'content-type': 'application/json' } });
    expect(result).toEqual({ status: 201, contentType: 'text/plain', header: 'yes', body: 'pong' });
    expect(seen).toEqual({ url: 'https://api.example.com/v1/ping?x=1', method: 'POST', body: '{"a":1}', auth: 'Bearer t' });
    expect(t.requests).toHaveLength(1);
    expect(t.requests[0]).toMatchObject({
      origin: 'https://api.example.com',
      method: 'POST',
      url: 'https://api.example.com/v1/ping?x=1',
      body: '{"a":1}',
      status: 201,
      headers: { host: 'api.example.com', authorization: 'Bearer t', 'content-type': 'application/json' },
    });
    expect(t.logs).toContainEqual({ level: 'info', message: 'fetching https://api.example.com/v1/ping?x=1', plugin: 'harness-tool' });
    expect(extra).toContain('fetching https://api.example.com/v1/ping?x=1');
  });

  it('serve the origin the configuration names', async () => {
    t = await createTestHost({ plugin: TOOL, config: { baseUrl: 'https://other.example.com:8443/v2' }, fetch: { 'https://other.example.com:8443': () => Response.json({ ok: true }) } });
    expect(t.info.capabilities.http).toEqual(['https://other.example.com:8443', 'https://static.example.com']);
    expect(await t.callTool('fetch_text', { url: 'https://other.example.com:8443/v2/x' })).toMatchObject({ status: 200, body: '{"ok":true}', contentType: 'application/json' });
  });

  it('do not open an origin the plugin was not granted: the request is refused before it reaches the handler', async () => {
    const handler = vi.fn<FetchHandler>(() => new Response('should not be reached'));
    t = await createTestHost({ plugin: TOOL, fetch: { 'https://evil.example.com': handler } });
    const err = await rejection(t.callTool('fetch_text', { url: 'https://evil.example.com/steal' }));
    expect(err.code).toBe('TOOL_FAILED');
    expect(err.message).toContain('https://evil.example.com/steal');
    expect(handler).not.toHaveBeenCalled();
    expect(t.requests).toEqual([]);
    expect(t.logs).toContainEqual({ level: 'warn', message: 'denied GET https://evil.example.com: the plugin holds no http grant for it', plugin: 'harness-tool' });
  });

  it('answer 500 with the message when a handler throws, and the test sees it', async () => {
    t = await createTestHost({
      plugin: TOOL,
      fetch: {
        'https://api.example.com': (req) => {
          throw new Error(`no route for ${new URL(req.url).pathname}`);
        },
      },
    });
    const result = (await t.callTool('fetch_text', { url: 'https://api.example.com/nope' })) as { status: number; body: string };
    expect(result.status).toBe(500);
    expect(result.body).toBe('fake https://api.example.com: the handler threw: no route for /nope');
    expect(t.requests[0]).toMatchObject({ status: 500, error: 'no route for /nope' });
    expect(t.logs).toContainEqual({ level: 'error', message: 'fake https://api.example.com: the handler for GET /nope threw: no route for /nope' });
  });

  it('send an origin to a loopback server the test started, with the original Host', async () => {
    const seen: { path: string; host: string | undefined }[] = [];
    const server: Server = createServer((req, res) => {
      seen.push({ path: req.url!, host: req.headers.host });
      res.end('from the real server');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      t = await createTestHost({ plugin: TOOL, fetch: { 'https://static.example.com': `http://127.0.0.1:${(server.address() as AddressInfo).port}/ignored` } });
      expect(await t.callTool('fetch_text', { url: 'https://static.example.com/a/b?c=d' })).toMatchObject({ status: 200, body: 'from the real server' });
      expect(seen).toEqual([{ path: '/a/b?c=d', host: 'static.example.com' }]);
      // Only handlers' requests are recorded; the server keeps its own.
      expect(t.requests).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it.each([
    [{ 'https://api.example.com/v1': () => new Response('') }, '"https://api.example.com/v1" is not an origin'],
    [{ 'ftp://files.example.com': () => new Response('') }, '"ftp://files.example.com" is not an origin'],
    [{ 'https://api.example.com': 'https://127.0.0.1:8443' }, 'not a plain http:// URL of a server on this machine'],
    [{ 'https://api.example.com': 'http://10.1.2.3:8080' }, 'not a plain http:// URL of a server on this machine'],
    [{ 'https://api.example.com': 42 }, 'the value for https://api.example.com is a number'],
  ])('refuse a table entry that is not an origin mapped to a handler or a loopback URL: %j', async (table, message) => {
    const err = await rejection(createTestHost({ plugin: TOOL, fetch: table as never }));
    expect(TestHostError.isInstance(err)).toBe(true);
    expect(err.code).toBe('FAKE_ORIGIN_INVALID');
    expect(err.message).toContain(message);
    expect(err.hint).toBeDefined();
  });
});

describe('errors a plugin author meets first', () => {
  /** A prebuilt copy of `from` (its component, no sources) whose manifest `edit` changed. */
  async function variant(from: string, name: string, edit: (manifest: Record<string, unknown>) => void): Promise<string> {
    const dir = join(scratch, name);
    await mkdir(join(dir, 'dist'), { recursive: true });
    const pkg = JSON.parse(await readFile(join(from, 'package.json'), 'utf8')) as { airlock: Record<string, unknown> };
    edit(pkg.airlock);
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
    await copyFile(join(from, 'dist', 'plugin.wasm'), join(dir, 'dist', 'plugin.wasm'));
    return dir;
  }

  /** Where `needle` starts in the fixture's src/index.ts, as `line:column` (1-based). */
  async function sourceLocation(fixture: string, needle: string): Promise<string> {
    const lines = (await readFile(join(fixture, 'src', 'index.ts'), 'utf8')).split('\n');
    const line = lines.findIndex((l) => l.includes(needle));
    expect(line, `${needle} in ${fixture}`).toBeGreaterThanOrEqual(0);
    return `${line + 1}:${lines[line]!.indexOf(needle) + 1}`;
  }

  it('a tool fetching an origin its manifest does not list: the error names the origin and the manifest entry; the stack, the plugin\'s source line', async () => {
    t = await createTestHost({ plugin: TOOL });
    const err = (await rejection(t.callTool('fetch_text', { url: 'https://elsewhere.example.com/data' }))) as Error & { code: string; hint: string; details: string; refused: unknown[] };
    expect(err.code).toBe('TOOL_FAILED');
    expect(err.message).toContain('the host refused GET https://elsewhere.example.com: plugin `harness-tool` holds no http grant for this origin');
    expect(err.hint).toContain('Add "https://elsewhere.example.com" to "capabilities.http"');
    expect(err.refused).toEqual([expect.objectContaining({ capability: 'http' })]);
    expect(err.details).toContain(`@src/index.ts:${await sourceLocation(TOOL, "new ToolError('fetch-failed'")}`);
    expect(err.details).not.toMatch(/(^|@)plugin\.js:/m);
  });

  it('an auth plugin whose sign-in server is not in its manifest: the same, as an AuthError', async () => {
    const dir = await variant(AUTH, 'auth-without-http', (manifest) => {
      manifest.capabilities = { storage: true };
    });
    t = await createTestHost({ plugin: dir });
    const err = (await rejection(t.auth.login())) as Error & { code: string; hint: string; refused: unknown[] };
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toContain('the host refused POST https://auth.example.com: plugin `harness-auth` holds no http grant for this origin');
    expect(err.hint).toContain('Add "https://auth.example.com" to "capabilities.http"');
  });

  it('a provider plugin whose backend is not in its manifest: the same, as a ProviderError', async () => {
    const dir = await variant(PROVIDER, 'provider-without-http', (manifest) => {
      manifest.capabilities = {};
    });
    t = await createTestHost({ plugin: dir });
    const err = (await rejection(t.chat({ messages: [{ role: 'user', content: 'hi' }] }))) as Error & { code: string; hint: string; details: string };
    expect(err.code).toBe('PROVIDER_UNAVAILABLE');
    expect(err.message).toContain('the host refused POST https://llm.example.com: plugin `harness-provider` holds no http grant for this origin');
    expect(err.hint).toContain('Add "https://llm.example.com" to "capabilities.http"');
    expect(err.details).toContain(`@src/index.ts:${await sourceLocation(PROVIDER, "new ProviderError('unavailable', `${base()}: ")}`);
  });
});

describe('plugin directories and builds', () => {
  /** A plugin directory under scratch with `files`, and the manifest `airlock`. */
  async function pluginDir(name: string, airlock: unknown, files: Record<string, string> = {}): Promise<string> {
    const dir = join(scratch, name);
    await mkdir(join(dir, 'src'), { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '0.1.0', type: 'module', ...(airlock === undefined ? {} : { airlock }) }));
    for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
    return dir;
  }

  it('names a directory that is not a plugin, and how to fix it', async () => {
    const missing = await rejection(createTestHost({ plugin: join(scratch, 'nowhere') }));
    expect(missing).toMatchObject({ code: 'PLUGIN_DIR_INVALID', message: `${join(scratch, 'nowhere')} does not exist` });
    const noPackage = await rejection(createTestHost({ plugin: fixtures }));
    expect(noPackage).toMatchObject({ code: 'PLUGIN_DIR_INVALID', message: `${fixtures} is not a plugin directory: it has no package.json` });
    expect(noPackage.hint).toContain("new URL('..', import.meta.url)");
    const noManifest = await rejection(createTestHost({ plugin: pkgDir }));
    expect(noManifest).toMatchObject({ code: 'PLUGIN_DIR_INVALID', message: `${join(pkgDir, 'package.json')} has no "airlock" manifest, so ${pkgDir} is not a plugin` });
    // A manifest that is there but wrong is the host's ManifestError, naming the field.
    const invalid = await rejection(createTestHost({ plugin: await pluginDir('bad-kind', { kind: 'gadget' }) }));
    expect(invalid.code).toBe('MANIFEST_INVALID');
    expect(invalid.message).toContain('airlock.kind');
  });

  it('reports a failed build as BUILD_FAILED with the compiler output', async () => {
    const dir = await pluginDir('broken', { kind: 'tool' }, { 'src/index.ts': "const n: number = 'one';\nexport default n;\n" });
    const err = await rejection(createTestHost({ plugin: dir }));
    expect(TestHostError.isInstance(err)).toBe(true);
    expect(err.code).toBe('BUILD_FAILED');
    expect(err.message).toContain(`building the plugin in ${dir} failed (TYPE_ERROR)`);
    expect(err.message).toContain("src/index.ts:1:7: error TS2322: Type 'string' is not assignable to type 'number'.");
    expect((err as TestHostError).details).toContain('TS2322');
    expect(err.hint).toContain('airlock-plugin build');
  });

  it('with build: false, names a missing component instead of building it', async () => {
    const dir = await pluginDir('unbuilt', { kind: 'tool' }, { 'src/index.ts': 'export default 1;\n' });
    expect(await isStale(dir)).toBe(true);
    const err = await rejection(createTestHost({ plugin: dir, build: false }));
    expect(err).toMatchObject({ code: 'COMPONENT_MISSING', message: `plugin \`unbuilt\` has no component at ${join(dir, 'dist/plugin.wasm')}, and build is false` });
  });

  it('marks a component the build cache already held as up to date', { timeout: 180_000 }, async () => {
    const dir = join(scratch, 'cached');
    await cp(TOOL, dir, { recursive: true, preserveTimestamps: true });
    const component = join(dir, 'dist/plugin.wasm');
    // Older than the SDK it bundles, as after the SDK is rebuilt.
    const past = new Date('2020-01-01T00:00:00Z');
    await utimes(component, past, past);
    expect(await isStale(dir)).toBe(true);
    await buildIfStale(dir, { skipTypecheck: true });
    expect(await isStale(dir)).toBe(false);
    // Now the cache records this output as current, so the build leaves it alone.
    await utimes(component, past, past);
    expect(await buildIfStale(dir, { skipTypecheck: true })).toMatchObject({ cached: true });
    expect(await isStale(dir)).toBe(false);
  });

  it('uses a component that is up to date, rebuilds it when its source changes, and reload() runs the new one', { timeout: 180_000 }, async () => {
    const dir = join(scratch, 'reloaded');
    // The built fixture, copied: the component is newer than its sources.
    await cp(TOOL, dir, { recursive: true, preserveTimestamps: true });
    expect(await isStale(dir)).toBe(false);
    expect(await buildIfStale(dir)).toBeUndefined();
    t = await createTestHost({ plugin: dir, build: { skipTypecheck: true } });
    expect(await t.callTool('version')).toEqual({ version: 1 });
    await t.callTool('storage_set', { key: 'kept', value: 'yes' });
    const first = t.info.sha256;

    const source = join(dir, 'src/index.ts');
    await writeFile(source, (await readFile(source, 'utf8')).replace('const VERSION = 1;', 'const VERSION = 2;'));
    expect(await isStale(dir)).toBe(true);
    const info = await t.reload();
    expect(info.sha256).not.toBe(first);
    expect(await t.callTool('version')).toEqual({ version: 2 });
    expect(await t.callTool('storage_get', { key: 'kept' })).toEqual({ value: 'yes' });
  });
});

/** A streamed body of server-sent events, one `data:` line per event. */
const sse = (events: unknown[]) => events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');

describe('a provider plugin', () => {
  const ask = (content: string) => ({ messages: [{ role: 'user' as const, content }] });

  it('streams from a fake SSE origin: text, tool calls, usage and finish reason collected', async () => {
    const body = sse([{ text: 'Hel' }, { text: 'lo' }, { tool: { index: 0, id: 'call_1', name: 'count', arguments: '{"a"' } }, { tool: { index: 0, arguments: ':1}' } }, { usage: { promptTokens: 3, completionTokens: 2 } }, '[DONE]']);
    t = await createTestHost({
      plugin: PROVIDER,
      fetch: {
        'https://llm.example.com': () =>
          // Cut the stream at arbitrary places, as a network would.
          new Response(
            new ReadableStream({
              start(controller) {
                for (let i = 0; i < body.length; i += 7) controller.enqueue(new TextEncoder().encode(body.slice(i, i + 7)));
                controller.close();
              },
            }),
            { headers: { 'content-type': 'text/event-stream' } },
          ),
      },
    });
    const result = await t.streamChat(ask('hi'));
    expect(result.text).toBe('Hello');
    expect(result.toolCalls).toEqual([{ id: 'call_1', name: 'count', arguments: '{"a":1}' }]);
    expect(result.finishReason).toBe('tool-calls');
    expect(result.usage).toEqual({ promptTokens: 3, completionTokens: 2 });
    expect(result.done).toMatchObject({ type: 'done', provider: 'harness-provider', model: 'fake-1' });
    expect(result.events.map((e) => e.type)).toEqual(['text-delta', 'text-delta', 'tool-call-delta', 'tool-call-delta', 'usage', 'done']);
    expect(result.stopped).toBe(false);
    expect(JSON.parse(t.requests[0]!.body)).toEqual({ model: 'fake-1', messages: [{ role: 'user', content: 'hi' }] });
  });

  it('delivers each event as the handler sends it, and cancels the handler\'s stream when the test stops reading', async () => {
    let seenFirst!: () => void;
    const firstSeen = new Promise<void>((resolve) => (seenFirst = resolve));
    let cancelled!: () => void;
    const upstreamCancelled = new Promise<void>((resolve) => (cancelled = resolve));
    const encode = (e: unknown) => new TextEncoder().encode(sse([e]));
    t = await createTestHost({
      plugin: PROVIDER,
      fetch: {
        'https://llm.example.com': () =>
          new Response(
            new ReadableStream({
              async start(controller) {
                controller.enqueue(encode({ text: 'a' }));
                // The second event waits until the test has the first: a buffered body would never get here.
                await firstSeen;
                controller.enqueue(encode({ text: 'b' }));
                // Then the backend goes quiet, without ending the stream.
              },
              cancel: () => cancelled(),
            }),
            { headers: { 'content-type': 'text/event-stream' } },
          ),
      },
    });
    const result = await t.streamChat(ask('hi'), {
      until: (event, collected) => {
        if (collected.text === 'a') seenFirst();
        return collected.text === 'ab';
      },
    });
    expect(result).toMatchObject({ text: 'ab', stopped: true, finishReason: undefined, done: undefined });
    await upstreamCancelled;
    await vi.waitFor(() => expect(t!.logs).toContainEqual({ level: 'info', message: 'stream closed', plugin: 'harness-provider' }));
  });

  it('rejects a stream aborted by its signal with the signal\'s reason', async () => {
    t = await createTestHost({
      plugin: PROVIDER,
      fetch: { 'https://llm.example.com': () => new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode(sse([{ text: 'x' }]))) })) },
    });
    const controller = new AbortController();
    const err = await rejection(t.streamChat(ask('hi'), { signal: controller.signal, until: () => void controller.abort(new Error('enough')) }));
    expect(err.message).toBe('enough');
  });

  it('answers chat() and models() for this provider', async () => {
    t = await createTestHost({ plugin: PROVIDER, config: { baseUrl: 'https://llm.internal.example' }, fetch: { 'https://llm.internal.example': async (req) => Response.json({ content: `echo ${((await req.json()) as { messages: { content: string }[] }).messages[0]!.content}` }) } });
    expect((await t.chat(ask('ping'))).message).toMatchObject({ role: 'assistant', content: 'echo ping' });
    expect((await t.models()).map((m) => m.id)).toEqual(['fake-1']);
    expect(t.host.providers()[0]!.displayName).toBe('Harness (llm.internal.example)');
  });
});

describe('collectStream', () => {
  async function* events(list: ChatStreamEvent[]) {
    yield* list;
  }

  it('assembles tool calls by index and keeps the last usage', async () => {
    const result = await collectStream(
      events([
        { type: 'tool-call-delta', index: 1, id: 'b', name: 'second', arguments: '{' },
        { type: 'tool-call-delta', index: 0, id: 'a', name: 'first', arguments: '[]' },
        { type: 'tool-call-delta', index: 1, arguments: '}' },
        { type: 'usage', usage: { promptTokens: 1, completionTokens: 1 } },
        { type: 'usage', usage: { promptTokens: 1, completionTokens: 5 } },
        { type: 'done', finishReason: 'tool-calls', provider: 'p', model: 'm', redactions: 0 },
      ]),
    );
    expect(result.toolCalls).toEqual([
      { id: 'a', name: 'first', arguments: '[]' },
      { id: 'b', name: 'second', arguments: '{}' },
    ]);
    expect(result.usage).toEqual({ promptTokens: 1, completionTokens: 5 });
    expect(result).toMatchObject({ text: '', finishReason: 'tool-calls', stopped: false });
  });

  it('stops when until says so, leaving the loop (which cancels the stream)', async () => {
    let closed = false;
    async function* stream(): AsyncGenerator<ChatStreamEvent> {
      try {
        for (let i = 0; ; i++) yield { type: 'text-delta', text: String(i) };
      } finally {
        closed = true;
      }
    }
    const result = await collectStream(stream(), { until: (_e, c) => c.events.length === 3 });
    expect(result).toMatchObject({ text: '012', stopped: true });
    expect(closed).toBe(true);
  });
});

describe('an auth plugin', () => {
  /** A device-flow server: pending until `approve`d or `deny`d. */
  function authServer() {
    const state = { decision: undefined as 'approved' | 'denied' | undefined };
    const handler: FetchHandler = async (req) => {
      const path = new URL(req.url).pathname;
      if (path === '/device') return Response.json({ device_code: 'dc-1', user_code: 'WXYZ-1234', verification_uri: 'https://auth.example.com/activate', expires_in: 600, interval: 1 });
      if (path === '/token') {
        if (state.decision === 'approved') return Response.json({ access_token: 'at-0123456789', account: 'ada' });
        return Response.json({ error: state.decision === 'denied' ? 'access_denied' : 'authorization_pending' }, { status: 400 });
      }
      return new Response('not found', { status: 404 });
    };
    return { state, handler };
  }

  it('deviceLogin: approve gets the code and URL, the host polls until the server says yes', async () => {
    const server = authServer();
    t = await createTestHost({ plugin: AUTH, fetch: { 'https://auth.example.com': server.handler } });
    const shown: unknown[] = [];
    const status = await t.deviceLogin({
      approve: (authorization) => {
        shown.push({ ...authorization });
        server.state.decision = 'approved';
      },
    });
    expect(shown).toEqual([{ userCode: 'WXYZ-1234', verificationUri: 'https://auth.example.com/activate', verificationUriComplete: undefined, expiresAt: expect.any(Number), interval: 1 }]);
    expect(status).toMatchObject({ signedIn: true, account: 'ada', method: 'device-flow' });
    expect(t.requests.map((r) => `${r.method} ${new URL(r.url).pathname} ${r.status}`)).toEqual(['POST /device 200', 'POST /token 200']);
    expect((await t.auth.token()).accessToken).toBe('at-0123456789');
    expect(await t.storage.getText('token')).toBe('at-0123456789');
  });

  it('deviceLogin rejects with the host\'s AUTH_DENIED when the user says no', async () => {
    const server = authServer();
    t = await createTestHost({ plugin: AUTH, fetch: { 'https://auth.example.com': server.handler } });
    const err = await rejection(t.deviceLogin({ approve: () => void (server.state.decision = 'denied') }));
    expect(AirlockError.isInstance(err)).toBe(true);
    expect(err.code).toBe('AUTH_DENIED');
    expect((await t.auth.status()).signedIn).toBe(false);
  });

  it('deviceLogin rejects with approve\'s error and stops polling', async () => {
    const server = authServer();
    t = await createTestHost({ plugin: AUTH, fetch: { 'https://auth.example.com': server.handler } });
    const err = await rejection(
      t.deviceLogin({
        approve: () => {
          throw new Error('the approval page did not load');
        },
      }),
    );
    expect(err.message).toBe('the approval page did not load');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(t.requests.map((r) => new URL(r.url).pathname)).toEqual(['/device']);
  });

  it('deviceLogin stops when the signal aborts', async () => {
    const server = authServer();
    t = await createTestHost({ plugin: AUTH, fetch: { 'https://auth.example.com': server.handler } });
    const controller = new AbortController();
    const err = await rejection(t.deviceLogin({ signal: controller.signal, approve: () => controller.abort(new Error('cancelled by the test')) }));
    expect(err.message).toBe('cancelled by the test');
  });

  it('loads the plugins the one under test needs first; deviceLogin signs in with one of them', async () => {
    const server = authServer();
    t = await createTestHost({ plugin: TOOL, plugins: [{ plugin: AUTH, storage: { account: 'seeded' } }], fetch: { 'https://auth.example.com': server.handler } });
    expect(t.host.plugins().map((p) => p.id)).toEqual(['harness-auth', 'harness-tool']);
    expect(t.id).toBe('harness-tool');
    expect(t.tools().every((tool) => tool.plugin === 'harness-tool')).toBe(true);
    expect(await t.storageOf('harness-auth').getText('account')).toBe('seeded');
    const wrong = await rejection(t.deviceLogin());
    expect(wrong).toMatchObject({ code: 'WRONG_KIND', message: 'deviceLogin: `harness-tool` is a tool plugin, not an auth plugin' });
    const status = await t.deviceLogin({ plugin: 'harness-auth', approve: () => void (server.state.decision = 'approved') });
    expect(status.signedIn).toBe(true);
    expect(await t.storageOf('harness-auth').getText('token')).toBe('at-0123456789');
  });
});

/**
 * The management API of `@airlock/serve` and its OpenAPI document: install →
 * list → call → disable, seen by a connected MCP client as list_changed;
 * update with its capability difference and an explicit grant; the grant,
 * verify, remove, the event stream, and errors as problem+json. Every answer
 * is checked against the schema the document gives it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createHost, type Host } from '@airlock/host';
import { createServer, TokenStore, type AirlockServer } from '@airlock/serve';
import { pluginVariant } from '@airlock/test-utils';
import { connectListening } from './mcp-client.js';

const notes = new URL('../../../plugins/notes', import.meta.url).pathname;

let home: string;
let host: Host;
let server: AirlockServer;
let url: string;
let manage: string;
let tools: string;
let metrics: string;
let spec: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }>; $ref?: string }> }>>; components: Record<string, unknown> };

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-serve-manage-'));
  host = await createHost({ home, logger: () => {} });
  const store = await TokenStore.open(home);
  manage = (await store.create({ scopes: ['manage'] })).token;
  tools = (await store.create({ scopes: ['tools'] })).token;
  metrics = (await store.create({ scopes: ['metrics'] })).token;
  server = createServer(host, { tokens: store });
  ({ url } = await server.listen());
  spec = (await (await fetch(`${url}/openapi.json`)).json()) as typeof spec;
});

afterAll(async () => {
  await server.close();
  await host.close();
  await rm(home, { recursive: true, force: true });
});

const ajv = new Ajv2020({ strict: false });

/** Check a response body against the schema the document gives (path, method, status). */
async function conforms(res: Response, path: string, method: string): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  const operation = spec.paths[path]?.[method];
  expect(operation, `${method.toUpperCase()} ${path} is documented`).toBeDefined();
  let response = operation!.responses[String(res.status)];
  expect(response, `${method.toUpperCase()} ${path} documents status ${res.status}`).toBeDefined();
  if (response!.$ref) response = (spec.components.responses as Record<string, typeof response>)[response!.$ref.split('/').pop()!];
  const [, media] = Object.entries(response!.content ?? {})[0] ?? [];
  if (media) {
    const validate = ajv.compile({ ...(media.schema as object), components: spec.components });
    expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
  }
  return body;
}

const api = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
  fetch(`${url}/api${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${init.token ?? manage}`, 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(spec as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('names every route the server answers, and the server answers every route it names', async () => {
    const answered = ['/healthz', '/readyz', '/openapi.json', '/mcp', '/v1/models', '/v1/chat/completions', '/api/plugins', '/api/plugins/{id}', '/api/plugins/{id}/update', '/api/plugins/{id}/enable', '/api/plugins/{id}/disable', '/api/plugins/{id}/grant', '/api/verify', '/api/events', '/metrics'];
    expect(Object.keys(spec.paths).sort()).toEqual([...answered].sort());
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const method of Object.keys(methods)) {
        if (path === '/api/events' || (path === '/mcp' && method === 'get')) continue; // streams
        const res = await fetch(`${url}${path.replace('{id}', 'nothing-here')}`, { method: method.toUpperCase(), headers: { authorization: `Bearer ${manage}` } });
        // A route the server does not have is a 404 NOT_FOUND (unknown_url under /v1); a missing plugin is another code.
        const text = await res.text();
        expect(text, `${method.toUpperCase()} ${path}`).not.toMatch(/"code":"(NOT_FOUND|unknown_url)"/);
      }
    }
  });
});

describe('managing plugins over HTTP', () => {
  it('installs, lists, serves, disables and enables a plugin; a connected MCP client hears each change', async () => {
    const client = await connectListening(url, tools, { name: 'watcher', version: '1.0.0' });
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    expect((await client.listTools()).tools).toEqual([]);

    const refused = await api('/plugins', { method: 'POST', body: { source: notes } });
    expect(refused.status).toBe(400);
    expect((await conforms(refused, '/api/plugins', 'post')).code).toBe('CONSENT_REQUIRED');

    const installed = await api('/plugins', { method: 'POST', body: { source: notes, grant: 'manifest' } });
    expect(installed.status).toBe(201);
    expect(await conforms(installed, '/api/plugins', 'post')).toMatchObject({ id: 'notes', loaded: true, tools: expect.arrayContaining(['notes.add_note']) });
    await vi.waitFor(() => expect(changes).toBeGreaterThan(0), { timeout: 30_000, interval: 20 });
    expect((await client.callTool({ name: 'notes.count_words', arguments: { text: 'installed over http' } })).structuredContent).toMatchObject({ words: 3 });

    const listed = await conforms(await api('/plugins'), '/api/plugins', 'get');
    expect(listed.plugins).toEqual([expect.objectContaining({ id: 'notes', enabled: true, loaded: true, state: 'active', restarts: 0 })]);

    const seen = changes;
    const disabled = await conforms(await api('/plugins/notes/disable', { method: 'POST' }), '/api/plugins/{id}/disable', 'post');
    expect(disabled).toMatchObject({ enabled: false, loaded: false, state: 'disabled' });
    await vi.waitFor(() => expect(changes).toBeGreaterThan(seen), { timeout: 30_000, interval: 20 });
    expect((await client.listTools()).tools).toEqual([]);

    expect(await conforms(await api('/plugins/notes/enable', { method: 'POST' }), '/api/plugins/{id}/enable', 'post')).toMatchObject({ enabled: true, loaded: true });
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('notes.get_note');
    await client.close();
  });

  it('updates only with a grant that covers what the new version asks for more', async () => {
    const v2 = await pluginVariant(notes, join(home, 'notes-2'), (pkg) => {
      (pkg as { version?: string }).version = '2.0.0';
      pkg.airlock.capabilities = { ...(pkg.airlock.capabilities as object), http: ['https://api.example.com'] };
    });
    const asked = await api('/plugins/notes/update', { method: 'POST', body: { source: v2 } });
    expect(asked.status).toBe(409);
    const problem = await conforms(asked, '/api/plugins/{id}/update', 'post');
    expect(problem).toMatchObject({ code: 'CONSENT_REQUIRED', to: '2.0.0', added: { http: ['https://api.example.com'] } });
    const updated = await api('/plugins/notes/update', { method: 'POST', body: { source: v2, grant: 'manifest' } });
    expect(updated.status).toBe(200);
    expect(await conforms(updated, '/api/plugins/{id}/update', 'post')).toMatchObject({ to: '2.0.0', plugin: { version: '2.0.0', loaded: true } });
    expect(host.plugins().find((p) => p.id === 'notes')?.version).toBe('2.0.0');
  });

  it('serves per-plugin metrics to a token with the metrics scope: Prometheus text, or JSON', async () => {
    const before = (await host.metrics()).find((m) => m.id === 'notes')!.calls;
    for (let i = 0; i < 3; i++) await host.callTool('notes.count_words', { text: 'one two' });
    const refused = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${manage}` } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe('TOKEN_SCOPE');

    const text = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metrics}` } });
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await text.text();
    expect(body).toContain('# TYPE airlock_plugin_calls_total counter\n');
    expect(body).toContain(`airlock_plugin_calls_total{plugin="notes"} ${before + 3}\n`);
    expect(body).toContain('airlock_plugin_state{plugin="notes",state="active"} 1\n');

    const json = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metrics}`, accept: 'application/json' } });
    const read = (await json.json()) as { plugins: { id: string; calls: number; storage?: { keys: number } }[] };
    const schema = (spec.paths['/metrics']!.get!.responses['200']!.content!['application/json']!.schema) as object;
    const validate = ajv.compile({ ...schema, components: spec.components });
    expect(validate(read), JSON.stringify(validate.errors)).toBe(true);
    expect(read.plugins).toEqual([expect.objectContaining({ id: 'notes', calls: before + 3, state: 'active', storage: expect.objectContaining({ keys: expect.any(Number) }) })]);
  });

  it('replaces the grant of a running plugin, verifies, streams events, and removes', async () => {
    const events: string[] = [];
    const controller = new AbortController();
    const stream = await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${manage}` }, signal: controller.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream.body!) for (const m of decoder.decode(chunk).matchAll(/^event: (\S+)$/gm)) events.push(m[1]!);
    })().catch(() => {});

    const current = (await (await api('/plugins/notes')).json()) as { grant: Record<string, unknown> };
    const regranted = await api('/plugins/notes/grant', { method: 'PUT', body: { ...current.grant, storage: { quotaBytes: 2 * 1024 * 1024 } } });
    expect(await conforms(regranted, '/api/plugins/{id}/grant', 'put')).toMatchObject({ grant: { storage: { quotaBytes: 2 * 1024 * 1024 } }, loaded: true });
    // Without a capability it asks for, the plugin could not run: refused, and the grant stays.
    const crippling = await api('/plugins/notes/grant', { method: 'PUT', body: { ...current.grant, http: [] } });
    expect(crippling.status).toBe(422);
    expect((await conforms(crippling, '/api/plugins/{id}/grant', 'put')).detail).toContain('the grant was not changed');
    expect(((await (await api('/plugins/notes')).json()) as { grant: { http: string[] } }).grant.http).toEqual(['https://api.example.com']);

    const verified = await conforms(await api('/verify'), '/api/verify', 'get');
    expect(verified.reports).toEqual([expect.objectContaining({ id: 'notes', ok: true })]);

    const removed = await api('/plugins/notes?purge=true', { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect(await conforms(removed, '/api/plugins/{id}', 'delete')).toMatchObject({ id: 'notes', purged: true });
    // The removal unloads it: `plugin-state` to `stopping` comes first.
    await vi.waitFor(() => expect(events).toEqual(expect.arrayContaining(['plugin-granted', 'plugin-reloaded', 'plugin-state', 'plugin-removed'])), { timeout: 30_000, interval: 20 });
    controller.abort();
    await reading;
  });

  it('answers errors as problem+json with the host’s codes, and refuses other scopes', async () => {
    const missing = await api('/plugins/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect((await conforms(missing, '/api/plugins/{id}', 'get')).code).toBe('PLUGIN_NOT_INSTALLED');
    const bad = await api('/plugins', { method: 'POST', body: { source: join(home, 'no-such-dir'), grant: 'manifest' } });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect((await conforms(bad, '/api/plugins', 'post')).code).toMatch(/^[A-Z_]+$/);
    const wrongScope = await api('/plugins', { token: tools });
    expect(wrongScope.status).toBe(403);
    await conforms(wrongScope, '/api/plugins', 'get');
  });
});

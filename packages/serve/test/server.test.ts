/**
 * The doors of the HTTP server, with a host that has no plugin loaded: health
 * checks, tokens and their scopes, DNS rebinding, body size, malformed
 * JSON-RPC, the session limit and the per-token rate limit. Every refusal is
 * logged, never with the token.
 */
import { request } from 'node:http';
import { connect as connectSocket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHost, type Host, type LogEntry } from '@airlock/host';
import { createServer, TokenStore, type AirlockServer, type ServerOptions } from '../src/index.js';

let home: string;
let host: Host;
let store: TokenStore;
let tools: string;
let chatOnly: string;
const servers: AirlockServer[] = [];

/** A JSON body: a problem (RFC 9457) or a JSON-RPC error. */
const answer = async (res: Response) => (await res.json()) as { status?: number; code?: string; detail?: string; error?: { code: number } };

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-serve-doors-'));
  host = await createHost({ home, logger: () => {} });
  store = await TokenStore.open(home);
  tools = (await store.create({ scopes: ['tools'], name: 'test client' })).token;
  chatOnly = (await store.create({ scopes: ['chat'] })).token;
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await host.close();
  await rm(home, { recursive: true, force: true });
});

async function serving(options: ServerOptions = {}): Promise<{ url: string; logs: LogEntry[] }> {
  const logs: LogEntry[] = [];
  const server = createServer(host, { tokens: store, logger: (e) => logs.push(e), ...options });
  servers.push(server);
  const { url } = await server.listen();
  return { url, logs };
}

const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/mcp`, { method: 'POST', body, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${tools}`, ...headers } });

describe('the doors of the HTTP server', () => {
  it('answers health checks without a token', async () => {
    const { url } = await serving();
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${url}/readyz`)).json()).toMatchObject({ status: 'ready', plugins: 0, sessions: 0 });
  });

  it('refuses a request without a token (401), and one whose token lacks the scope (403), as problem+json, and logs it without the token', async () => {
    const { url, logs } = await serving();
    const none = await post(url, initialize, { authorization: '' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(none.headers.get('content-type')).toBe('application/problem+json');
    expect(await answer(none)).toMatchObject({ status: 401, code: 'TOKEN_REQUIRED' });
    const forged = await post(url, initialize, { authorization: `Bearer ${tools.slice(0, -4)}AAAA` });
    expect(forged.status).toBe(401);
    const wrongScope = await post(url, initialize, { authorization: `Bearer ${chatOnly}` });
    expect(wrongScope.status).toBe(403);
    expect((await answer(wrongScope)).detail).toContain('airlock token create --scope tools');
    const refusals = logs.filter((l) => l.message.startsWith('refused')).map((l) => l.message);
    expect(refusals).toHaveLength(3);
    for (const line of refusals) {
      expect(line).not.toContain(tools.slice(17));
      expect(line).not.toContain(chatOnly.slice(17));
    }
  });

  it('refuses every token when it has no token store', async () => {
    const { url } = await serving({ tokens: undefined });
    expect((await post(url, initialize)).status).toBe(401);
  });

  it('refuses a Host or Origin that is not loopback (DNS rebinding), unless allowed', async () => {
    const { url } = await serving();
    const withHost = (target: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        // fetch will not send a forged Host header; Node's http client will.
        const req = request(target, { headers: { host } }, (res) => resolve(res.statusCode!));
        req.on('error', reject);
        req.end();
      });
    expect(await withHost(`${url}/healthz`, 'attacker.example:80')).toBe(403);
    expect(await withHost(`${url}/healthz`, `localhost:${new URL(url).port}`)).toBe(200);
    const fromPage = await post(url, initialize, { origin: 'https://attacker.example' });
    expect(fromPage.status).toBe(403);
    expect((await answer(fromPage)).code).toBe('ORIGIN_NOT_ALLOWED');
    expect((await post(url, initialize, { origin: 'http://localhost:3000' })).status).toBe(200);

    const open = await serving({ allowedHosts: ['airlock.internal'], allowedOrigins: ['https://app.example'] });
    expect(await withHost(`${open.url}/healthz`, 'airlock.internal:7345')).toBe(200);
    expect((await post(open.url, initialize, { origin: 'https://app.example' })).status).toBe(200);
  });

  it('answers oversized bodies, malformed JSON, deeply nested JSON and unknown methods with clear errors, and keeps serving', async () => {
    const { url } = await serving({ maxBodyBytes: 64 * 1024 });
    const big = await post(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { pad: 'x'.repeat(100 * 1024) } }));
    expect(big.status).toBe(413);
    expect((await answer(big)).code).toBe('BODY_TOO_LARGE');
    const malformed = await post(url, '{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(malformed.status).toBe(400);
    expect((await answer(malformed)).error?.code).toBe(-32700);
    const deep = await post(url, `${'['.repeat(10_000)}${']'.repeat(10_000)}`);
    expect(deep.status).toBe(400);
    const unknownMethod = await post(url, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/explode' }));
    expect(unknownMethod.status).toBe(400);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('refuses a session beyond the limit, and one session to another token', async () => {
    const { url } = await serving({ maxSessions: 1 });
    const first = await post(url, initialize);
    expect(first.status).toBe(200);
    const session = first.headers.get('mcp-session-id')!;
    expect(session).toBeTruthy();
    const second = await post(url, initialize);
    expect(second.status).toBe(503);
    expect((await answer(second)).code).toBe('TOO_MANY_SESSIONS');
    const other = (await store.create({ scopes: ['tools'] })).token;
    const borrowed = await post(url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), { authorization: `Bearer ${other}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' });
    expect(borrowed.status).toBe(404);
    // Ending the session frees its place.
    const ended = await fetch(`${url}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${tools}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } });
    expect(ended.status).toBe(200);
    expect((await post(url, initialize)).status).toBe(200);
  });

  it('limits each token to its requests per minute, with Retry-After', async () => {
    const { url, logs } = await serving({ rateLimitPerMinute: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(url, JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/list' }))).status);
    expect(statuses.slice(0, 3)).toEqual([400, 400, 400]);
    expect(statuses[3]).toBe(429);
    expect(logs.some((l) => l.message.includes('is over 3 requests a minute'))).toBe(true);
  });
});

describe('slow clients', () => {
  /** A raw connection that sends `head`, then a byte of body every `everyMs`; resolves when the server closes it. */
  function trickle(url: string, head: string, everyMs: number): Promise<string> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      let received = '';
      const socket = connectSocket(Number(port), hostname, () => socket.write(head));
      const timer = setInterval(() => socket.writable && socket.write('x'), everyMs);
      socket.on('data', (d) => (received += d.toString()));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(timer);
        resolve(received);
      });
      socket.on('timeout', () => reject(new Error('socket timeout')));
    });
  }

  it('cuts off a client that sends its body too slowly (slowloris), and keeps answering meanwhile', async () => {
    const { url } = await serving({ requestTimeoutMs: 1500 });
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${tools}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
    const slow = Array.from({ length: 5 }, () => trickle(url, head, 200));
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const answers = await Promise.all(slow);
    // Node answers 408 Request Timeout, or just closes the connection.
    for (const answer of answers) expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('cuts off a client that never finishes its headers', async () => {
    const { url } = await serving({ requestTimeoutMs: 1500 });
    const answer = await trickle(url, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 200);
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
  });
});

describe('tokens', () => {
  it('keeps only digests, verifies the whole token, and forgets a revoked one', async () => {
    const own = await TokenStore.open(await mkdtemp(join(home, 'tokens-')));
    const { token, record } = await own.create({ scopes: ['tools', 'manage'], name: 'ci' });
    expect(await own.verify(token)).toMatchObject({ id: record.id, scopes: ['tools', 'manage'] });
    expect(await own.verify(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(await own.verify('alk_nothing')).toBeUndefined();
    expect(JSON.stringify(own.list())).not.toContain(token);
    expect(await own.revoke('ci')).toBe(true);
    expect(await own.verify(token)).toBeUndefined();
    await expect(own.create({ scopes: [] })).rejects.toMatchObject({ code: 'HOST_OPTIONS_INVALID' });
  });

  it('sees a token another process made, once its file changed', async () => {
    const dir = await mkdtemp(join(home, 'tokens-'));
    const server = await TokenStore.open(dir);
    const cli = await TokenStore.open(dir);
    const { token } = await cli.create({ scopes: ['tools'] });
    await expect.poll(() => server.verify(token), { timeout: 10_000, interval: 100 }).toBeDefined();
  });
});

/**
 * `createServer(host, options)`: the host's plugins over HTTP. MCP Streamable
 * HTTP at `/mcp`, health at `/healthz` and `/readyz`. Every other route needs
 * a bearer token with the route's scope; the Host and Origin headers are
 * checked against DNS rebinding; request bodies are capped. `fetch` serves a
 * web-standard Request, so an integrator can mount it in their own server;
 * `listen` runs it on Node's HTTP (or HTTPS) server.
 */
import { prometheusText } from './metrics.js';
import { randomUUID } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Host, LogEntry } from '@airlock/host';
import { McpHub } from './mcp.js';
import { problem } from './problem.js';
import type { ToolPolicy } from './policy.js';
import { chatCompletions, listModels, openAIError, type ChatBody } from './openai.js';
import { manageRoutes } from './manage.js';
import { OPENAPI } from './openapi.js';
import { isScope, type Scope, type TokenRecord, type TokenStore } from './tokens.js';

export interface ServerOptions {
  /**
   * Tokens that may use the server. Every route but the health checks needs
   * one, with the route's scope; without a store, every such request is
   * refused (401).
   */
  tokens?: TokenStore;
  /** Host names (Host header) accepted besides the loopback names. Add the name you serve under when not on loopback. */
  allowedHosts?: string[];
  /** Origins (Origin header, sent by browsers) accepted besides loopback ones. */
  allowedOrigins?: string[];
  /** Largest request body, in bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** MCP sessions open at once (default 64); past it, new sessions are refused with 503 until one ends or idles out. */
  maxSessions?: number;
  /** An MCP session unused this long is closed (default 30 minutes). */
  sessionIdleMs?: number;
  /** Requests per minute per token (default 600); past it, 429 with Retry-After. */
  rateLimitPerMinute?: number;
  /** A request must arrive whole (headers and body) within this (default 30 s): a slow client is cut off. Its headers, within a third of it. */
  requestTimeoutMs?: number;
  /** Where refusals and server events are written; tokens never appear in them. */
  logger?: (entry: LogEntry) => void;
  /** Which tool calls ask the user first (see `readToolPolicy`); default: `dangerous` tools. */
  policy?: ToolPolicy;
}

export interface ListenOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
  /** PEM key and certificate: serve HTTPS. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface AirlockServer {
  /** Answer one request (mount this in any web-standard server). */
  fetch(request: Request): Promise<Response>;
  /** Serve on a port; resolves with the address. */
  listen(options?: ListenOptions): Promise<{ url: string; port: number; hostname: string }>;
  /** The MCP sessions (HTTP and any stdio connection made with `mcp.server()`). */
  readonly mcp: McpHub;
  /** Stop listening, close every session. The host stays open. */
  close(): Promise<void>;
}

const DEFAULTS = { maxBodyBytes: 4 * 1024 * 1024, maxSessions: 64, sessionIdleMs: 30 * 60_000, rateLimitPerMinute: 600, requestTimeoutMs: 30_000 };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  const colon = hostHeader.lastIndexOf(':');
  return (colon >= 0 ? hostHeader.slice(0, colon) : hostHeader).toLowerCase();
}

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: Server;
  /** The token that opened it: no other token may use it. */
  tokenId: string;
  lastUsed: number;
}

type Env = { Variables: { token: TokenRecord } };

export function createServer(host: Host, options: ServerOptions = {}): AirlockServer {
  const o = { ...DEFAULTS, ...options };
  const log = (level: LogEntry['level'], message: string) => o.logger?.({ level, message });
  const hub = new McpHub(host, { policy: options.policy });
  const sessions = new Map<string, Session>();
  const allowedHosts = new Set([...LOOPBACK_HOSTS, ...(o.allowedHosts ?? []).map((h) => h.toLowerCase())]);
  const allowedOrigins = new Set(o.allowedOrigins ?? []);
  let closed = false;

  const app = new Hono<Env>();

  // DNS rebinding: a page on another site may reach a loopback port only under a name it controls.
  const rebinding: MiddlewareHandler<Env> = async (c, next) => {
    const hostHeader = c.req.header('host');
    if (hostHeader && !allowedHosts.has(hostnameOf(hostHeader))) {
      log('warn', `refused ${c.req.method} ${c.req.path}: Host ${JSON.stringify(hostHeader)} is not one this server answers to`);
      return problem(403, 'HOST_NOT_ALLOWED', `Host ${JSON.stringify(hostHeader)} is not allowed`);
    }
    const origin = c.req.header('origin');
    if (origin && !allowedOrigins.has(origin)) {
      let loopback = false;
      try {
        loopback = LOOPBACK_HOSTS.has(new URL(origin).hostname);
      } catch {
        // not a URL: refused below
      }
      if (!loopback) {
        log('warn', `refused ${c.req.method} ${c.req.path}: Origin ${JSON.stringify(origin)} is not allowed`);
        return problem(403, 'ORIGIN_NOT_ALLOWED', `Origin ${JSON.stringify(origin)} is not allowed`);
      }
    }
    await next();
  };

  const buckets = new Map<string, { tokens: number; at: number }>();
  /** Refusals in the route's own error shape: problem+json, or OpenAI's for /v1. */
  const refuse = (openai: boolean, status: number, code: string, detail: string, headers: Record<string, string> = {}) =>
    openai
      ? openAIError(status, detail, status === 401 ? 'invalid_request_error' : status === 429 ? 'rate_limit_error' : 'permission_error', code.toLowerCase(), null, headers)
      : problem(status, code, detail, { headers });

  const authorize = (scope: Scope, openai = false): MiddlewareHandler<Env> => async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const presented = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const record = presented && o.tokens ? await o.tokens.verify(presented) : undefined;
    if (!record) {
      log('warn', `refused ${c.req.method} ${c.req.path}: ${presented ? 'unknown or revoked token' : 'no bearer token'}`);
      return refuse(openai, 401, 'TOKEN_REQUIRED', presented ? 'the bearer token is unknown or revoked' : 'this route needs a bearer token', {
        'www-authenticate': `Bearer realm="airlock", scope="${scope}"`,
      });
    }
    if (!record.scopes.includes(scope)) {
      log('warn', `refused ${c.req.method} ${c.req.path}: token ${record.id} (${record.name}) lacks scope ${scope}`);
      return refuse(openai, 403, 'TOKEN_SCOPE', `token ${record.id} does not have the ${scope} scope; create one with \`airlock token create --scope ${scope}\``);
    }
    // A token bucket per token: rateLimitPerMinute, refilled continuously.
    const now = Date.now();
    const bucket = buckets.get(record.id) ?? { tokens: o.rateLimitPerMinute, at: now };
    bucket.tokens = Math.min(o.rateLimitPerMinute, bucket.tokens + ((now - bucket.at) * o.rateLimitPerMinute) / 60_000);
    bucket.at = now;
    buckets.set(record.id, bucket);
    if (bucket.tokens < 1) {
      const wait = Math.ceil(((1 - bucket.tokens) * 60_000) / o.rateLimitPerMinute / 1000);
      log('warn', `refused ${c.req.method} ${c.req.path}: token ${record.id} (${record.name}) is over ${o.rateLimitPerMinute} requests a minute`);
      return refuse(openai, 429, 'RATE_LIMITED', `token ${record.id} made more than ${o.rateLimitPerMinute} requests in a minute`, { 'retry-after': String(wait) });
    }
    bucket.tokens -= 1;
    c.set('token', record);
    await next();
  };

  app.use('*', rebinding);
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => (closed ? c.json({ status: 'closing' }, 503) : c.json({ status: 'ready', plugins: host.plugins().length, sessions: sessions.size })));

  const closeSession = async (id: string) => {
    const session = sessions.get(id);
    if (!session) return;
    sessions.delete(id);
    await session.server.close().catch(() => {});
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, s] of sessions) if (now - s.lastUsed > o.sessionIdleMs) void closeSession(id);
  }, Math.min(60_000, o.sessionIdleMs));
  sweep.unref();

  const jsonRpcError = (status: number, code: number, message: string) =>
    new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), { status, headers: { 'content-type': 'application/json' } });

  /** The body, read up to the cap: a Response when it is too large or not JSON (in OpenAI's shape with `openai`). */
  async function readJson(c: Context<Env>, openai = false): Promise<{ body: unknown } | Response> {
    const tooLarge = (detail: string) => (openai ? openAIError(413, detail, 'invalid_request_error', 'body_too_large') : problem(413, 'BODY_TOO_LARGE', detail));
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > o.maxBodyBytes) return tooLarge(`the body is ${declared} bytes, over the limit of ${o.maxBodyBytes}`);
    const reader = c.req.raw.body?.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (reader) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > o.maxBodyBytes) {
          await reader.cancel().catch(() => {});
          return tooLarge(`the body is over the limit of ${o.maxBodyBytes} bytes`);
        }
        chunks.push(value);
      }
    }
    try {
      return { body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
    } catch (err) {
      return openai ? openAIError(400, `the body is not JSON: ${(err as Error).message}`, 'invalid_request_error') : jsonRpcError(400, -32700, `Parse error: ${(err as Error).message}`);
    }
  }

  app.get('/openapi.json', (c) => c.json(OPENAPI));
  app.get('/metrics', authorize('metrics'), async (c) => {
    const metrics = await host.metrics();
    if ((c.req.header('accept') ?? '').includes('application/json')) return c.json({ plugins: metrics });
    return c.body(prometheusText(metrics), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  const manage = manageRoutes(host, { readJson: (c) => readJson(c as Context<Env>) });
  app.use('/api/*', authorize('manage'));
  app.route('/api', manage.app);

  app.get('/v1/models', authorize('chat', true), () => listModels(host));
  app.post('/v1/chat/completions', authorize('chat', true), async (c) => {
    const read = await readJson(c, true);
    if (read instanceof Response) return read;
    // Aborted when the caller goes away: the plugin's call or stream stops.
    return chatCompletions(host, read.body as ChatBody, c.req.raw.signal);
  });

  app.all('/mcp', authorize('tools'), async (c) => {
    const token = c.get('token');
    const id = c.req.header('mcp-session-id');
    if (id) {
      const session = sessions.get(id);
      if (!session || session.tokenId !== token.id) return jsonRpcError(404, -32001, 'Session not found: start a new one with initialize');
      session.lastUsed = Date.now();
      if (c.req.method !== 'POST') return session.transport.handleRequest(c.req.raw);
      const read = await readJson(c);
      if (read instanceof Response) return read;
      return session.transport.handleRequest(c.req.raw, { parsedBody: read.body, authInfo: { token: token.id, clientId: token.name, scopes: token.scopes } });
    }
    if (c.req.method !== 'POST') return jsonRpcError(400, -32000, 'Bad Request: no session; send initialize first');
    const read = await readJson(c);
    if (read instanceof Response) return read;
    if (!isInitializeRequest(read.body)) return jsonRpcError(400, -32000, 'Bad Request: no session; send initialize first');
    if (sessions.size >= o.maxSessions) {
      log('warn', `refused a new MCP session: ${sessions.size} are open (the limit)`);
      return problem(503, 'TOO_MANY_SESSIONS', `${sessions.size} MCP sessions are open, the limit; close one (DELETE /mcp) or wait for one to idle out`, { headers: { 'retry-after': '30' } });
    }
    const server = hub.server();
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: o.maxBodyBytes,
      onsessioninitialized: (sessionId) => {
        sessions.set(sessionId, { transport, server, tokenId: token.id, lastUsed: Date.now() });
      },
      onsessionclosed: (sessionId) => void closeSession(sessionId),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport.handleRequest(c.req.raw, { parsedBody: read.body, authInfo: { token: token.id, clientId: token.name, scopes: token.scopes } });
  });

  app.notFound((c) =>
    c.req.path.startsWith('/v1/')
      ? openAIError(404, `no route ${c.req.method} ${c.req.path}; this gateway serves GET /v1/models and POST /v1/chat/completions`, 'invalid_request_error', 'unknown_url')
      : problem(404, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}; GET /openapi.json describes the routes`),
  );
  app.onError((err) => {
    log('error', `request failed: ${err.message}`);
    return problem(500, 'INTERNAL', 'the server failed to answer; see its log');
  });

  let listening: ServerType | undefined;

  return {
    fetch: (request) => Promise.resolve(app.fetch(request)),
    mcp: hub,
    async listen(listen: ListenOptions = {}) {
      if (listening) throw new Error('the server is already listening');
      const hostname = listen.hostname ?? '127.0.0.1';
      const tls = listen.tls;
      const server = await new Promise<ServerType>((resolve, reject) => {
        const s = serve(
          {
            fetch: app.fetch,
            port: listen.port ?? 0,
            hostname,
            // Slow clients (slowloris): the whole request within requestTimeoutMs, its headers within a third
            // of it, checked every second. A response (an SSE stream) may last longer.
            serverOptions: {
              requestTimeout: o.requestTimeoutMs,
              headersTimeout: Math.ceil(o.requestTimeoutMs / 3),
              connectionsCheckingInterval: Math.min(1000, Math.ceil(o.requestTimeoutMs / 3)),
              ...(tls ? { key: tls.key, cert: tls.cert } : {}),
            },
            ...(tls ? { createServer: createHttpsServer } : {}),
          },
          () => resolve(s),
        );
        s.once('error', reject);
      });
      listening = server;
      const { port } = server.address() as AddressInfo;
      const shown = hostname.includes(':') ? `[${hostname}]` : hostname;
      return { url: `${tls ? 'https' : 'http'}://${shown}:${port}`, port, hostname };
    },
    async close() {
      closed = true;
      clearInterval(sweep);
      manage.close();
      await Promise.all([...sessions.keys()].map(closeSession));
      await hub.close();
      const server = listening;
      listening = undefined;
      if (server) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
      }
    },
  };
}



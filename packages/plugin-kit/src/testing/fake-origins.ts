/**
 * Fake origins: one loopback HTTP server per faked origin, answering with a
 * handler that takes a WHATWG Request and returns a Response. The host's
 * `connectTo` sends a granted origin's connections to its server; the grant
 * check still sees the plugin's own URL.
 */
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { Logger } from '@airlock/host';
import { TestHostError } from './errors.js';

/** Answers every request to one origin. Throwing answers 500 with the message. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** A handler, or the URL of a server on this machine to send the origin's requests to (`http://127.0.0.1:PORT`; a path is ignored). */
export type FakeOrigin = FetchHandler | string;

/** A request that reached a fake origin's handler. */
export interface FakeOriginRequest {
  /** The faked origin, e.g. `https://api.example.com`. */
  origin: string;
  method: string;
  /** The URL the plugin asked for: origin, path and query. */
  url: string;
  /** Header names lowercased; repeated headers joined with `, `. Includes `host`. */
  headers: Record<string, string>;
  /** The body as UTF-8 text (see `bytes` for binary bodies). */
  body: string;
  bytes: Uint8Array;
  /** The status answered; undefined while the handler runs. */
  status: number | undefined;
  /** What the handler threw (then `status` is 500). */
  error?: string;
}

export interface FakeOrigins {
  /** For HostOptions.connectTo: each origin and the loopback URL that serves it. */
  connectTo: Record<string, string>;
  /** Stop the servers, cutting open connections and streams. */
  close(): Promise<void>;
}

/** The normalized origin of a `fetch` table key, or a FAKE_ORIGIN_INVALID. */
function originOf(key: string): string {
  const url = URL.canParse(key) ? new URL(key) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new TestHostError('FAKE_ORIGIN_INVALID', `fetch: ${JSON.stringify(key)} is not an origin`, {
      hint: 'Keys of the fetch table are origins: scheme, host and port only, e.g. "https://api.example.com" (the handler sees every path under it).',
    });
  }
  return url.origin;
}

/** A forwarding target, checked: plain HTTP on a loopback address. */
function forwardTarget(origin: string, target: string): string {
  const url = URL.canParse(target) ? new URL(target) : undefined;
  const host = url?.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || (host !== undefined && isIP(host) === 4 && host.startsWith('127.'));
  if (!url || url.protocol !== 'http:' || !loopback) {
    throw new TestHostError('FAKE_ORIGIN_INVALID', `fetch: ${origin} is mapped to ${JSON.stringify(target)}, which is not a plain http:// URL of a server on this machine`, {
      hint: 'Map an origin to a handler `(request) => Response`, or to the URL of a loopback server your test started (e.g. `server.url`, "http://127.0.0.1:PORT").',
    });
  }
  return url.origin;
}

/** Start a server for each handler of `table`; forwarded origins need none. Requests are appended to `requests`. */
export async function startFakeOrigins(table: Record<string, FakeOrigin>, requests: FakeOriginRequest[], log: Logger): Promise<FakeOrigins> {
  if (typeof table !== 'object' || table === null) throw new TestHostError('OPTIONS_INVALID', 'fetch must be an object mapping origins to handlers or loopback server URLs');
  const entries = Object.entries(table).map(([key, value]) => {
    const origin = originOf(key);
    if (typeof value === 'string') return { origin, target: forwardTarget(origin, value) };
    if (typeof value === 'function') return { origin, handler: value };
    throw new TestHostError('FAKE_ORIGIN_INVALID', `fetch: the value for ${origin} is a ${value === null ? 'null' : typeof value}`, {
      hint: 'Give a handler `(request: Request) => Response | Promise<Response>`, or the URL of a loopback server.',
    });
  });
  const servers: Server[] = [];
  const connectTo: Record<string, string> = {};
  const close = async () => {
    await Promise.all(
      servers.splice(0).map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  };
  try {
    for (const entry of entries) {
      if (entry.target !== undefined) {
        connectTo[entry.origin] = entry.target;
        continue;
      }
      const server = createServer((req, res) => {
        answer(entry.origin, entry.handler!, req, res, requests, log).catch((err: unknown) => {
          log({ level: 'error', message: `fake ${entry.origin}: ${err instanceof Error ? err.message : String(err)}` });
          res.destroy();
        });
      });
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      connectTo[entry.origin] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { connectTo, close };
}

async function answer(origin: string, handler: FetchHandler, req: IncomingMessage, res: ServerResponse, requests: FakeOriginRequest[], log: Logger): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  const method = req.method ?? 'GET';
  const url = `${origin}${req.url ?? '/'}`;
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const record: FakeOriginRequest = {
    origin,
    method,
    url,
    headers: Object.fromEntries(headers),
    body: bytes.toString('utf8'),
    bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    status: undefined,
  };
  requests.push(record);
  // The plugin (or the host, when a stream is cancelled) closing the connection aborts the request.
  const aborted = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborted.abort(new Error('the client closed the connection'));
  });

  let response: Response;
  try {
    const request = new Request(url, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : bytes, signal: aborted.signal });
    const answered: unknown = await handler(request);
    if (!(answered instanceof Response)) throw new TypeError(`the handler returned ${answered === null ? 'null' : typeof answered}, not a Response (use \`Response.json(value)\` or \`new Response(body)\`)`);
    response = answered;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    record.status = 500;
    record.error = message;
    log({ level: 'error', message: `fake ${origin}: the handler for ${method} ${req.url} threw: ${message}` });
    if (!res.destroyed) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`fake ${origin}: the handler threw: ${message}`);
    return;
  }

  record.status = response.status;
  const out: OutgoingHttpHeaders = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') out[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) out['set-cookie'] = cookies;
  if (res.destroyed) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  res.writeHead(response.status, response.statusText || undefined, out);
  if (!response.body || method === 'HEAD') {
    res.end();
    return;
  }
  // Streamed as the handler produces it: server-sent events arrive one by one.
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel(aborted.signal.reason).catch(() => {});
  if (aborted.signal.aborted) cancel();
  else aborted.signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise<void>((resolve) => (res.once('drain', resolve), res.once('close', resolve)));
    }
    res.end();
  } catch (err) {
    if (!aborted.signal.aborted) log({ level: 'error', message: `fake ${origin}: the response body of ${method} ${req.url} failed: ${err instanceof Error ? err.message : String(err)}` });
    res.destroy();
  }
}

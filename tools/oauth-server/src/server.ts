/** {@link startOAuthServer}: the HTTP server around the {@link Authority}. */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Authority, type TokenVerification } from './authority.js';
import { errorReply, HttpError, type Reply } from './http.js';
import { resolveOptions, type OAuthServerOptions } from './options.js';
import { createRoutes, PATHS, type RequestRecord, type Routes } from './routes.js';

/** Events of {@link OAuthServer.events}. */
export interface OAuthServerEvents {
  /** Emitted after each response, with its log line. */
  request: [record: RequestRecord];
  /** Emitted when a request arrives, before its body is read (status 0 until it is answered). */
  'request-start': [record: RequestRecord];
}

/** A running authorization server. All URLs are absolute, without a trailing slash. */
export interface OAuthServer {
  /** The base URL and issuer, e.g. `http://127.0.0.1:43121`. Metadata (RFC 8414) is at `/.well-known/oauth-authorization-server`. */
  readonly url: string;
  /** `POST` here to start a device authorization (RFC 8628 §3.1). */
  readonly deviceAuthorizationEndpoint: string;
  /** `POST` here for tokens (RFC 6749 §3.2). */
  readonly tokenEndpoint: string;
  /** `POST` here to revoke a token (RFC 7009). */
  readonly revocationEndpoint: string;
  /** `GET` here with `Authorization: Bearer <access token>` for `{ sub, name }`. */
  readonly userinfoEndpoint: string;
  /** The page where the user enters a code and approves or denies. */
  readonly verificationUri: string;
  /**
   * The configured polling interval in milliseconds, fractions included. The `interval` field
   * of device authorization responses is this rounded up to whole seconds.
   */
  readonly intervalMs: number;
  /** A device code's current polling interval in milliseconds: {@link intervalMs} plus every `slow_down` step. Throws for unknown codes. */
  pollIntervalMs(deviceCode: string): number;
  /** Approve as the user would (any case, dash optional). Throws for unknown, expired or already decided codes. */
  approve(userCode: string): void;
  /** Deny as the user would. Throws like {@link approve}. */
  deny(userCode: string): void;
  /** Revoke every issued token, as a user withdrawing the app's access at the provider would. Returns the number of refresh tokens revoked. */
  revokeAll(): number;
  /** Check an access token: valid only if issued by this server, not expired and not revoked. */
  verifyAccessToken(token: string): TokenVerification;
  /** Every request answered so far, oldest first. */
  readonly requests: readonly RequestRecord[];
  /** Emits `request-start` when a request arrives and `request` after each response. */
  readonly events: EventEmitter<OAuthServerEvents>;
  /** Stop listening and close every open connection, keep-alive ones included. */
  close(): Promise<void>;
}

/**
 * Start an OAuth 2.0 authorization server on a loopback address, serving the device
 * authorization grant (RFC 8628), refresh tokens (RFC 6749 §6), revocation (RFC 7009) and a
 * `/userinfo` endpoint. Throws a `RangeError` for invalid options.
 */
export async function startOAuthServer(options: OAuthServerOptions = {}): Promise<OAuthServer> {
  const settings = resolveOptions(options);
  const authority = new Authority(settings);
  const requests: RequestRecord[] = [];
  const events = new EventEmitter<OAuthServerEvents>();
  const server = createServer();
  await listen(server, settings.port, settings.host);
  const { port } = server.address() as AddressInfo;
  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;
  const routes = createRoutes(authority, settings, url);

  // Attached as soon as `listen` resolves: connections are served on a later turn of the event loop.
  server.on('request', (req, res) => {
    const [path = '/', ...query] = (req.url ?? '/').split('?');
    const record: RequestRecord = { method: req.method ?? '', path, status: 0, time: settings.now() };
    events.emit('request-start', record);
    void dispatch(routes, req, new URLSearchParams(query.join('?')), record).then((reply) => {
      record.status = reply.status;
      if (reply.error !== undefined) record.error = reply.error;
      requests.push(record);
      send(res, reply);
      events.emit('request', record);
    });
  });

  let closing: Promise<void> | undefined;

  return {
    url,
    deviceAuthorizationEndpoint: url + PATHS.deviceAuthorization,
    tokenEndpoint: url + PATHS.token,
    revocationEndpoint: url + PATHS.revocation,
    userinfoEndpoint: url + PATHS.userinfo,
    verificationUri: url + PATHS.verification,
    intervalMs: settings.intervalMs,
    pollIntervalMs: (deviceCode) => authority.pollIntervalMs(deviceCode),
    approve: (userCode) => authority.decide(userCode, 'approved'),
    deny: (userCode) => authority.decide(userCode, 'denied'),
    verifyAccessToken: (token) => authority.verify(token),
    revokeAll: () => authority.revokeAll(),
    requests,
    events,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      })),
  };
}

/** Route a request to its handler; every failure becomes an error reply. */
async function dispatch(routes: Routes, req: IncomingMessage, query: URLSearchParams, record: RequestRecord): Promise<Reply> {
  try {
    const methods = routes.get(record.path);
    if (!methods) throw new HttpError(404, 'not_found', `no endpoint at ${record.path}`);
    const handler = methods[req.method === 'HEAD' ? 'GET' : record.method];
    if (!handler) {
      const allow = Object.keys(methods).join(', ');
      throw new HttpError(405, 'method_not_allowed', `${record.path} accepts ${allow}`, { allow });
    }
    return await handler(req, query, record);
  } catch (err) {
    return errorReply(err);
  }
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(reply.status, {
    'content-type': reply.contentType,
    'content-length': Buffer.byteLength(reply.body),
    ...reply.headers,
  });
  res.end(reply.body);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

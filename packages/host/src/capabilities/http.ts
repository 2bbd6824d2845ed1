/**
 * Outbound HTTP for plugins, served on the host thread. A plugin's `fetch`
 * becomes a wasi:http request in its worker, which asks the host through the
 * call channel; the host checks it against the grant and only then touches the
 * network:
 *
 * - the origin (scheme, host, port) must match a granted origin; `*.` in a
 *   grant matches subdomains, never the bare domain or look-alikes;
 * - the name is resolved once, and if any address is loopback, private,
 *   link-local or otherwise non-public, the request is refused unless the
 *   grant names that range (`127.0.0.0/8`) or the origin is that address
 *   itself; the connection then goes to the vetted address (no rebinding);
 * - redirects are followed by the host, each hop checked the same way;
 * - a credential bound to origins (`capabilities.credentials` `inject`) is
 *   added as `Authorization` to each hop whose origin the binding matches,
 *   replacing the plugin's own, and to no other hop: a redirect away from a
 *   bound origin leaves the header behind;
 * - response bodies are capped.
 *
 * For tests, the integrator may map origins to loopback servers (`connectTo`,
 * like curl's `--connect-to`): the grant check still runs against the URL the
 * plugin asked for, and only the connection of a granted, mapped origin goes
 * to the loopback address instead, over plain HTTP, with the original `Host`.
 *
 * Every refusal is logged with plugin, method and origin.
 */
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import type { HostReply } from '../sandbox/protocol.js';
import { BodyRing, RingState, ringBytesFor } from '../sandbox/body-ring.js';
import { credentialRefusal, httpAddressRefusal, httpOpenLimitRefusal, httpOriginRefusal, httpQuotaRefusal, httpSchemeRefusal, type RefusedReply, type Refusal } from './refusal.js';
import type { QuotaMeter } from '../quotas.js';
import { withEntry, withoutEntries, type CapabilitySpec } from './spec.js';
import { auditUrl } from '../audit.js';
import { endSpan, failSpan, httpSpan, type TraceContext } from '../tracing.js';

// Taken from the CommonJS module, not imported: an ESM import of node:http builds its namespace,
// whose getters load Node's bundled undici (~30 ms of every host's start) for a fetch the host never makes.
const { request: httpRequest } = process.getBuiltinModule('node:http');
const { request: httpsRequest } = process.getBuiltinModule('node:https');

/** Where a broker counts a plugin's outbound traffic. */
export interface HttpMeter {
  request(origin: string, bytesOut: number): void;
  refused(origin: string): void;
  received(origin: string, bytes: number): void;
}

export interface HttpPolicy {
  pluginId: string;
  /** Granted origins (`https://api.example.com`, `https://*.example.com`, `http://127.0.0.1:8080`). */
  origins: string[];
  /** Granted address ranges a name may resolve into (`127.0.0.0/8`, `::1/128`). */
  ranges: string[];
  /** Largest response body, in bytes. */
  maxBodyBytes: number;
  /** Refusals and failures, for the host's log. */
  log: (level: 'warn' | 'debug', message: string) => void;
  /** Counts requests, refusals and bytes by origin (the plugin's metrics). */
  meter?: HttpMeter;
  /** The plugin's quotas of requests and bytes. */
  quota?: QuotaMeter;
  /**
   * Hears every request hop, allowed or refused (the audit log); `target` has no query string.
   * An injected credential is heard as capability `credentials`, action `inject`, with the origin as target.
   */
  audit?: (entry: { call: string | undefined; capability?: 'credentials'; action: string; target: string; outcome: 'allowed' | 'refused'; detail: string | undefined }) => void;
  /** Credentials the broker adds to requests to their origins (origin patterns as in `origins`). */
  inject?: readonly InjectedCredential[];
  /** Origins whose connections go to a loopback server instead (see {@link parseConnectTo}). */
  connectTo?: ReadonlyMap<string, ConnectTarget>;
  /** Masks known secrets in what leaves the host's control (span attributes). */
  scrub?: (text: string) => string;
}

/** A credential bound to origins, and where its token comes from. */
export interface InjectedCredential {
  authPlugin: string;
  origins: readonly string[];
  /** A token, asked of the auth plugin at each request (it caches and refreshes; the broker keeps nothing). */
  token(): Promise<{ ok: { accessToken: string; tokenType: string } } | { err: { tag: string; val: string } }>;
}

/** Where connections for a mapped origin go: a loopback address and port, over plain HTTP. */
export interface ConnectTarget {
  hostname: string;
  port: number;
}

/** Why a `connectTo` entry is refused, or undefined when it is fine. */
function connectToProblem(origin: string, target: string): string | undefined {
  const from = URL.canParse(origin) ? new URL(origin) : undefined;
  if (!from || (from.protocol !== 'http:' && from.protocol !== 'https:') || from.pathname !== '/' || from.search || from.hash || from.username || from.password) {
    return `the key ${JSON.stringify(origin)} is not an http(s) origin such as "https://api.example.com" (no path, query or credentials)`;
  }
  const to = URL.canParse(target) ? new URL(target) : undefined;
  if (!to || to.protocol !== 'http:' || to.username || to.password) return `the target of ${origin} must be a plain http:// URL of a loopback server, got ${JSON.stringify(target)}`;
  const host = to.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback) return `the target of ${origin} must be a loopback address (127.0.0.0/8, [::1] or localhost), got ${to.host}`;
  return undefined;
}

/**
 * Check and normalize a `connectTo` table: keys are origins (`https://api.example.com`),
 * values loopback URLs (`http://127.0.0.1:8080`; a path is ignored). Returns the
 * problems found, or the map keyed by normalized origin.
 */
export function parseConnectTo(table: Record<string, string>): { map: Map<string, ConnectTarget>; problems: string[] } {
  const map = new Map<string, ConnectTarget>();
  const problems: string[] = [];
  for (const [origin, target] of Object.entries(table)) {
    const problem = typeof target === 'string' ? connectToProblem(origin, target) : `the target of ${origin} must be a string, got ${typeof target}`;
    if (problem) {
      problems.push(problem);
      continue;
    }
    const to = new URL(target);
    map.set(new URL(origin).origin, { hostname: to.hostname.replace(/^\[|\]$/g, ''), port: Number(to.port || 80) });
  }
  return { map, problems };
}

/** What the worker sends for a request. */
export interface OutgoingRequestData {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  headers: [string, Uint8Array][];
  body: Uint8Array;
}

const MAX_REDIRECTS = 5;

/**
 * Responses a plugin may hold at once whose bodies are still arriving and that
 * it has not dropped (each holds a connection, a ring and what waits beyond
 * it): a plugin that leaks them is refused more, instead of the host growing.
 */
export const MAX_OPEN_RESPONSES = 64;

/**
 * Responses whose bodies have all arrived but were not read to the end nor
 * dropped: kept for the plugin to read, at most this many and this many bytes.
 * Past that the oldest are dropped, as a garbage collector would drop them.
 * A JavaScript guest rarely collects its `Response` objects, and cancelling a
 * body does not drop it, so code that only looks at `response.status` leaves
 * one of these per request.
 */
export const MAX_RETAINED_RESPONSES = 256;
export const MAX_RETAINED_BYTES = 16 << 20;

/** Why a read of a response dropped that way fails. */
const EVICTED = `the host dropped this response before it was read: the plugin held more than ${MAX_RETAINED_RESPONSES} responses it had not read to the end; read each body before making more requests`;

/** Unread response bytes the host holds for a plugin before it stops reading from the socket. */
const READ_AHEAD_BYTES = 1 << 20;

/** Addresses a plugin may not reach through a name unless a grant names the range. */
const NON_PUBLIC = new BlockList();
for (const [net, prefix, type] of [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
] as const) {
  NON_PUBLIC.addSubnet(net, prefix, type);
}

/** Parse `a.b.c.d/n` or `x::y/n`; undefined when it is not a range. */
export function parseRange(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const m = /^([0-9a-f.:]+)\/(\d{1,3})$/i.exec(text);
  if (!m) return undefined;
  const version = isIP(m[1]!);
  const prefix = Number(m[2]);
  if (version === 4 && prefix <= 32) return { address: m[1]!, prefix, family: 'ipv4' };
  if (version === 6 && prefix <= 128) return { address: m[1]!, prefix, family: 'ipv6' };
  return undefined;
}

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' };

/** Split an origin or origin pattern into scheme, host and port (default port filled in). */
function splitOrigin(origin: string): { scheme: string; host: string; port: string } | undefined {
  const m = /^(https?):\/\/(\[[0-9a-f:]+\]|[^/:]+)(?::(\d+))?$/i.exec(origin);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  return { scheme, host: m[2]!.toLowerCase().replace(/^\[|\]$/g, ''), port: m[3] ?? DEFAULT_PORT[scheme]! };
}

/** Whether `origin` (no wildcard) is matched by the granted `pattern`. */
export function originMatches(pattern: string, origin: string): boolean {
  const p = splitOrigin(pattern);
  const o = splitOrigin(origin);
  if (!p || !o || p.scheme !== o.scheme || p.port !== o.port) return false;
  if (p.host.startsWith('*.')) return o.host.endsWith(p.host.slice(1)) && o.host.length > p.host.length - 1;
  return p.host === o.host;
}

/** Whether a granted origin (`https://*.example.com` allowed) covers a requested origin or origin pattern. */
export function originCovers(granted: string, asked: string): boolean {
  if (granted === asked) return true;
  const g = /^(https?:\/\/)\*\.([^:]+)(:\d+)?$/.exec(granted);
  const a = /^(https?:\/\/)(?:\*\.)?([^:]+)(:\d+)?$/.exec(asked);
  if (!g || !a) return false;
  return g[1] === a[1] && (g[3] ?? '') === (a[3] ?? '') && a[2]!.endsWith(`.${g[2]}`);
}

/** `https://api.example.com/v1` → its origin; wildcard origins and address ranges as given; undefined for anything else. */
function grantedOrigin(value: string): string | undefined {
  if (/^https?:\/\/\*\.[a-z0-9.-]+(:\d{1,5})?$/i.test(value)) return value.toLowerCase();
  if (parseRange(value)) return value.toLowerCase();
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
}

export const httpCapability: CapabilitySpec<'http'> = {
  name: 'http',
  form: 'http <origin>, e.g. https://api.example.com or https://*.example.com',
  items: (origins) => origins.map((origin) => ({ capability: 'http', origin })),
  covers: (granted, item) => granted?.some((g) => originCovers(g, item.origin)) ?? false,
  add: (granted, item) => withEntry(granted, item.origin),
  remove: (granted, item) => withoutEntries(granted, (o) => o === item.origin),
  parse(value) {
    const origin = value === undefined ? undefined : grantedOrigin(value);
    return origin === undefined ? { problem: `\`${value}\` is not an origin` } : { capability: 'http', origin };
  },
  describe: (item) => `http ${item.origin}`,
  show: (item) => ({ value: item.origin, risky: true }),
};

interface OpenResponse {
  response: IncomingMessage;
  received: number;
  ended: boolean;
  /** Who waits for this body to change (a blocking read, a poll). */
  waiting: Set<() => void>;
  error: string | undefined;
  /** The body's bytes as the plugin's thread reads them (see body-ring.ts). */
  ring: BodyRing;
  /** What arrived beyond the ring's room, oldest first. */
  chunks: Buffer[];
  /** Bytes in `chunks`. */
  buffered: number;
  /** Whether the host waits for the plugin's thread to make room in the ring. */
  refilling: boolean;
  /** Who made the request: the instance, and the scope of the call (a chat stream) when it has one. */
  owners: object[];
}

/**
 * The wasi:http error the plugin's fetch sees (StarlingMonkey reports it as a
 * bare NetworkError), with the refusal the host keeps: it goes to the host's
 * log and into the error of the call that fails because of it.
 */
const deny = (refused: Refusal): RefusedReply => ({ err: { tag: 'HTTP-request-denied' }, refused });

/** One plugin's outbound HTTP: requests in flight and their bodies. */
export class HttpBroker {
  readonly #policy: HttpPolicy;
  readonly #ranges: BlockList;
  readonly #open = new Map<number, OpenResponse>();
  /** Ids of responses dropped by #tidy, the most recent few, so that a late read fails rather than end early. */
  readonly #evicted = new Set<number>();
  #nextId = 1;

  constructor(policy: HttpPolicy) {
    this.#policy = policy;
    this.#ranges = new BlockList();
    for (const text of policy.ranges) {
      const range = parseRange(text);
      if (range) this.#ranges.addSubnet(range.address, range.prefix, range.family);
    }
  }

  /**
   * Serve a host call from the plugin's WASI layer. `owners` name the
   * instance making it and the scope of its call, so their responses can be
   * closed when the instance stops or the scope (a chat stream) ends.
   */
  async serve(fn: string, args: unknown[], context: { owners?: (object | undefined)[]; call?: string; trace?: TraceContext } = {}): Promise<HostReply> {
    switch (fn) {
      case 'send':
        return this.#send(args[0] as OutgoingRequestData, (context.owners ?? []).filter((o) => o !== undefined), context.call, context.trace);
      case 'read':
        return this.#read(args[0] as number, args[1] as number, args[2] !== false);
      case 'poll':
        return this.#poll(args[0] as number[], typeof args[1] === 'number' ? args[1] : undefined);
      case 'drop':
        this.#drop(args[0] as number);
        return { ok: undefined };
      default:
        return { err: { tag: 'internal-error', val: `unknown http function ${fn}` } };
    }
  }

  /**
   * What the host holds of a response the plugin has not read yet: its bytes,
   * whether it has all arrived, and whether the host stopped reading the
   * socket until the plugin catches up. Undefined once dropped.
   */
  held(id: number): { bytes: number; ended: boolean; paused: boolean } | undefined {
    const open = this.#open.get(id);
    return open && { bytes: open.buffered + open.ring.used(), ended: open.ended, paused: open.response.isPaused() };
  }

  /** Abort every request in flight (the plugin stopped). */
  closeAll(): void {
    for (const id of [...this.#open.keys()]) this.#drop(id);
  }

  /** Abort the requests an owner has in flight: an instance whose worker stopped, or a chat stream that ended. */
  closeOwned(owner: object): void {
    for (const [id, open] of [...this.#open]) if (open.owners.includes(owner)) this.#drop(id);
  }

  async #send(req: OutgoingRequestData, owners: object[], call: string | undefined, trace: TraceContext | undefined): Promise<HostReply> {
    let url: URL;
    try {
      url = new URL(`${req.scheme}://${req.authority}${req.path || '/'}`);
    } catch {
      return { err: { tag: 'HTTP-request-URI-invalid' } };
    }
    let method = req.method.toUpperCase();
    let body = req.body;
    const receiving = this.#tidy();
    if (receiving >= MAX_OPEN_RESPONSES) {
      const refused = httpOpenLimitRefusal(method, url.origin, receiving);
      this.#policy.meter?.refused(url.origin);
      this.#policy.audit?.({ call, action: method, target: auditUrl(url), outcome: 'refused', detail: refused.message });
      this.#policy.log('warn', `denied ${refused.message}`);
      return deny(refused);
    }
    const headers = req.headers.filter(([name]) => !['host', 'connection', 'content-length', 'transfer-encoding'].includes(name));
    for (let hop = 0; ; hop++) {
      const span = httpSpan(this.#policy.pluginId, method, url, trace, this.#policy.scrub);
      const checked = await this.#check(method, url);
      if ('err' in checked) {
        const why = 'refused' in checked ? checked.refused.message : 'refused';
        this.#policy.meter?.refused(url.origin);
        this.#policy.audit?.({ call, action: method, target: auditUrl(url), outcome: 'refused', detail: why });
        if (span) failSpan(span.span, 'refused', this.#policy.scrub?.(why) ?? why);
        endSpan(span);
        return checked;
      }
      const overQuota = this.#policy.quota?.take('httpBytesOut', body.byteLength) ?? this.#policy.quota?.take('httpRequests');
      if (overQuota !== undefined) {
        this.#policy.meter?.refused(url.origin);
        this.#policy.audit?.({ call, action: method, target: auditUrl(url), outcome: 'refused', detail: overQuota });
        this.#policy.log('warn', `denied ${method} ${url.origin}: ${overQuota}`);
        if (span) failSpan(span.span, 'quota', overQuota);
        endSpan(span);
        return deny(httpQuotaRefusal(method, url.origin, overQuota));
      }
      // Per hop: what was injected for one origin never follows the request to another.
      const injected = await this.#inject(method, url, headers, call);
      if ('err' in injected) {
        this.#policy.meter?.refused(url.origin);
        if (span) failSpan(span.span, 'credential', injected.refused.message);
        endSpan(span);
        return injected;
      }
      this.#policy.meter?.request(url.origin, body.byteLength);
      this.#policy.audit?.({ call, action: method, target: auditUrl(url), outcome: 'allowed', detail: undefined });
      let response: IncomingMessage;
      try {
        response = checked.mapped
          ? await this.#requestMapped(method, url, injected.headers, body, checked.mapped)
          : await this.#request(method, url, injected.headers, body, checked.address, checked.family);
      } catch (err) {
        this.#policy.log('debug', `${method} ${url.origin} failed: ${(err as Error).message}`);
        endSpan(span, err);
        return { err: { tag: 'connection-refused' } };
      }
      const status = response.statusCode ?? 502;
      // The span covers the request up to its response head; the body streams to the plugin afterwards.
      if (span) {
        span.span.setAttribute('http.response.status_code', status);
        if (status >= 400) failSpan(span.span, String(status), `HTTP ${status}`);
      }
      endSpan(span);
      const location = response.headers.location;
      if (status >= 300 && status < 400 && status !== 304 && location) {
        response.resume();
        if (hop === MAX_REDIRECTS) return { err: { tag: 'loop-detected' } };
        url = new URL(location, url);
        // As browsers do: 303 always, and 301/302 for POST, become GET without a body.
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          method = 'GET';
          body = new Uint8Array();
        }
        continue;
      }
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > this.#policy.maxBodyBytes) {
        response.destroy();
        return { err: { tag: 'HTTP-response-body-size', val: BigInt(declared) } };
      }
      const id = this.#nextId++;
      const open = this.#track(id, response, owners, url.origin);
      const out: [string, Uint8Array][] = [];
      for (let i = 0; i < response.rawHeaders.length; i += 2) out.push([response.rawHeaders[i]!.toLowerCase(), Buffer.from(response.rawHeaders[i + 1]!)]);
      // The plugin's thread reads the body from the ring, without asking this thread.
      return { ok: { id, status, headers: out }, shared: open.ring.buffer };
    }
  }

  /**
   * The headers of a hop: the plugin's own, or, when a bound credential's
   * origins match the hop's, those with `Authorization` set to its token. A
   * plugin that is not signed in gets its request failed, not sent bare.
   */
  async #inject(method: string, url: URL, headers: [string, Uint8Array][], call: string | undefined): Promise<{ headers: [string, Uint8Array][] } | RefusedReply> {
    const bound = this.#policy.inject?.find((b) => b.origins.some((p) => originMatches(p, url.origin)));
    if (!bound) return { headers };
    const token = await bound.token();
    if ('err' in token) {
      const refused = credentialRefusal(method, url.origin, bound.authPlugin, token.err);
      this.#policy.log('warn', `denied ${refused.message}`);
      this.#policy.audit?.({ call, capability: 'credentials', action: 'inject', target: url.origin, outcome: 'refused', detail: refused.message });
      return { err: { tag: 'internal-error', val: refused.message }, refused };
    }
    this.#policy.audit?.({ call, capability: 'credentials', action: 'inject', target: url.origin, outcome: 'allowed', detail: bound.authPlugin });
    const value = `${token.ok.tokenType || 'Bearer'} ${token.ok.accessToken}`;
    return { headers: [...headers.filter(([name]) => name.toLowerCase() !== 'authorization'), ['authorization', new TextEncoder().encode(value)]] };
  }

  /** Check a hop against the grant; resolve and vet its address. */
  async #check(method: string, url: URL): Promise<{ address: string; family: 4 | 6; mapped?: ConnectTarget } | RefusedReply | { err: unknown }> {
    const origin = url.origin;
    const scheme = url.protocol.slice(0, -1);
    if (scheme !== 'http' && scheme !== 'https') return deny(httpSchemeRefusal(method, url.href));
    if (!this.#policy.origins.some((p) => originMatches(p, origin))) {
      this.#policy.log('warn', `denied ${method} ${origin}: the plugin holds no http grant for it`);
      return deny(httpOriginRefusal(this.#policy.pluginId, method, origin));
    }
    // A granted origin the integrator mapped (tests): no lookup, the loopback target is the address.
    const mapped = this.#policy.connectTo?.get(origin);
    if (mapped) return { address: mapped.hostname, family: isIP(mapped.hostname) === 6 ? 6 : 4, mapped };
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let address: string;
    let family: 4 | 6;
    if (isIP(host)) {
      // An IP literal in a granted origin names its address explicitly.
      address = host;
      family = isIP(host) as 4 | 6;
    } else {
      try {
        // IPv4 first: loopback test servers and most services listen there.
        const found = (await lookup(host, { all: true, verbatim: true })).sort((a, b) => a.family - b.family);
        const blocked = found.find((a) => this.#isNonPublic(a.address, a.family));
        if (blocked) {
          this.#policy.log('warn', `denied ${method} ${origin}: ${host} resolves to ${blocked.address}, a non-public address no grant names`);
          return deny(httpAddressRefusal(this.#policy.pluginId, method, origin, blocked.address));
        }
        address = found[0]!.address;
        family = found[0]!.family as 4 | 6;
      } catch {
        return { err: { tag: 'DNS-error', val: { rcode: 'NXDOMAIN' } } };
      }
    }
    return { address, family };
  }

  #isNonPublic(address: string, family: number): boolean {
    const type = family === 6 ? 'ipv6' : 'ipv4';
    return NON_PUBLIC.check(address, type) && !this.#ranges.check(address, type);
  }

  #request(method: string, url: URL, headers: [string, Uint8Array][], body: Uint8Array, address: string, family: 4 | 6): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, {
        method,
        headers: Object.fromEntries(groupHeaders(headers)),
        // Connect to the address that was vetted, not to whatever a second lookup returns.
        lookup: (_host: string, opts: { all?: boolean }, cb: (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void) =>
          opts.all ? cb(null, [{ address, family }]) : cb(null, address, family),
        timeout: 30_000,
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    });
  }

  /** A request for a mapped origin: to its loopback target over plain HTTP, with the original Host. */
  #requestMapped(method: string, url: URL, headers: [string, Uint8Array][], body: Uint8Array, target: ConnectTarget): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        hostname: target.hostname,
        port: target.port,
        path: `${url.pathname}${url.search}`,
        method,
        headers: { ...Object.fromEntries(groupHeaders(headers)), host: url.host },
        // A fresh connection each time: test servers come and go, and a pooled
        // socket to one that closed would fail the next request.
        agent: false,
        timeout: 30_000,
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    });
  }

  #track(id: number, response: IncomingMessage, owners: object[], origin: string): OpenResponse {
    const open: OpenResponse = { response, received: 0, ended: false, waiting: new Set(), error: undefined, ring: BodyRing.create(ringBytesFor(declaredLength(response))), chunks: [], buffered: 0, refilling: false, owners };
    const wake = () => {
      const waiting = [...open.waiting];
      open.waiting.clear();
      for (const w of waiting) w();
    };
    response.on('data', (chunk: Buffer) => {
      open.received += chunk.length;
      this.#policy.meter?.received(origin, chunk.length);
      const overQuota = this.#policy.quota?.take('httpBytesIn', chunk.length);
      if (open.received > this.#policy.maxBodyBytes || overQuota !== undefined) {
        open.error = overQuota ?? `response body exceeds ${this.#policy.maxBodyBytes} bytes`;
        open.ring.close(RingState.FAILED);
        if (overQuota !== undefined) this.#policy.audit?.({ call: undefined, action: 'receive', target: origin, outcome: 'refused', detail: overQuota });
        response.destroy();
      } else {
        open.chunks.push(chunk);
        open.buffered += chunk.length;
        this.#fill(open);
      }
      wake();
    });
    const ended = () => {
      open.ended = true;
      this.#fill(open);
      wake();
    };
    response.on('end', ended);
    response.on('error', (err) => {
      open.error ??= err.message;
      open.ring.close(RingState.FAILED);
      wake();
    });
    response.on('close', ended);
    this.#open.set(id, open);
    return open;
  }

  /**
   * Move what the host holds of a body into its ring, as far as it fits; the
   * ring ends once the body ended and all of it is in there. While some is
   * left, wait for the plugin's thread to make room; and hold back the socket
   * while the plugin has a lot of unread data.
   */
  #fill(open: OpenResponse): void {
    while (open.chunks.length > 0) {
      const chunk = open.chunks[0]!;
      const n = open.ring.write(chunk);
      open.buffered -= n;
      if (n < chunk.length) {
        open.chunks[0] = chunk.subarray(n);
        break;
      }
      open.chunks.shift();
    }
    if (open.chunks.length === 0) {
      if (open.ended) open.ring.close(RingState.ENDED);
      else if (open.response.isPaused()) open.response.resume();
      return;
    }
    if (open.buffered + open.ring.used() >= READ_AHEAD_BYTES) open.response.pause();
    if (!open.refilling) void this.#refill(open);
  }

  async #refill(open: OpenResponse): Promise<void> {
    open.refilling = true;
    try {
      while (open.chunks.length > 0 && open.ring.state === RingState.OPEN) {
        // Ask to be woken by a read before looking, so that none is missed.
        const reads = open.ring.watchReads();
        this.#fill(open);
        if (open.chunks.length === 0) break;
        await open.ring.spaceFreed(reads);
      }
    } finally {
      open.ring.unwatchReads();
      open.refilling = false;
    }
  }

  /** Whether a read of `open` would answer at once: bytes are there, or the body ended or failed (or was dropped). */
  static #readable(open: OpenResponse | undefined): boolean {
    return !open || open.ring.used() > 0 || open.chunks.length > 0 || open.ended || open.error !== undefined;
  }

  /** Wait until one of `opens` changes, or `timeoutMs` passes (never, when undefined). */
  static #changed(opens: OpenResponse[], timeoutMs: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        for (const open of opens) open.waiting.delete(done);
        resolve();
      };
      for (const open of opens) {
        open.waiting.add(done);
        open.response.resume();
      }
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }

  /**
   * `wasi:io/poll` for response bodies: the ids among `ids` a read would
   * answer at once, waiting until there is one or `timeoutMs` passed (when
   * it is given; an empty answer then). One round trip however many bodies.
   */
  async #poll(ids: number[], timeoutMs: number | undefined): Promise<HostReply> {
    const ready = () => ids.filter((id) => HttpBroker.#readable(this.#open.get(id)));
    let now = ready();
    if (now.length === 0 && timeoutMs !== 0) {
      await HttpBroker.#changed(ids.map((id) => this.#open.get(id)!), timeoutMs);
      now = ready();
    }
    return { ok: now };
  }

  /**
   * Up to `max` bytes of body `id`. A blocking read waits for some; a
   * non-blocking one (the `read` of wasi:io, which must answer promptly)
   * answers with what there is, possibly nothing.
   */
  async #read(id: number, max: number, wait: boolean): Promise<HostReply> {
    const open = this.#open.get(id);
    if (!open) return this.#evicted.has(id) ? { err: { tag: 'failed', val: EVICTED } } : { err: { tag: 'closed' } };
    if (wait) while (!HttpBroker.#readable(open)) await HttpBroker.#changed([open], undefined);
    if (open.error) return { err: { tag: 'failed', val: open.error } };
    // Everything that arrived since the last read, up to `max`, in one
    // answer: what the ring holds, then what waits beyond it. (The plugin's
    // thread reads the ring itself; this serves a reader that asks the host.)
    const taken: Uint8Array[] = [open.ring.take(max)];
    let size = taken[0]!.length;
    while (open.chunks.length > 0 && size < max) {
      let chunk = open.chunks.shift()!;
      if (size + chunk.length > max) {
        open.chunks.unshift(chunk.subarray(max - size));
        chunk = chunk.subarray(0, max - size);
      }
      taken.push(chunk);
      size += chunk.length;
      open.buffered -= chunk.length;
    }
    // Also resumes the socket once nothing waits beyond the ring.
    this.#fill(open);
    if (size === 0 && open.ended) return { err: { tag: 'closed' } };
    if (taken.length === 1) return { ok: taken[0]! };
    const joined = Buffer.concat(taken, size);
    return { ok: new Uint8Array(joined.buffer, joined.byteOffset, size) };
  }

  /**
   * Before a request: forget the responses whose bodies ended and were read to
   * the end (a read of one now answers `closed` just as it did, and a drop finds
   * nothing to do); drop the oldest of those that have all arrived, unread,
   * beyond MAX_RETAINED_RESPONSES and MAX_RETAINED_BYTES (one more is about to
   * come); and count the responses whose bodies are still arriving. One pass
   * over the open responses, and a second only when some must be dropped.
   */
  #tidy(): number {
    let receiving = 0;
    let retained = 0;
    let bytes = 0;
    for (const [id, open] of this.#open) {
      if (!open.ended && open.error === undefined) receiving++;
      else if (open.error === undefined && open.chunks.length === 0 && open.ring.state === RingState.ENDED && open.ring.used() === 0) this.#open.delete(id);
      else {
        retained++;
        bytes += open.ring.capacity + open.buffered;
      }
    }
    for (const [id, open] of this.#open) {
      if (retained < MAX_RETAINED_RESPONSES && bytes <= MAX_RETAINED_BYTES) break;
      if (!open.ended && open.error === undefined) continue;
      this.#policy.log('debug', `dropped an unread response of ${open.received} bytes: the plugin holds ${retained} responses it has not read to the end`);
      this.#drop(id);
      // A late read of it fails rather than look like a body that ended there.
      this.#evicted.add(id);
      if (this.#evicted.size > MAX_RETAINED_RESPONSES * 4) this.#evicted.delete(this.#evicted.values().next().value!);
      retained--;
      bytes -= open.ring.capacity + open.buffered;
    }
    return receiving;
  }

  #drop(id: number): void {
    const open = this.#open.get(id);
    if (!open) return;
    this.#open.delete(id);
    open.ring.close(RingState.DROPPED);
    if (!open.ended) open.response.destroy();
  }
}

/** The body length a response declares, when it does. */
function declaredLength(response: IncomingMessage): number | undefined {
  const value = response.headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function groupHeaders(headers: [string, Uint8Array][]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of headers) out.set(name, [...(out.get(name) ?? []), Buffer.from(value).toString('latin1')]);
  return out;
}

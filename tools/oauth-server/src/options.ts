/** The options of {@link startOAuthServer}, and their validation into millisecond settings. */
import { isIP } from 'node:net';

/** Options of {@link startOAuthServer}. Durations are in seconds and may be fractional (e.g. `0.05` in tests). */
export interface OAuthServerOptions {
  /** TCP port; `0` (the default) picks a free one. */
  port?: number;
  /** Loopback address to listen on: `127.0.0.1` (default), any `127.x.x.x`, `::1` or `localhost`. */
  host?: string;
  /** The client ids allowed to use the server. Default: `['airlock-demo']`. */
  clients?: readonly string[];
  /**
   * Minimum seconds between two polls of one device code (RFC 8628 §3.2). Default `5`.
   * Enforced exactly, fractions included; the `interval` field of the JSON response is an integer
   * (rounded up), the exact value is {@link OAuthServer.intervalMs}.
   */
  interval?: number;
  /** Seconds added to a device code's interval each time it answers `slow_down`. Default `5` (RFC 8628 §3.5). */
  slowDownStep?: number;
  /** Lifetime of a device code, in seconds. Default `600`. Reported rounded up in `expires_in`. */
  expiresIn?: number;
  /** Lifetime of an access token, in seconds. Default `3600`. Reported rounded up in `expires_in`. */
  accessTokenTtl?: number;
  /**
   * The URL the server is known by, when clients reach it under another origin (a proxy, or a test
   * host that maps an origin to it): its metadata names this as the issuer and lists the endpoints
   * under it. Default: the URL it listens on.
   */
  issuer?: string;
  /** Approve each device code when it is first polled, so that poll already gets the tokens. Default `false`. */
  autoApprove?: boolean;
  /** The user who approves; `/userinfo` reports it as `sub` and `name`. Default `demo-user`. */
  account?: string;
  /**
   * The clock, in milliseconds like `Date.now` (the default). Inject one to test expiry and
   * polling intervals without sleeping.
   */
  now?: () => number;
}

/** Validated options, durations in milliseconds. */
export interface Settings {
  port: number;
  host: string;
  clients: ReadonlySet<string>;
  intervalMs: number;
  slowDownStepMs: number;
  deviceCodeTtlMs: number;
  accessTokenTtlMs: number;
  autoApprove: boolean;
  account: string;
  now: () => number;
  issuer: string | undefined;
}

/** Apply defaults and reject values the server cannot honour, with a `RangeError` naming the option. */
export function resolveOptions(options: OAuthServerOptions): Settings {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new RangeError(`host must be a loopback address, got ${JSON.stringify(host)}`);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
  const clients = new Set(options.clients ?? ['airlock-demo']);
  if (clients.size === 0 || [...clients].some((id) => id === '')) throw new RangeError('clients must list at least one non-empty client id');
  return {
    port,
    host,
    clients,
    intervalMs: seconds('interval', options.interval ?? 5),
    slowDownStepMs: seconds('slowDownStep', options.slowDownStep ?? 5),
    deviceCodeTtlMs: seconds('expiresIn', options.expiresIn ?? 600),
    accessTokenTtlMs: seconds('accessTokenTtl', options.accessTokenTtl ?? 3600),
    autoApprove: options.autoApprove ?? false,
    account: options.account ?? 'demo-user',
    now: options.now ?? Date.now,
    issuer: issuerOption(options.issuer),
  };
}

function issuerOption(issuer: string | undefined): string | undefined {
  if (issuer === undefined) return undefined;
  const url = URL.canParse(issuer) ? new URL(issuer) : undefined;
  if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash) throw new RangeError(`issuer must be an http(s) URL without query or fragment, got ${JSON.stringify(issuer)}`);
  return issuer.replace(/\/$/, '');
}

function seconds(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number of seconds, got ${value}`);
  return value * 1000;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

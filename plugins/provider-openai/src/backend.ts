/**
 * Talking to the backend: settings from the configuration, the credential
 * (an API key from the environment or a token brokered by the host), and
 * requests retried on 429 and 5xx with backoff that honours `retry-after`.
 */
import { config, credentials, env, HostError, log, ProviderError } from '@airlock/sdk';

export const API_KEY_ENV = 'OPENAI_API_KEY';
export const AUTH_PLUGIN = 'auth-device-flow';

export interface Settings {
  baseUrl: string;
  auth: 'auto' | 'api-key' | 'credentials';
  defaultModel: string;
  maxRetries: number;
  retryBaseMs: number;
  maxRetryWaitMs: number;
}

export function settings(): Settings {
  const c = config.all();
  const num = (key: string, fallback: number) => (typeof c[key] === 'number' ? (c[key] as number) : fallback);
  return {
    baseUrl: String(c.baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, ''),
    auth: (c.auth as Settings['auth'] | undefined) ?? 'auto',
    defaultModel: typeof c.defaultModel === 'string' ? c.defaultModel : 'gpt-4o-mini',
    maxRetries: num('maxRetries', 3),
    retryBaseMs: num('retryBaseMs', 500),
    maxRetryWaitMs: num('maxRetryWaitMs', 20_000),
  };
}

/** The `Authorization` header value, read fresh for every request (tokens rotate, keys change). */
function authorization(s: Settings): string {
  const key = s.auth === 'credentials' ? undefined : env.get(API_KEY_ENV);
  if (key) return `Bearer ${key}`;
  if (s.auth === 'api-key') throw new ProviderError('auth', `${API_KEY_ENV} is not set, or not granted to this plugin`);
  try {
    const token = credentials.getToken(AUTH_PLUGIN);
    return `${token.tokenType || 'Bearer'} ${token.accessToken}`;
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    const how = s.auth === 'auto' ? `set ${API_KEY_ENV}, or sign in` : 'sign in';
    if (e.code === 'not-signed-in') throw new ProviderError('auth', `no credentials: ${how} with \`airlock auth login ${AUTH_PLUGIN}\``, { cause: e });
    if (e.code === 'denied') throw new ProviderError('auth', `no credentials: ${how === 'sign in' ? '' : `set ${API_KEY_ENV}, or `}grant this plugin credentials from ${AUTH_PLUGIN}`, { cause: e });
    throw new ProviderError('auth', `no credentials: ${e.message}`, { cause: e });
  }
}

/**
 * Whether a request could be authenticated now, decided without a network
 * call (the host may ask often): a key in the environment, or a sign-in the
 * host can broker. The reason says what to do when not.
 */
export function availability(s: Settings): { available: boolean; reason?: string } {
  const key = s.auth === 'credentials' ? undefined : env.get(API_KEY_ENV);
  if (key) return { available: true };
  if (s.auth === 'api-key') return { available: false, reason: `${API_KEY_ENV} is not set, or not granted to this plugin` };
  const how = s.auth === 'auto' ? `set ${API_KEY_ENV}, or sign in` : 'sign in';
  try {
    return credentials.signedIn(AUTH_PLUGIN) ? { available: true } : { available: false, reason: `not signed in: ${how} with \`airlock auth login ${AUTH_PLUGIN}\`` };
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    if (e.code === 'denied') return { available: false, reason: `no credentials: ${s.auth === 'auto' ? `set ${API_KEY_ENV}, or ` : ''}grant this plugin credentials from ${AUTH_PLUGIN}` };
    return { available: false, reason: `no credentials: ${e.message}` };
  }
}

declare function setTimeout(f: () => void, ms: number): unknown;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Milliseconds the server asked to wait: `retry-after-ms`, or `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get('retry-after-ms') ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const after = headers.get('retry-after');
  if (after === null) return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const RETRYABLE = new Set([408, 409, 429, 500, 502, 503, 504]);

/** The error an unsuccessful answer stands for. */
async function failure(res: Response, waitMs: number | undefined): Promise<ProviderError> {
  const text = await res.text().catch(() => '');
  let message = text.slice(0, 300);
  try {
    const body = JSON.parse(text) as { error?: { message?: string } | string };
    message = typeof body.error === 'string' ? body.error : (body.error?.message ?? message);
  } catch {
    // not JSON: keep the text
  }
  const what = `HTTP ${res.status}${message ? `: ${message}` : ''}`;
  if (res.status === 401 || res.status === 403) return new ProviderError('auth', `the backend refused the credentials (${what})`);
  if (res.status === 429) return new ProviderError('rate-limited', `the backend is rate limiting (${what})`, { retryAfterMs: waitMs });
  if (res.status >= 500) return new ProviderError('unavailable', `the backend failed (${what})`);
  if (res.status === 400 || res.status === 404 || res.status === 413 || res.status === 422) return new ProviderError('invalid-request', `the backend rejected the request (${what})`);
  return new ProviderError('other', `unexpected answer (${what})`);
}

/**
 * Send a request to `path` under the base URL, retrying 429, 5xx and failed
 * connections up to `maxRetries` times. Resolves with a 2xx response whose
 * body is unread; rejects with a ProviderError.
 */
export async function send(s: Settings, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
  const url = `${s.baseUrl}${path}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  for (let attempt = 0; ; attempt++) {
    let res: Response | undefined;
    let networkError: unknown;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: authorization(s), accept: payload && (body as { stream?: boolean }).stream ? 'text/event-stream' : 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}) },
        body: payload,
      });
    } catch (e) {
      if (e instanceof ProviderError) throw e;
      networkError = e;
    }
    if (res?.ok) return res;
    const asked = res ? retryAfterMs(res.headers) : undefined;
    const retryable = res === undefined || RETRYABLE.has(res.status);
    const backoff = Math.min(s.retryBaseMs * 2 ** attempt, 60_000);
    // Full jitter on our own backoff; the server's own figure is taken as given.
    const waitMs = asked ?? Math.round(backoff / 2 + (Math.random() * backoff) / 2);
    if (!retryable || attempt >= s.maxRetries || waitMs > s.maxRetryWaitMs) {
      if (res) throw await failure(res, asked);
      throw new ProviderError('unavailable', `cannot reach ${new URL(url).origin}: ${(networkError as Error)?.message ?? networkError}`, { cause: networkError });
    }
    const why = res ? `HTTP ${res.status}` : `connection failed (${(networkError as Error)?.message ?? networkError})`;
    log.warn(`${method} ${path}: ${why}; retry ${attempt + 1} of ${s.maxRetries} in ${waitMs} ms`);
    await res?.body?.cancel().catch(() => {});
    await sleep(waitMs);
  }
}

/**
 * The OAuth 2.0 wire protocol as this plugin speaks it: form-encoded POSTs,
 * JSON answers, and the error codes of RFC 6749 §5.2 and RFC 8628 §3.5. Kept
 * lenient where real providers differ: GitHub answers errors with status 200
 * and wants `Accept: application/json`; Google calls the page
 * `verification_url`.
 */
import { AuthError } from '@airlock/sdk';

export interface Settings {
  clientId: string;
  clientSecret: string | undefined;
  deviceAuthorizationEndpoint: string;
  tokenEndpoint: string;
  revocationEndpoint: string | undefined;
  userinfoEndpoint: string | undefined;
  scopes: string[];
  refreshMarginSeconds: number;
}

/** What a token endpoint answers on success (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type?: string;
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
}

/** An error answer (RFC 6749 §5.2), with GitHub's `interval` on `slow_down`. */
export interface OAuthErrorBody {
  error: string;
  error_description?: string;
  interval?: number;
}

export type Answer<T> = { ok: true; body: T } | { ok: false; status: number; error: OAuthErrorBody };

/** POST `fields` form-encoded to `url` and read the JSON answer. Network failures throw AuthError `network`. */
export async function postForm<T>(url: string, fields: Record<string, string | undefined>): Promise<Answer<T>> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.set(name, value);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
    });
  } catch (e) {
    throw new AuthError('network', `cannot reach ${originOf(url)}: ${(e as Error).message}`, { cause: e });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new AuthError('protocol', `${originOf(url)} answered HTTP ${res.status} with something that is not JSON: ${text.slice(0, 120)}`);
  }
  if (isObject(body) && typeof body.error === 'string') return { ok: false, status: res.status, error: body as unknown as OAuthErrorBody };
  if (!res.ok) return { ok: false, status: res.status, error: { error: `http_${res.status}`, error_description: text.slice(0, 200) } };
  return { ok: true, body: body as T };
}

/** The access token answer, checked: a token endpoint that omits `access_token` is broken. */
export function tokenResponse(body: unknown, url: string): TokenResponse {
  if (!isObject(body) || typeof body.access_token !== 'string' || body.access_token === '') {
    throw new AuthError('protocol', `${originOf(url)} answered without an access_token`);
  }
  return body as unknown as TokenResponse;
}

/** `error: error_description`, for messages. */
export const describe = (e: OAuthErrorBody): string => (e.error_description ? `${e.error}: ${e.error_description}` : e.error);

export const originOf = (url: string): string => {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
};

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A whole, positive number of seconds from a field a server may send as a number or a string. */
export function seconds(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.ceil(n) : fallback;
}

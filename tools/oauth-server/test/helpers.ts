import { afterEach } from 'vitest';
import { DEVICE_CODE_GRANT, startOAuthServer, type OAuthServer, type OAuthServerOptions } from '../src/index.js';

/** A clock the test moves by hand, so expiry and polling intervals need no sleeping. */
export function manualClock(): { now: () => number; advance: (seconds: number) => void } {
  let time = Date.parse('2030-01-01T00:00:00Z');
  return { now: () => time, advance: (seconds) => void (time += seconds * 1000) };
}

const started: OAuthServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

/** Start a server that is closed after the current test. */
export async function start(options: OAuthServerOptions = {}): Promise<OAuthServer> {
  const server = await startOAuthServer(options);
  started.push(server);
  return server;
}

/** A parsed response. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** POST form-encoded parameters, as OAuth clients do, and parse the JSON answer. */
export async function postForm(url: string, params: Record<string, string>): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', body: new URLSearchParams(params) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** The device authorization response (RFC 8628 §3.2). */
export interface DeviceAuthorization {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** Start a device authorization as the `airlock-demo` client. */
export async function requestDeviceCode(server: OAuthServer, scope?: string): Promise<DeviceAuthorization> {
  const answer = await postForm(server.deviceAuthorizationEndpoint, { client_id: 'airlock-demo', ...(scope ? { scope } : {}) });
  if (answer.status !== 200) throw new Error(`device authorization failed: ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as DeviceAuthorization;
}

/** One poll of the token endpoint with a device code. */
export function poll(server: OAuthServer, deviceCode: string, clientId = 'airlock-demo'): Promise<Answer> {
  return postForm(server.tokenEndpoint, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: clientId });
}

/** The token response (RFC 6749 §5.1). */
export interface Tokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  scope?: string;
}

/** Run a device flow to the end, approving programmatically, and return the tokens. */
export async function obtainTokens(server: OAuthServer, scope?: string): Promise<Tokens> {
  const { device_code, user_code } = await requestDeviceCode(server, scope);
  server.approve(user_code);
  const answer = await poll(server, device_code);
  if (answer.status !== 200) throw new Error(`token request failed: ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as Tokens;
}

/** GET /userinfo with a bearer token. */
export async function userinfo(server: OAuthServer, accessToken: string): Promise<Answer> {
  const res = await fetch(server.userinfoEndpoint, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

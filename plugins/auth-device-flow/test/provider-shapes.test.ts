/**
 * Real providers bend RFC 8628 in known ways. These fake origins answer the
 * way GitHub and Google do, at their own addresses, so the plugin is checked
 * against those shapes (and configured as it would be for them), not only
 * against the loopback server that follows the RFC to the letter.
 */
import { afterEach, expect, it } from 'vitest';
import { createTestHost, type FetchHandler, type TestHost } from '@airlock/plugin-kit/testing';
import { untilDue } from './due.js';

const plugin = new URL('..', import.meta.url);

type Route = (form: URLSearchParams, req: Request) => { status: number; body: unknown };

let t: TestHost | undefined;

/** A fake origin answering `routes` by path with JSON; anything else is 404. */
function origin(routes: Record<string, Route>): FetchHandler {
  return async (req) => {
    const form = new URLSearchParams(await req.text());
    const route = routes[new URL(req.url).pathname];
    const { status, body } = route ? route(form, req) : { status: 404, body: { error: 'not_found' } };
    return Response.json(body, { status });
  };
}

/** What reached the fake origins: path, form and Accept header of each request. */
const seen = () => t!.requests.map((r) => ({ path: new URL(r.url).pathname, form: new URLSearchParams(r.body), accept: r.headers.accept }));

async function load(config: Record<string, unknown>, fetch: Record<string, FetchHandler>): Promise<TestHost> {
  t = await createTestHost({ plugin, config, fetch });
  return t;
}

afterEach(async () => {
  await t?.close();
  t = undefined;
});

it('GitHub: errors with status 200, comma-separated scopes, no expiry or refresh token, login from /user', async () => {
  let polls = 0;
  const h = await load(
    {
      clientId: 'Iv1.b507a08c87ecfe98',
      deviceAuthorizationEndpoint: 'https://github.com/login/device/code',
      tokenEndpoint: 'https://github.com/login/oauth/access_token',
      userinfoEndpoint: 'https://api.github.com/user',
      scopes: ['repo', 'gist'],
    },
    {
      'https://github.com': origin({
        '/login/device/code': () => ({ status: 200, body: { device_code: 'gh-dc', user_code: 'WDJB-MJHT', verification_uri: 'https://github.com/login/device', expires_in: 899, interval: 1 } }),
        '/login/oauth/access_token': () =>
          ++polls === 1
            ? { status: 200, body: { error: 'authorization_pending', error_description: 'The authorization request is still pending.' } }
            : { status: 200, body: { access_token: 'gho_16C7e42F292c6912E7710c838347Ae178B4a', token_type: 'bearer', scope: 'repo,gist' } },
      }),
      'https://api.github.com': origin({
        '/user': (_form, req) => ({ status: req.headers.get('authorization') === 'Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a' ? 200 : 401, body: { login: 'octocat', id: 1 } }),
      }),
    },
  );
  expect(h.info.capabilities.http).toEqual(['https://github.com', 'https://api.github.com']);
  let shown: unknown;
  const status = await h.deviceLogin({ approve: (login) => void (shown = { ...login }) });
  expect(shown).toMatchObject({ userCode: 'WDJB-MJHT', verificationUri: 'https://github.com/login/device', verificationUriComplete: undefined });
  expect(status).toMatchObject({ signedIn: true, account: 'octocat', scopes: ['repo', 'gist'], expiresAt: undefined });
  expect(await h.auth.token()).toMatchObject({ accessToken: 'gho_16C7e42F292c6912E7710c838347Ae178B4a', tokenType: 'Bearer', expiresAt: undefined });
  expect(h.requests.map((r) => `${r.method} ${r.url} ${r.status}`)).toEqual([
    'POST https://github.com/login/device/code 200',
    'POST https://github.com/login/oauth/access_token 200',
    'POST https://github.com/login/oauth/access_token 200',
    'GET https://api.github.com/user 200',
  ]);
  // GitHub answers form-encoded unless asked for JSON.
  expect(seen().every((r) => r.accept === 'application/json')).toBe(true);
  expect(seen()[0]!.form.get('scope')).toBe('repo gist');
});

it('GitHub: slow_down carries the new interval, which the plugin adopts', async () => {
  let polls = 0;
  const h = await load(
    { clientId: 'c', deviceAuthorizationEndpoint: 'https://github.com/code', tokenEndpoint: 'https://github.com/token' },
    {
      'https://github.com': origin({
        '/code': () => ({ status: 200, body: { device_code: 'dc', user_code: 'AAAA-BBBB', verification_uri: 'https://example.com/device', expires_in: 60, interval: 1 } }),
        '/token': () => (++polls === 1 ? { status: 200, body: { error: 'slow_down', interval: 7 } } : { status: 200, body: { access_token: 'tok-0123456789', token_type: 'bearer' } }),
      }),
    },
  );
  const controller = new AbortController();
  let login: { interval: number } | undefined;
  const waiting = h.deviceLogin({ signal: controller.signal, approve: (shown) => void (login = shown) }).catch((e: unknown) => e);
  // The plugin answers the host once the server's slow_down reached it; on a busy machine that takes a while.
  const until = Date.now() + 10_000;
  while (login?.interval !== 7 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(polls).toBe(1);
  expect(login!.interval).toBe(7);
  controller.abort(new Error('enough'));
  expect(await waiting).toMatchObject({ message: 'enough' });
});

it('Google: verification_url, 428 while pending, client_secret sent with token requests, refresh without rotation', async () => {
  let polls = 0;
  const h = await load(
    {
      clientId: 'g.apps.googleusercontent.com',
      clientSecret: 'GOCSPX-demo',
      deviceAuthorizationEndpoint: 'https://oauth2.googleapis.com/device/code',
      tokenEndpoint: 'https://oauth2.googleapis.com/token',
      refreshMarginSeconds: 60,
    },
    {
      'https://oauth2.googleapis.com': origin({
        '/device/code': () => ({ status: 200, body: { device_code: 'g-dc', user_code: 'GQVQ-JKEC', verification_url: 'https://www.google.com/device', expires_in: 1800, interval: 1 } }),
        '/token': (form) => {
          if (form.get('grant_type') === 'refresh_token') return { status: 200, body: { access_token: 'ya29.refreshed-token-value', expires_in: 3599, token_type: 'Bearer', scope: 'openid email' } };
          return ++polls === 1
            ? { status: 428, body: { error: 'authorization_pending', error_description: 'Precondition Required' } }
            : { status: 200, body: { access_token: 'ya29.first-token-value', expires_in: 1, refresh_token: '1//google-refresh', token_type: 'Bearer', scope: 'openid email' } };
        },
      }),
    },
  );
  let verificationUri: string | undefined;
  expect(await h.deviceLogin({ approve: (login) => void (verificationUri = login.verificationUri) })).toMatchObject({ signedIn: true, scopes: ['openid', 'email'] });
  expect(verificationUri).toBe('https://www.google.com/device');
  // Once the token is due (it lives 1 s, so a quarter of that before it expires), get-token refreshes it,
  // keeping the refresh token Google did not rotate.
  const first = await h.auth.token();
  expect(first.accessToken).toBe('ya29.first-token-value');
  await untilDue(first);
  expect((await h.auth.token()).accessToken).toBe('ya29.refreshed-token-value');
  const tokenCalls = seen().filter((r) => r.path === '/token');
  expect(tokenCalls.map((r) => r.form.get('client_secret'))).toEqual(['GOCSPX-demo', 'GOCSPX-demo', 'GOCSPX-demo']);
  expect(tokenCalls.at(-1)!.form.get('refresh_token')).toBe('1//google-refresh');
  expect(seen()[0]!.form.get('client_secret')).toBeNull();
});

it('refuses a token endpoint answer without an access token as a protocol error', async () => {
  const h = await load(
    { clientId: 'c', deviceAuthorizationEndpoint: 'https://auth.example.com/code', tokenEndpoint: 'https://auth.example.com/token' },
    {
      'https://auth.example.com': origin({
        '/code': () => ({ status: 200, body: { device_code: 'dc', user_code: 'AAAA-BBBB', verification_uri: 'https://example.com/device', expires_in: 60, interval: 1 } }),
        '/token': () => ({ status: 200, body: { token_type: 'bearer' } }),
      }),
    },
  );
  await expect(h.deviceLogin()).rejects.toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('without an access_token') });
});

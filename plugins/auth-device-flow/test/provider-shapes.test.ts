/**
 * Real providers bend RFC 8628 in known ways. These servers answer the way
 * GitHub and Google do, so the plugin is checked against those shapes, not
 * only against the loopback server that follows the RFC to the letter.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createHost, type Host } from '@airlock/host';

const pluginDir = new URL('..', import.meta.url).pathname;

type Route = (form: URLSearchParams, req: IncomingMessage) => { status: number; body: unknown };

let home: string;
let host: Host | undefined;
let server: Server | undefined;
let seen: { path: string; form: URLSearchParams; accept: string | undefined }[];

async function serve(routes: Record<string, Route>): Promise<string> {
  server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const form = new URLSearchParams(text);
    const path = (req.url ?? '/').split('?')[0]!;
    seen.push({ path, form, accept: req.headers.accept });
    const route = routes[path];
    const { status, body } = route ? route(form, req) : { status: 404, body: { error: 'not_found' } };
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

async function load(config: Record<string, unknown>): Promise<Host> {
  host = await createHost({ home, logger: () => {} });
  await host.load(pluginDir, { grant: 'manifest', config });
  return host;
}

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-shapes-'));
  seen = [];
});

afterEach(async () => {
  await host?.close();
  host = undefined;
  await new Promise((resolve) => server?.close(resolve));
  await rm(home, { recursive: true, force: true });
});

it('GitHub: errors with status 200, comma-separated scopes, no expiry or refresh token, login from /user', async () => {
  let polls = 0;
  const url = await serve({
    '/login/device/code': () => ({ status: 200, body: { device_code: 'gh-dc', user_code: 'WDJB-MJHT', verification_uri: 'https://github.com/login/device', expires_in: 899, interval: 1 } }),
    '/login/oauth/access_token': () =>
      ++polls === 1
        ? { status: 200, body: { error: 'authorization_pending', error_description: 'The authorization request is still pending.' } }
        : { status: 200, body: { access_token: 'gho_16C7e42F292c6912E7710c838347Ae178B4a', token_type: 'bearer', scope: 'repo,gist' } },
    '/user': (_form, req) => ({ status: req.headers.authorization === 'Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a' ? 200 : 401, body: { login: 'octocat', id: 1 } }),
  });
  const h = await load({
    clientId: 'Iv1.b507a08c87ecfe98',
    deviceAuthorizationEndpoint: `${url}/login/device/code`,
    tokenEndpoint: `${url}/login/oauth/access_token`,
    userinfoEndpoint: `${url}/user`,
    scopes: ['repo', 'gist'],
  });
  const login = await h.auth('auth-device-flow').login();
  expect(login).toMatchObject({ userCode: 'WDJB-MJHT', verificationUri: 'https://github.com/login/device', verificationUriComplete: undefined });
  const status = await login.wait();
  expect(status).toMatchObject({ signedIn: true, account: 'octocat', scopes: ['repo', 'gist'], expiresAt: undefined });
  expect(await h.auth('auth-device-flow').token()).toMatchObject({ accessToken: 'gho_16C7e42F292c6912E7710c838347Ae178B4a', tokenType: 'Bearer', expiresAt: undefined });
  // GitHub answers form-encoded unless asked for JSON.
  expect(seen.every((r) => r.accept === 'application/json')).toBe(true);
  expect(seen[0]!.form.get('scope')).toBe('repo gist');
});

it('GitHub: slow_down carries the new interval, which the plugin adopts', async () => {
  let polls = 0;
  const url = await serve({
    '/code': () => ({ status: 200, body: { device_code: 'dc', user_code: 'AAAA-BBBB', verification_uri: 'https://example.com/device', expires_in: 60, interval: 1 } }),
    '/token': () => (++polls === 1 ? { status: 200, body: { error: 'slow_down', interval: 7 } } : { status: 200, body: { access_token: 'tok-0123456789', token_type: 'bearer' } }),
  });
  const h = await load({ clientId: 'c', deviceAuthorizationEndpoint: `${url}/code`, tokenEndpoint: `${url}/token` });
  const login = await h.auth('auth-device-flow').login();
  const controller = new AbortController();
  const waiting = login.wait({ signal: controller.signal }).catch((e: unknown) => e);
  // The plugin answers the host once the server's slow_down reached it; on a busy machine that takes a while.
  const until = Date.now() + 10_000;
  while (login.interval === 1 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(polls).toBe(1);
  expect(login.interval).toBe(7);
  controller.abort(new Error('enough'));
  expect(await waiting).toMatchObject({ message: 'enough' });
});

it('Google: verification_url, 428 while pending, client_secret sent with token requests, refresh without rotation', async () => {
  let polls = 0;
  const url = await serve({
    '/device/code': () => ({ status: 200, body: { device_code: 'g-dc', user_code: 'GQVQ-JKEC', verification_url: 'https://www.google.com/device', expires_in: 1800, interval: 1 } }),
    '/token': (form) => {
      if (form.get('grant_type') === 'refresh_token') return { status: 200, body: { access_token: 'ya29.refreshed-token-value', expires_in: 3599, token_type: 'Bearer', scope: 'openid email' } };
      return ++polls === 1
        ? { status: 428, body: { error: 'authorization_pending', error_description: 'Precondition Required' } }
        : { status: 200, body: { access_token: 'ya29.first-token-value', expires_in: 30, refresh_token: '1//google-refresh', token_type: 'Bearer', scope: 'openid email' } };
    },
  });
  const h = await load({ clientId: 'g.apps.googleusercontent.com', clientSecret: 'GOCSPX-demo', deviceAuthorizationEndpoint: `${url}/device/code`, tokenEndpoint: `${url}/token`, refreshMarginSeconds: 60 });
  const login = await h.auth('auth-device-flow').login();
  expect(login.verificationUri).toBe('https://www.google.com/device');
  expect(await login.wait()).toMatchObject({ signedIn: true, scopes: ['openid', 'email'] });
  // The token expires within the margin: the next get-token refreshes it, keeping the refresh token Google did not rotate.
  expect((await h.auth('auth-device-flow').token()).accessToken).toBe('ya29.refreshed-token-value');
  const tokenCalls = seen.filter((r) => r.path === '/token');
  expect(tokenCalls.map((r) => r.form.get('client_secret'))).toEqual(['GOCSPX-demo', 'GOCSPX-demo', 'GOCSPX-demo']);
  expect(tokenCalls.at(-1)!.form.get('refresh_token')).toBe('1//google-refresh');
  expect(seen[0]!.form.get('client_secret')).toBeNull();
});

it('refuses a token endpoint answer without an access token as a protocol error', async () => {
  const url = await serve({
    '/code': () => ({ status: 200, body: { device_code: 'dc', user_code: 'AAAA-BBBB', verification_uri: 'https://example.com/device', expires_in: 60, interval: 1 } }),
    '/token': () => ({ status: 200, body: { token_type: 'bearer' } }),
  });
  const h = await load({ clientId: 'c', deviceAuthorizationEndpoint: `${url}/code`, tokenEndpoint: `${url}/token` });
  const login = await h.auth('auth-device-flow').login();
  await expect(login.wait()).rejects.toMatchObject({ code: 'AUTH_FAILED', message: expect.stringContaining('without an access_token') });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHost, type Host, type LogEntry } from '@airlock/host';
import { startOAuthServer, type OAuthServer, type OAuthServerOptions } from '@airlock/oauth-server';
import { rejection } from '@airlock/test-utils';

const pluginDir = new URL('..', import.meta.url).pathname;
const ID = 'auth-device-flow';

let home: string;
let server: OAuthServer;
let logs: LogEntry[];
const hosts: Host[] = [];

/** The plugin's configuration for `server`. */
const configFor = (s: OAuthServer, extra: Record<string, unknown> = {}) => ({
  clientId: 'airlock-demo',
  deviceAuthorizationEndpoint: s.deviceAuthorizationEndpoint,
  tokenEndpoint: s.tokenEndpoint,
  revocationEndpoint: s.revocationEndpoint,
  userinfoEndpoint: s.userinfoEndpoint,
  scopes: ['read', 'chat'],
  ...extra,
});

async function start(extra: Record<string, unknown> = {}): Promise<Host> {
  const host = await createHost({ home, logger: (e) => logs.push(e) });
  hosts.push(host);
  await host.load(pluginDir, { grant: 'manifest', config: configFor(server, extra) });
  return host;
}

async function serve(options: OAuthServerOptions = {}): Promise<OAuthServer> {
  server = await startOAuthServer({ interval: 1, ...options });
  return server;
}

/** Sign in through the device flow, approving as soon as the code is shown. */
async function signIn(host: Host) {
  const login = await host.auth(ID).login();
  server.approve(login.userCode);
  return login.wait();
}

const tokenRequests = () => server.requests.filter((r) => r.path === '/token');

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-auth-'));
  logs = [];
});

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  await server?.close();
  await rm(home, { recursive: true, force: true });
});

describe('device flow against a real authorization server', () => {
  it('signs in: code and URL from the server, tokens the server accepts, account from userinfo', async () => {
    await serve({ account: 'ada' });
    const host = await start();
    expect(host.plugins()[0]!.capabilities.http).toEqual([server.url]);

    const auth = host.auth(ID);
    expect((await auth.status()).signedIn).toBe(false);
    const login = await auth.login();
    expect(login.userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(login.verificationUri).toBe(server.verificationUri);
    expect(login.verificationUriComplete).toBe(`${server.verificationUri}?user_code=${login.userCode}`);
    expect(login.expiresAt).toBeGreaterThan(Date.now() + 500_000);

    // The user has not approved yet: the first poll is answered authorization_pending.
    const waiting = login.wait();
    await new Promise<void>((resolve) => server.events.once('request', () => resolve()));
    server.approve(login.userCode);
    const status = await waiting;

    expect(status).toMatchObject({ signedIn: true, account: 'ada', method: 'device-flow', scopes: ['read', 'chat'] });
    expect(status.expiresAt).toBeGreaterThan(Date.now() + 3_000_000);
    expect(tokenRequests().map((r) => r.error ?? r.status)).toEqual(['authorization_pending', 200]);
    const token = await auth.token();
    expect(server.verifyAccessToken(token.accessToken)).toMatchObject({ valid: true, account: 'ada', scope: 'read chat' });
    expect(token.tokenType).toBe('Bearer');
  });

  it('keeps the session across host restarts', async () => {
    await serve();
    const first = await start();
    await signIn(first);
    const token = (await first.auth(ID).token()).accessToken;
    await first.close();

    const second = await start();
    expect(await second.auth(ID).status()).toMatchObject({ signedIn: true, account: 'demo-user' });
    expect((await second.auth(ID).token()).accessToken).toBe(token);
  });

  it('slows down when the server says slow_down, and still signs in', async () => {
    // The server's clock runs at half speed, so a poll one real second after the
    // last looks half a second early to it: the second poll gets slow_down.
    const t0 = Date.now();
    await serve({ interval: 1, slowDownStep: 1, now: () => t0 + (Date.now() - t0) / 2 });
    const host = await start();
    const login = await host.auth(ID).login();
    // The user approves while the device is told to slow down.
    const pollTimes: number[] = [];
    server.events.on('request', (r) => {
      if (r.path === '/token') pollTimes.push(Date.now());
      if (r.error === 'slow_down') server.approve(login.userCode);
    });
    const status = await login.wait();

    expect(status.signedIn).toBe(true);
    const polls = tokenRequests();
    expect(polls.map((r) => r.error ?? r.status)).toEqual(['authorization_pending', 'slow_down', 200]);
    // RFC 8628 §3.5: every later poll waits 5 s more.
    expect(login.interval).toBe(6);
    expect(pollTimes[2]! - pollTimes[1]!).toBeGreaterThanOrEqual(5_900);
    // 8 s of intervals, plus starting a host, which takes long on a busy machine.
  }, 60_000);

  it('reports a denial as AUTH_DENIED and stays signed out', async () => {
    await serve();
    const host = await start();
    const login = await host.auth(ID).login();
    server.deny(login.userCode);
    const err = await rejection(login.wait());
    expect(err.code).toBe('AUTH_DENIED');
    expect(err.hint).toContain('start again');
    expect((await host.auth(ID).status()).signedIn).toBe(false);
  });

  it('reports a code that expired at the server as AUTH_EXPIRED', async () => {
    let skew = 0;
    await serve({ now: () => Date.now() + skew });
    const host = await start();
    const login = await host.auth(ID).login();
    const waiting = rejection(login.wait());
    await new Promise<void>((resolve) => server.events.once('request', () => resolve()));
    skew = 3_600_000; // an hour passes at the server
    const err = await waiting;
    expect(err.code).toBe('AUTH_EXPIRED');
    expect(err.message).toContain('expired');
    expect(tokenRequests().map((r) => r.error)).toEqual(['authorization_pending', 'expired_token']);
  });

  it('stops waiting when the signal aborts', async () => {
    await serve();
    const host = await start();
    const login = await host.auth(ID).login();
    const controller = new AbortController();
    const waiting = login.wait({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user pressed Ctrl-C')), 200);
    await expect(waiting).rejects.toThrow('user pressed Ctrl-C');
    expect(tokenRequests()).toHaveLength(0);
  });

  it('reports a client the server does not know, naming the server error', async () => {
    await serve({ clients: ['someone-else'] });
    const host = await start();
    const err = await rejection(host.auth(ID).login());
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toContain('invalid_client');
  });
});

describe('tokens', () => {
  it('hands out the stored token while it is fresh, without asking the server', async () => {
    await serve();
    const host = await start();
    await signIn(host);
    const before = server.requests.length;
    const a = await host.auth(ID).token();
    const b = await host.auth(ID).token();
    expect(b.accessToken).toBe(a.accessToken);
    expect(server.requests.length).toBe(before);
  });

  it('refreshes a token that expires within the margin, rotating the refresh token', async () => {
    await serve({ accessTokenTtl: 120 });
    const host = await start({ refreshMarginSeconds: 300 });
    await signIn(host);
    const first = (await host.auth(ID).token()).accessToken;
    const second = (await host.auth(ID).token()).accessToken;
    expect(second).not.toBe(first);
    expect(server.verifyAccessToken(second).valid).toBe(true);
    // The rotated refresh token works again: a second refresh succeeds.
    const third = (await host.auth(ID).token()).accessToken;
    expect(third).not.toBe(second);
    expect(tokenRequests().filter((r) => r.grantType === 'refresh_token').map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('refreshes an expired token', async () => {
    await serve({ accessTokenTtl: 1 });
    const host = await start({ refreshMarginSeconds: 0 });
    await signIn(host);
    const first = await host.auth(ID).token();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(server.verifyAccessToken(first.accessToken).valid).toBe(false);
    const second = await host.auth(ID).token();
    expect(server.verifyAccessToken(second.accessToken).valid).toBe(true);
    expect(second.expiresAt).toBeGreaterThan(Date.now());
  });

  it('signs out when the server no longer accepts the refresh token', async () => {
    await serve({ accessTokenTtl: 120 });
    const host = await start({ refreshMarginSeconds: 300 });
    await signIn(host);
    // The user withdraws the app's access at the provider.
    expect(server.revokeAll()).toBe(1);
    const err = await rejection(host.auth(ID).token());
    expect(err.code).toBe('AUTH_REFRESH_FAILED');
    expect(err.hint).toContain('airlock auth login auth-device-flow');
    expect((await host.auth(ID).status()).signedIn).toBe(false);
  });

  it('logs out: revokes at the server and forgets the session', async () => {
    await serve();
    const host = await start();
    await signIn(host);
    const token = (await host.auth(ID).token()).accessToken;
    await host.auth(ID).logout();
    expect(server.verifyAccessToken(token).valid).toBe(false);
    expect(server.requests.filter((r) => r.path === '/revoke').map((r) => r.status)).toEqual([200, 200]);
    expect((await host.auth(ID).status()).signedIn).toBe(false);
    expect((await rejection(host.auth(ID).token())).code).toBe('AUTH_NOT_SIGNED_IN');
  });

  it('signs in with an API key instead', async () => {
    await serve();
    const host = await start();
    expect(await host.auth(ID).setApiKey('sk-local-0123456789')).toMatchObject({ signedIn: true, method: 'api-key' });
    expect((await host.auth(ID).token()).accessToken).toBe('sk-local-0123456789');
    expect((await rejection(host.auth(ID).setApiKey('two words'))).message).toContain('without spaces');
  });

  it('never writes a token to the log', async () => {
    await serve({ accessTokenTtl: 120 });
    const host = await start({ refreshMarginSeconds: 300 });
    await signIn(host);
    const tokens = [(await host.auth(ID).token()).accessToken, (await host.auth(ID).token()).accessToken];
    await host.auth(ID).logout();
    expect(logs.some((l) => l.message.includes('signed in as demo-user'))).toBe(true);
    for (const t of tokens) expect(logs.filter((l) => l.message.includes(t))).toEqual([]);
  });
});

describe('configuration and grants', () => {
  it('refuses to load without the required settings, naming them', async () => {
    await serve();
    const host = await createHost({ home, logger: () => {} });
    hosts.push(host);
    const err = await rejection(host.load(pluginDir, { grant: 'manifest', config: { clientId: 'x' } }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('deviceAuthorizationEndpoint');
  });

  it('refuses to load when the user did not grant the configured server', async () => {
    await serve();
    const host = await createHost({ home, logger: () => {} });
    hosts.push(host);
    const err = await rejection(host.load(pluginDir, { grant: { storage: {}, http: ['https://github.com'] }, config: configFor(server) }));
    expect(err.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(err.message).toContain(`http ${server.url}`);
    await host.load(pluginDir, { grant: { storage: {}, http: [server.url] }, config: configFor(server) });
    expect((await host.auth(ID).status()).signedIn).toBe(false);
  });
});

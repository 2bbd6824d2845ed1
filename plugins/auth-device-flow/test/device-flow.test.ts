import { afterEach, describe, expect, it } from 'vitest';
import { startOAuthServer, type OAuthServer, type OAuthServerOptions } from '@airlock/oauth-server';
import { createTestHost, type DeviceAuthorization, type TestHost } from '@airlock/plugin-kit/testing';
import { rejection } from '@airlock/test-utils';
import { untilDue } from './due.js';

const plugin = new URL('..', import.meta.url);

/**
 * Where the plugin is configured to find its authorization server. The test
 * host sends this origin to the loopback server, so the plugin is configured
 * and granted as it would be for a real provider.
 */
const ORIGIN = 'https://login.example.com';

let server: OAuthServer;
let t: TestHost | undefined;

/** The plugin's configuration for `server`, at ORIGIN. */
const configFor = (s: OAuthServer, extra: Record<string, unknown> = {}) => {
  const at = (url: string) => `${ORIGIN}${new URL(url).pathname}`;
  return {
    clientId: 'airlock-demo',
    deviceAuthorizationEndpoint: at(s.deviceAuthorizationEndpoint),
    tokenEndpoint: at(s.tokenEndpoint),
    revocationEndpoint: at(s.revocationEndpoint),
    userinfoEndpoint: at(s.userinfoEndpoint),
    scopes: ['read', 'chat'],
    ...extra,
  };
};

async function start(extra: Record<string, unknown> = {}): Promise<TestHost> {
  t = await createTestHost({ plugin, config: configFor(server, extra), fetch: { [ORIGIN]: server.url } });
  return t;
}

async function serve(options: OAuthServerOptions = {}): Promise<OAuthServer> {
  server = await startOAuthServer({ interval: 1, ...options });
  return server;
}

/** Sign in through the device flow, approving as soon as the code is shown. */
const signIn = (host: TestHost) => host.deviceLogin({ approve: (login) => server.approve(login.userCode) });

const tokenRequests = () => server.requests.filter((r) => r.path === '/token');


afterEach(async () => {
  await t?.close();
  t = undefined;
  await server?.close();
});

describe('device flow against a real authorization server', () => {
  it('signs in: code and URL from the server, tokens the server accepts, account from userinfo', async () => {
    await serve({ account: 'ada' });
    const t = await start();
    expect(t.info.capabilities.http).toEqual([ORIGIN]);

    expect((await t.auth.status()).signedIn).toBe(false);
    let login: DeviceAuthorization | undefined;
    const status = await t.deviceLogin({
      approve: async (shown) => {
        login = { ...shown };
        // The user has not approved yet: the first poll is answered authorization_pending.
        await new Promise<void>((resolve) => server.events.once('request', () => resolve()));
        server.approve(shown.userCode);
      },
    });
    expect(login!.userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(login!.verificationUri).toBe(server.verificationUri);
    expect(login!.verificationUriComplete).toBe(`${server.verificationUri}?user_code=${login!.userCode}`);
    expect(login!.expiresAt).toBeGreaterThan(Date.now() + 500_000);

    expect(status).toMatchObject({ signedIn: true, account: 'ada', method: 'device-flow', scopes: ['read', 'chat'] });
    expect(status.expiresAt).toBeGreaterThan(Date.now() + 3_000_000);
    expect(tokenRequests().map((r) => r.error ?? r.status)).toEqual(['authorization_pending', 200]);
    const token = await t.auth.token();
    expect(server.verifyAccessToken(token.accessToken)).toMatchObject({ valid: true, account: 'ada', scope: 'read chat' });
    expect(token.tokenType).toBe('Bearer');
  });

  it('keeps the session across host restarts', async () => {
    await serve();
    const t = await start();
    await signIn(t);
    const token = (await t.auth.token()).accessToken;
    await t.restart();
    expect(await t.auth.status()).toMatchObject({ signedIn: true, account: 'demo-user' });
    expect((await t.auth.token()).accessToken).toBe(token);
  });

  it('slows down when the server says slow_down, and still signs in', async () => {
    // The server's clock runs at half speed, so a poll one real second after the
    // last looks half a second early to it: the second poll gets slow_down.
    const t0 = Date.now();
    await serve({ interval: 1, slowDownStep: 1, now: () => t0 + (Date.now() - t0) / 2 });
    const t = await start();
    const pollTimes: number[] = [];
    let login!: DeviceAuthorization;
    const status = await t.deviceLogin({
      approve: (shown) => {
        login = shown;
        // The user approves while the device is told to slow down.
        server.events.on('request', (r) => {
          if (r.path === '/token') pollTimes.push(Date.now());
          if (r.error === 'slow_down') server.approve(shown.userCode);
        });
      },
    });

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
    const t = await start();
    const err = await rejection(t.deviceLogin({ approve: (login) => server.deny(login.userCode) }));
    expect(err.code).toBe('AUTH_DENIED');
    expect(err.hint).toContain('start again');
    expect((await t.auth.status()).signedIn).toBe(false);
  });

  it('reports a code that expired at the server as AUTH_EXPIRED', async () => {
    let skew = 0;
    await serve({ now: () => Date.now() + skew });
    const t = await start();
    const err = await rejection(
      t.deviceLogin({
        approve: async () => {
          await new Promise<void>((resolve) => server.events.once('request', () => resolve()));
          skew = 3_600_000; // an hour passes at the server
        },
      }),
    );
    expect(err.code).toBe('AUTH_EXPIRED');
    expect(err.message).toContain('expired');
    expect(tokenRequests().map((r) => r.error)).toEqual(['authorization_pending', 'expired_token']);
  });

  it('stops waiting when the signal aborts', async () => {
    await serve();
    const t = await start();
    const controller = new AbortController();
    const waiting = t.deviceLogin({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user pressed Ctrl-C')), 200);
    await expect(waiting).rejects.toThrow('user pressed Ctrl-C');
    expect(tokenRequests()).toHaveLength(0);
  });

  it('reports a client the server does not know, naming the server error', async () => {
    await serve({ clients: ['someone-else'] });
    const t = await start();
    const err = await rejection(t.deviceLogin());
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toContain('invalid_client');
  });
});

describe('tokens', () => {
  it('hands out the stored token while it is fresh, without asking the server', async () => {
    await serve();
    const t = await start();
    await signIn(t);
    const before = server.requests.length;
    const a = await t.auth.token();
    const b = await t.auth.token();
    expect(b.accessToken).toBe(a.accessToken);
    expect(server.requests.length).toBe(before);
  });

  it('refreshes a token within the margin, capped at a quarter of its lifetime, rotating the refresh token', async () => {
    // Tokens live 1 s and the margin is 300 s: the margin is capped at 250 ms, so a fresh token is not refreshed on every call.
    await serve({ accessTokenTtl: 1 });
    const t = await start({ refreshMarginSeconds: 300 });
    await signIn(t);
    const first = (await t.auth.token()).accessToken;
    expect((await t.auth.token()).accessToken).toBe(first);
    expect(tokenRequests().filter((r) => r.grantType === 'refresh_token')).toEqual([]);
    await untilDue(await t.auth.token());
    const second = await t.auth.token();
    expect(second.accessToken).not.toBe(first);
    expect(server.verifyAccessToken(second.accessToken).valid).toBe(true);
    // The rotated refresh token works again: the next refresh succeeds too.
    await untilDue(second);
    const third = await t.auth.token();
    expect(third.accessToken).not.toBe(second.accessToken);
    expect(tokenRequests().filter((r) => r.grantType === 'refresh_token').map((r) => r.status)).toEqual([200, 200]);
  });

  it('refreshes an expired token', async () => {
    await serve({ accessTokenTtl: 1 });
    const t = await start({ refreshMarginSeconds: 0 });
    await signIn(t);
    const first = await t.auth.token();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(server.verifyAccessToken(first.accessToken).valid).toBe(false);
    const second = await t.auth.token();
    expect(server.verifyAccessToken(second.accessToken).valid).toBe(true);
    expect(second.expiresAt).toBeGreaterThan(Date.now());
  });

  it('signs out when the server no longer accepts the refresh token', async () => {
    await serve({ accessTokenTtl: 1 });
    const t = await start({ refreshMarginSeconds: 300 });
    await signIn(t);
    await untilDue(await t.auth.token());
    // The user withdraws the app's access at the provider.
    expect(server.revokeAll()).toBe(1);
    const err = await rejection(t.auth.token());
    expect(err.code).toBe('AUTH_REFRESH_FAILED');
    expect(err.hint).toContain('airlock auth login auth-device-flow');
    expect((await t.auth.status()).signedIn).toBe(false);
  });

  it('logs out: revokes at the server and forgets the session', async () => {
    await serve();
    const t = await start();
    await signIn(t);
    const token = (await t.auth.token()).accessToken;
    await t.auth.logout();
    expect(server.verifyAccessToken(token).valid).toBe(false);
    expect(server.requests.filter((r) => r.path === '/revoke').map((r) => r.status)).toEqual([200, 200]);
    expect((await t.auth.status()).signedIn).toBe(false);
    expect((await rejection(t.auth.token())).code).toBe('AUTH_NOT_SIGNED_IN');
  });

  it('keeps the session in its storage, and signs out when it is gone', async () => {
    await serve();
    const t = await start();
    await signIn(t);
    expect(await t.storage.keys()).not.toEqual([]);
    for (const key of await t.storage.keys()) await t.storage.delete(key);
    expect((await t.auth.status()).signedIn).toBe(false);
  });

  it('signs in with an API key instead', async () => {
    await serve();
    const t = await start();
    expect(await t.auth.setApiKey('sk-local-0123456789')).toMatchObject({ signedIn: true, method: 'api-key' });
    expect((await t.auth.token()).accessToken).toBe('sk-local-0123456789');
    expect((await rejection(t.auth.setApiKey('two words'))).message).toContain('without spaces');
  });

  it('never writes a token to the log', async () => {
    await serve({ accessTokenTtl: 1 });
    const t = await start({ refreshMarginSeconds: 300 });
    await signIn(t);
    const first = await t.auth.token();
    await untilDue(first);
    // The second is a refreshed one: the refresh path logs too.
    const tokens = [first.accessToken, (await t.auth.token()).accessToken];
    expect(tokens[1]).not.toBe(tokens[0]);
    await t.auth.logout();
    expect(t.logs.some((l) => l.message.includes('signed in as demo-user'))).toBe(true);
    for (const token of tokens) expect(t.logs.filter((l) => l.message.includes(token))).toEqual([]);
  });
});

describe('configuration and grants', () => {
  it('signs in and refreshes with only the issuer configured, its endpoints read from its metadata (RFC 8414)', async () => {
    await serve({ issuer: ORIGIN, accessTokenTtl: 1 });
    t = await createTestHost({ plugin, config: { clientId: 'airlock-demo', issuer: ORIGIN, scopes: ['read'], refreshMarginSeconds: 300 }, fetch: { [ORIGIN]: server.url } });
    expect(await signIn(t)).toMatchObject({ signedIn: true, account: 'demo-user' });
    const first = await t.auth.token();
    expect(server.verifyAccessToken(first.accessToken).valid).toBe(true);
    await untilDue(first);
    expect(server.verifyAccessToken((await t.auth.token()).accessToken).valid).toBe(true);
    // The metadata was read once, and kept.
    expect(server.requests.filter((r) => r.path === '/.well-known/oauth-authorization-server')).toHaveLength(1);
    expect(tokenRequests().map((r) => r.grantType)).toEqual(expect.arrayContaining(['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token']));
  });

  it('refuses metadata that names another issuer', async () => {
    await serve({ issuer: 'https://impostor.example.com' });
    t = await createTestHost({ plugin, config: { clientId: 'airlock-demo', issuer: ORIGIN }, fetch: { [ORIGIN]: server.url } });
    const err = await rejection(t.deviceLogin());
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toContain(`names the issuer "https://impostor.example.com", not ${ORIGIN}`);
  });

  it('refuses to load without the required settings, naming them', async () => {
    await serve();
    const err = await rejection(createTestHost({ plugin, config: { clientId: 'x' } }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('deviceAuthorizationEndpoint');
  });

  it('refuses to load when the user did not grant the configured server', async () => {
    await serve();
    const fetch = { [ORIGIN]: server.url };
    const err = await rejection(createTestHost({ plugin, grant: { storage: {}, http: ['https://github.com'] }, config: configFor(server), fetch }));
    expect(err.code).toBe('CAPABILITY_NOT_GRANTED');
    expect(err.message).toContain(`http ${ORIGIN}`);
    t = await createTestHost({ plugin, grant: { storage: {}, http: [ORIGIN] }, config: configFor(server), fetch });
    expect((await t.auth.status()).signedIn).toBe(false);
  });
});

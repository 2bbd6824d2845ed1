import { describe, expect, it } from 'vitest';
import { manualClock, obtainTokens, postForm, start, userinfo } from './helpers.js';

describe('refresh tokens', () => {
  it('rotate: the new tokens work and the old refresh token is spent', async () => {
    const server = await start();
    const first = await obtainTokens(server, 'read write');
    const refreshed = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'airlock-demo' });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'read write' });
    expect(refreshed.body.access_token).not.toBe(first.access_token);
    expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
    expect((await userinfo(server, refreshed.body.access_token as string)).status).toBe(200);

    const replay = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'airlock-demo' });
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // The rotated-in refresh token keeps the chain going; client_id is optional here.
    const again = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token as string });
    expect(again.status).toBe(200);
  });

  it('may narrow the scope but not widen it', async () => {
    const server = await start();
    const tokens = await obtainTokens(server, 'read write');
    const narrowed = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: 'read' });
    expect(narrowed.body.scope).toBe('read');
    expect(server.verifyAccessToken(narrowed.body.access_token as string)).toMatchObject({ valid: true, scope: 'read' });
    const widened = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: narrowed.body.refresh_token as string, scope: 'read admin' });
    expect(widened).toMatchObject({ status: 400, body: { error: 'invalid_scope', error_description: 'scope beyond the original grant: admin' } });
  });

  it('belong to the client they were issued to', async () => {
    const server = await start({ clients: ['airlock-demo', 'other-app'] });
    const tokens = await obtainTokens(server);
    expect(tokens.scope).toBeUndefined(); // nothing asked, nothing granted
    const stolen = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'other-app' });
    expect(stolen.body.error).toBe('invalid_grant');
    const unknown = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: 'not-a-token' });
    expect(unknown.body.error).toBe('invalid_grant');
  });
});

describe('access tokens', () => {
  it('expire after accessTokenTtl', async () => {
    const clock = manualClock();
    const server = await start({ now: clock.now, accessTokenTtl: 60 });
    const tokens = await obtainTokens(server);
    expect(tokens.expires_in).toBe(60);
    clock.advance(59);
    expect((await userinfo(server, tokens.access_token)).status).toBe(200);
    expect(server.verifyAccessToken(tokens.access_token)).toEqual({
      valid: true,
      clientId: 'airlock-demo',
      account: 'demo-user',
      scope: '',
      expiresAt: clock.now() + 1000,
    });

    clock.advance(1);
    const expired = await userinfo(server, tokens.access_token);
    expect(expired).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    expect(expired.headers.get('www-authenticate')).toMatch(/^Bearer realm="airlock-oauth-server", error="invalid_token"/);
    expect(server.verifyAccessToken(tokens.access_token)).toEqual({ valid: false });

    // The refresh token outlives the access token.
    const refreshed = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect((await userinfo(server, refreshed.body.access_token as string)).status).toBe(200);
  });

  it('are required by /userinfo', async () => {
    const server = await start();
    const missing = await fetch(server.userinfoEndpoint);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="airlock-oauth-server"');
    expect(await missing.json()).toMatchObject({ error: 'invalid_token' });
    const basic = await fetch(server.userinfoEndpoint, { headers: { authorization: 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' } });
    expect(basic.status).toBe(401);
    expect((await userinfo(server, 'made-up')).status).toBe(401);
    expect(server.verifyAccessToken('made-up')).toEqual({ valid: false });
  });
});

describe('revocation', () => {
  it('revokes an access token and leaves its refresh token usable', async () => {
    const server = await start();
    const tokens = await obtainTokens(server);
    const revoked = await postForm(server.revocationEndpoint, { token: tokens.access_token, token_type_hint: 'access_token', client_id: 'airlock-demo' });
    expect(revoked.status).toBe(200);
    expect((await userinfo(server, tokens.access_token)).status).toBe(401);
    const refreshed = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);
  });

  it('revokes a refresh token together with the access tokens issued under it', async () => {
    const server = await start();
    const tokens = await obtainTokens(server);
    expect((await postForm(server.revocationEndpoint, { token: tokens.refresh_token })).status).toBe(200);
    expect(server.verifyAccessToken(tokens.access_token)).toEqual({ valid: false });
    const refreshed = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('revokes every token at once, as a user withdrawing the app would', async () => {
    const server = await start();
    const first = await obtainTokens(server);
    const second = await obtainTokens(server);
    expect(server.revokeAll()).toBe(2);
    for (const t of [first, second]) {
      expect(server.verifyAccessToken(t.access_token)).toEqual({ valid: false });
      const refreshed = await postForm(server.tokenEndpoint, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
      expect(refreshed.body.error).toBe('invalid_grant');
    }
    expect(server.revokeAll()).toBe(0);
  });

  it('answers 200 for unknown tokens, leaves other clients’ tokens alone, and needs a token', async () => {
    const server = await start({ clients: ['airlock-demo', 'other-app'] });
    const tokens = await obtainTokens(server);
    expect((await postForm(server.revocationEndpoint, { token: 'never-issued' })).status).toBe(200);
    expect((await postForm(server.revocationEndpoint, { token: tokens.access_token, client_id: 'other-app' })).status).toBe(200);
    expect(server.verifyAccessToken(tokens.access_token).valid).toBe(true);
    expect(await postForm(server.revocationEndpoint, { token_type_hint: 'access_token' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: 'missing parameter token' },
    });
  });
});

describe('metadata', () => {
  it('publishes the endpoints (RFC 8414)', async () => {
    const server = await start();
    const res = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(await res.json()).toMatchObject({
      issuer: server.url,
      device_authorization_endpoint: server.deviceAuthorizationEndpoint,
      token_endpoint: server.tokenEndpoint,
      revocation_endpoint: server.revocationEndpoint,
      userinfo_endpoint: server.userinfoEndpoint,
      grant_types_supported: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    });
  });

  it('names the issuer it is known by, and lists the endpoints under it', async () => {
    const server = await start({ issuer: 'https://login.example.com/' });
    const res = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(await res.json()).toMatchObject({ issuer: 'https://login.example.com', token_endpoint: 'https://login.example.com/token' });
  });

  it.each(['not a url', 'ftp://x.example', 'https://x.example/?a=1'])('refuses the issuer %j', async (issuer) => {
    await expect(start({ issuer })).rejects.toThrow(RangeError);
  });
});

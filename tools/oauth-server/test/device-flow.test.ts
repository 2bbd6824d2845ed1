import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { manualClock, poll, requestDeviceCode, start, userinfo } from './helpers.js';

/** Submit the verification page's form, as a browser would. */
async function submitDecision(verificationUri: string, userCode: string, action: string): Promise<{ status: number; text: string }> {
  const res = await fetch(verificationUri, { method: 'POST', body: new URLSearchParams({ user_code: userCode, action }) });
  return { status: res.status, text: await res.text() };
}

describe('device authorization grant', () => {
  it('issues tokens once the user approves on the verification page', async () => {
    const server = await start({ interval: 0.05 });
    const auth = await requestDeviceCode(server, 'profile');
    expect(auth).toMatchObject({
      user_code: expect.stringMatching(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/),
      verification_uri: server.verificationUri,
      verification_uri_complete: `${server.verificationUri}?user_code=${auth.user_code}`,
      expires_in: 600,
      interval: 1, // 0.05 s, rounded up to a whole second on the wire
    });
    expect(auth.device_code.length).toBeGreaterThanOrEqual(40);
    expect(server.intervalMs).toBe(50);

    expect((await poll(server, auth.device_code)).body.error).toBe('authorization_pending');

    const page = await fetch(auth.verification_uri_complete);
    const html = await page.text();
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html).toContain(`value="${auth.user_code}"`);
    expect(html).toContain('<strong>airlock-demo</strong> asks for access to <code>profile</code>');

    // Users type codes loosely: lower case, no dash.
    const approval = await submitDecision(server.verificationUri, auth.user_code.toLowerCase().replace('-', ''), 'approve');
    expect(approval.status).toBe(200);
    expect(approval.text).toContain('Approved');

    const answer = await poll(server, auth.device_code);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: expect.any(String),
      scope: 'profile',
    });

    const accessToken = answer.body.access_token as string;
    expect(await userinfo(server, accessToken)).toMatchObject({ status: 200, body: { sub: 'demo-user', name: 'demo-user' } });
    expect(server.verifyAccessToken(accessToken)).toMatchObject({ valid: true, clientId: 'airlock-demo', account: 'demo-user', scope: 'profile' });
    expect(server.requests.map(({ method, path, status, error }) => [method, path, status, error])).toEqual([
      ['POST', '/device/code', 200, undefined],
      ['POST', '/token', 400, 'authorization_pending'],
      ['GET', '/device', 200, undefined],
      ['POST', '/device', 200, undefined],
      ['POST', '/token', 200, undefined],
      ['GET', '/userinfo', 200, undefined],
    ]);
  });

  it('answers slow_down to polls faster than the interval, and grows the interval by the step each time', async () => {
    const clock = manualClock();
    const server = await start({ now: clock.now }); // interval 5 s, step 5 s
    const { device_code, user_code } = await requestDeviceCode(server);

    expect((await poll(server, device_code)).body.error).toBe('authorization_pending');
    clock.advance(1);
    expect((await poll(server, device_code)).body.error).toBe('slow_down');
    expect(server.pollIntervalMs(device_code)).toBe(10_000);
    clock.advance(6); // still under the new 10 s
    expect((await poll(server, device_code)).body.error).toBe('slow_down');
    expect(server.pollIntervalMs(device_code)).toBe(15_000);

    clock.advance(15);
    expect((await poll(server, device_code)).body.error).toBe('authorization_pending');
    server.approve(user_code);
    clock.advance(15);
    expect((await poll(server, device_code)).status).toBe(200);
    expect(server.requests.filter((r) => r.error === 'slow_down')).toHaveLength(2);
  });

  it('enforces fractional intervals and steps in real time', async () => {
    // Wide enough that two back-to-back polls land inside one interval on a loaded CI machine.
    const server = await start({ interval: 0.5, slowDownStep: 0.25 });
    const { device_code } = await requestDeviceCode(server);
    expect((await poll(server, device_code)).body.error).toBe('authorization_pending');
    expect((await poll(server, device_code)).body.error).toBe('slow_down');
    expect(server.pollIntervalMs(device_code)).toBe(750);
    await sleep(server.pollIntervalMs(device_code) + 20);
    expect((await poll(server, device_code)).body.error).toBe('authorization_pending');
  });

  it('answers access_denied when the user denies', async () => {
    const server = await start();
    const { device_code, user_code } = await requestDeviceCode(server);
    const denial = await submitDecision(server.verificationUri, user_code, 'deny');
    expect(denial).toMatchObject({ status: 200, text: expect.stringContaining('Denied') });
    expect(await poll(server, device_code)).toMatchObject({ status: 400, body: { error: 'access_denied' } });
    expect(() => server.approve(user_code)).toThrow(`user code ${user_code} was already denied`);
  });

  it('denies programmatically too', async () => {
    const server = await start();
    const { device_code, user_code } = await requestDeviceCode(server);
    server.deny(user_code.toLowerCase());
    expect((await poll(server, device_code)).body.error).toBe('access_denied');
  });

  it('answers expired_token once the device code outlives expires_in', async () => {
    const clock = manualClock();
    const server = await start({ now: clock.now, expiresIn: 30 });
    const { device_code, user_code, expires_in } = await requestDeviceCode(server);
    expect(expires_in).toBe(30);
    clock.advance(30);
    expect(await poll(server, device_code)).toMatchObject({ status: 400, body: { error: 'expired_token' } });
    expect(() => server.approve(user_code)).toThrow(`user code ${user_code} has expired`);
    const page = await submitDecision(server.verificationUri, user_code, 'approve');
    expect(page).toMatchObject({ status: 400, text: expect.stringContaining('has expired') });
  });

  it('expires device codes in real time with a fractional expiresIn', async () => {
    const server = await start({ expiresIn: 0.05 });
    const { device_code, expires_in } = await requestDeviceCode(server);
    expect(expires_in).toBe(1);
    // Real time, not the injected clock: poll until the 50 ms have passed.
    let error: unknown;
    while ((error = (await poll(server, device_code)).body.error) !== 'expired_token') {
      expect(['authorization_pending', 'slow_down']).toContain(error);
      await sleep(10);
    }
  });

  it('exchanges a device code only once', async () => {
    const server = await start();
    const { device_code, user_code } = await requestDeviceCode(server);
    server.approve(user_code);
    expect((await poll(server, device_code)).status).toBe(200);
    expect(await poll(server, device_code)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(() => server.deny(user_code)).toThrow('was already approved');
  });

  it('binds a device code to the client that asked for it', async () => {
    const server = await start({ clients: ['airlock-demo', 'other-app'] });
    const { device_code, user_code } = await requestDeviceCode(server);
    server.approve(user_code);
    expect((await poll(server, device_code, 'other-app')).body.error).toBe('invalid_grant');
    expect((await poll(server, device_code)).status).toBe(200);
  });

  it('approves each code at its first poll with autoApprove', async () => {
    const server = await start({ autoApprove: true, account: 'ada' });
    const { device_code } = await requestDeviceCode(server);
    const answer = await poll(server, device_code);
    expect(answer.status).toBe(200);
    expect((await userinfo(server, answer.body.access_token as string)).body).toEqual({ sub: 'ada', name: 'ada' });
  });

  it('refuses to approve unknown codes', async () => {
    const server = await start();
    expect(() => server.approve('BCDF-GHJK')).toThrow('unknown user code "BCDF-GHJK"');
    const page = await submitDecision(server.verificationUri, 'BCDF-GHJK', 'approve');
    expect(page).toMatchObject({ status: 400, text: expect.stringContaining('unknown user code') });
  });

  it('serves a verification page that escapes what it echoes and asks for a decision', async () => {
    const server = await start();
    const blank = await (await fetch(server.verificationUri)).text();
    expect(blank).toContain('<form method="post" action="/device">');
    expect(blank).toContain('name="action" value="approve"');
    expect(blank).toContain('name="action" value="deny"');
    const echoed = await (await fetch(`${server.verificationUri}?user_code=${encodeURIComponent('"><script>')}`)).text();
    expect(echoed).not.toContain('<script>');
    expect(echoed).toContain('value="&#34;&#62;&#60;script&#62;"');

    const { user_code } = await requestDeviceCode(server);
    const undecided = await submitDecision(server.verificationUri, user_code, 'maybe');
    expect(undecided).toMatchObject({ status: 400, text: expect.stringContaining('Choose Approve or Deny') });
  });

  it('gives concurrent device authorizations distinct codes', async () => {
    const server = await start();
    const auths = await Promise.all(Array.from({ length: 20 }, () => requestDeviceCode(server)));
    expect(new Set(auths.map((a) => a.user_code)).size).toBe(20);
    expect(new Set(auths.map((a) => a.device_code)).size).toBe(20);
  });
});

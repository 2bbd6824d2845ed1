import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DEVICE_CODE_GRANT, MAX_BODY_BYTES, startOAuthServer } from '../src/index.js';
import { poll, postForm, requestDeviceCode, start } from './helpers.js';

describe('bad requests', () => {
  it('name the missing parameter', async () => {
    const server = await start();
    const cases: [string, Record<string, string>, string][] = [
      [server.deviceAuthorizationEndpoint, {}, 'client_id'],
      [server.tokenEndpoint, { client_id: 'airlock-demo' }, 'grant_type'],
      [server.tokenEndpoint, { grant_type: DEVICE_CODE_GRANT, client_id: 'airlock-demo' }, 'device_code'],
      [server.tokenEndpoint, { grant_type: DEVICE_CODE_GRANT, device_code: 'x' }, 'client_id'],
      [server.tokenEndpoint, { grant_type: 'refresh_token' }, 'refresh_token'],
      [server.revocationEndpoint, {}, 'token'],
    ];
    for (const [url, params, missing] of cases) {
      expect(await postForm(url, params)).toMatchObject({
        status: 400,
        body: { error: 'invalid_request', error_description: `missing parameter ${missing}` },
      });
    }
  });

  it('refuse unknown clients with 401 invalid_client', async () => {
    const server = await start();
    const device = await postForm(server.deviceAuthorizationEndpoint, { client_id: 'stranger' });
    expect(device).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const token = await poll(server, 'whatever', 'stranger');
    expect(token).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuse unsupported grant types and unknown device codes', async () => {
    const server = await start();
    const password = await postForm(server.tokenEndpoint, { grant_type: 'password', username: 'u', password: 'p' });
    expect(password).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    expect(await poll(server, 'no-such-code')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('refuse bodies that are not form-encoded, repeated parameters and malformed scopes', async () => {
    const server = await start();
    const asJson = await fetch(server.deviceAuthorizationEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'airlock-demo' }),
    });
    expect(asJson.status).toBe(400);
    expect(await asJson.json()).toEqual({ error: 'invalid_request', error_description: 'the request body must be application/x-www-form-urlencoded' });

    const repeated = await fetch(server.deviceAuthorizationEndpoint, { method: 'POST', body: new URLSearchParams('client_id=airlock-demo&client_id=airlock-demo') });
    expect(await repeated.json()).toMatchObject({ error: 'invalid_request', error_description: 'parameter client_id is repeated' });

    const scope = await postForm(server.deviceAuthorizationEndpoint, { client_id: 'airlock-demo', scope: 'read "quoted"' });
    expect(scope).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
  });

  it('answer 404, 405 and 413 in JSON, and keep serving', async () => {
    const server = await start();
    const missing = await fetch(`${server.url}/authorize`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });

    const getToken = await fetch(server.tokenEndpoint);
    expect(getToken.status).toBe(405);
    expect(getToken.headers.get('allow')).toBe('POST');
    expect(await getToken.json()).toMatchObject({ error: 'method_not_allowed' });
    const deletePage = await fetch(server.verificationUri, { method: 'DELETE' });
    expect(deletePage.status).toBe(405);
    expect(deletePage.headers.get('allow')).toBe('GET, POST');

    const huge = await fetch(server.tokenEndpoint, { method: 'POST', body: new URLSearchParams({ grant_type: 'x'.repeat(MAX_BODY_BYTES) }) });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: 'invalid_request' });
    const streamed = await fetch(server.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new Blob(['a=', 'x'.repeat(MAX_BODY_BYTES)]).stream(), // chunked: no content-length to refuse up front
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    await streamed.body?.cancel();

    await expect(requestDeviceCode(server)).resolves.toMatchObject({ interval: 5 });
    expect(server.requests.map((r) => [r.status, r.error])).toEqual([
      [404, 'not_found'],
      [405, 'method_not_allowed'],
      [405, 'method_not_allowed'],
      [413, 'invalid_request'],
      [413, 'invalid_request'],
      [200, undefined],
    ]);
  });
});

describe('the server', () => {
  it('refuses options it cannot honour', async () => {
    await expect(startOAuthServer({ host: '0.0.0.0' })).rejects.toThrow('host must be a loopback address, got "0.0.0.0"');
    await expect(startOAuthServer({ interval: 0 })).rejects.toThrow('interval must be a positive number of seconds, got 0');
    await expect(startOAuthServer({ clients: [] })).rejects.toThrow('clients must list at least one non-empty client id');
    await expect(startOAuthServer({ port: 70000 })).rejects.toThrow(RangeError);
  });

  it('emits each request, and closes connections that are still busy', async () => {
    const server = await startOAuthServer();
    const seen: string[] = [];
    server.events.on('request', (record) => seen.push(`${record.method} ${record.path} ${record.status}`));
    await fetch(server.url);
    expect(seen).toEqual(['GET / 404']);

    // A request whose body never ends: the server is still waiting for it when closed.
    const arrived = once(server.events, 'request-start');
    const stalled = fetch(server.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new ReadableStream({ start: (controller) => controller.enqueue(new TextEncoder().encode('grant_type=')) }),
      duplex: 'half',
    } as RequestInit);
    expect((await arrived)[0]).toMatchObject({ method: 'POST', path: '/token', status: 0 });
    // Closing does not wait for it (the test would time out if it did), and two closes are one.
    await Promise.all([server.close(), server.close()]);
    await expect(stalled).rejects.toThrow();
    await expect(fetch(server.url)).rejects.toThrow();
  });
});

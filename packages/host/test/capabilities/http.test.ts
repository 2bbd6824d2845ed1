import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpBroker, MAX_OPEN_RESPONSES, MAX_RETAINED_RESPONSES, originMatches, parseConnectTo, parseRange } from '../../src/capabilities/http.js';

describe('originMatches', () => {
  it.each([
    ['https://*.example.com', 'https://a.example.com', true],
    ['https://*.example.com', 'https://a.b.example.com', true],
    ['https://*.example.com', 'https://example.com', false],
    ['https://*.example.com', 'https://evilexample.com', false],
    ['https://*.example.com', 'https://example.com.evil.io', false],
    ['https://*.example.com', 'http://a.example.com', false],
    ['https://*.example.com', 'https://a.example.com:8443', false],
    ['https://api.example.com', 'https://api.example.com:443', true],
    ['https://api.example.com:443', 'https://api.example.com', true],
    ['http://api.example.com', 'http://api.example.com:8080', false],
    ['https://API.example.com', 'https://api.example.com', true],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080', true],
    ['http://[::1]:8080', 'http://[::1]:8080', true],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8081', false],
  ])('%s matches %s: %s', (pattern, origin, expected) => {
    expect(originMatches(pattern, origin)).toBe(expected);
  });
});

describe('parseRange', () => {
  it('reads IPv4 and IPv6 ranges and refuses anything else', () => {
    expect(parseRange('127.0.0.0/8')).toEqual({ address: '127.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseRange('::1/128')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    expect(parseRange('10.0.0.0/33')).toBeUndefined();
    expect(parseRange('https://a.example.com')).toBeUndefined();
    expect(parseRange('example.com/8')).toBeUndefined();
  });
});

describe('HttpBroker response bodies', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  /** A loopback server answering every request with `respond` (closed after the test); its port. */
  async function listen(respond: (res: ServerResponse) => void): Promise<number> {
    server = createServer((_req, res) => respond(res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  /** A loopback server answering every request with `respond`, and a broker granted its origin. */
  async function setup(respond: (res: ServerResponse) => void, maxBodyBytes = 64 << 20) {
    const port = await listen(respond);
    const broker = new HttpBroker({ pluginId: 't', origins: [`http://127.0.0.1:${port}`], ranges: [], maxBodyBytes, log: () => {} });
    const sent = (await broker.serve('send', [{ method: 'GET', scheme: 'http', authority: `127.0.0.1:${port}`, path: '/', headers: [], body: new Uint8Array() }])) as { ok: { id: number } };
    const read = async (max = 1 << 20) => (await broker.serve('read', [sent.ok.id, max])) as { ok?: Uint8Array; err?: { tag: string } };
    return { broker, id: sent.ok.id, read };
  }

  it('hands over everything that arrived since the last read in one answer, up to the size asked', async () => {
    let done!: () => void;
    const written = new Promise<void>((resolve) => (done = resolve));
    const { broker, id, read } = await setup(async (res) => {
      res.writeHead(200);
      for (let i = 0; i < 50; i++) {
        res.write(`data: ${i}\n\n`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end(() => done());
    });
    await written;
    // Everything has arrived at the host before the plugin reads.
    while (!broker.held(id)?.ended) await new Promise((resolve) => setImmediate(resolve));
    const pieces: string[] = [];
    for (;;) {
      const r = await read(100);
      if (!r.ok) break;
      expect(r.ok.length).toBeLessThanOrEqual(100);
      pieces.push(Buffer.from(r.ok).toString());
    }
    const expected = Array.from({ length: 50 }, (_, i) => `data: ${i}\n\n`).join('');
    expect(pieces.join('')).toBe(expected);
    // 50 server writes, read in pieces of at most 100 bytes: as few reads as the size allows.
    expect(pieces.length).toBe(Math.ceil(expected.length / 100));
  });

  it('answers a non-blocking read at once (nothing while the body is quiet) and a poll when bytes come or the wait is up', async () => {
    let send!: () => void;
    const go = new Promise<void>((resolve) => (send = resolve));
    const { broker, id } = await setup(async (res) => {
      res.writeHead(200);
      res.flushHeaders();
      await go;
      res.end('late');
    });
    const peek = async () => (await broker.serve('read', [id, 100, false])) as { ok?: Uint8Array; err?: { tag: string } };
    expect((await peek()).ok).toEqual(new Uint8Array(0));
    expect(await broker.serve('poll', [[id], 0])).toEqual({ ok: [] });
    // A poll with a short wait comes back empty when nothing came.
    expect(await broker.serve('poll', [[id], 5])).toEqual({ ok: [] });
    // A poll without a limit waits for the bytes.
    const waiting = broker.serve('poll', [[id], null]);
    send();
    expect(await waiting).toEqual({ ok: [id] });
    while (!broker.held(id)?.ended) await new Promise((resolve) => setImmediate(resolve));
    expect(Buffer.from((await peek()).ok!).toString()).toBe('late');
    expect((await peek()).err).toEqual({ tag: 'closed' });
    // A body the plugin dropped is ready: a read says it is closed.
    broker.serve('drop', [id]);
    expect(await broker.serve('poll', [[id], null])).toEqual({ ok: [id] });
  });

  it('stops reading from the socket when the plugin does not read', async () => {
    const chunk = Buffer.alloc(64 * 1024, 120);
    const { broker, id, read } = await setup((res) => {
      res.writeHead(200);
      let wrote = 0;
      const pump = () => {
        while (wrote < 48 << 20) {
          wrote += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    // Once 1 MiB is unread the host stops reading the socket; TCP then holds the server back.
    while (!broker.held(id)?.paused) await new Promise((resolve) => setImmediate(resolve));
    const held = broker.held(id)!;
    expect(held.ended).toBe(false);
    expect(held.bytes).toBeGreaterThanOrEqual(1 << 20);
    expect(held.bytes).toBeLessThan((1 << 20) + (256 << 10));
    // A read lets it go on.
    expect((await read(1 << 20)).ok!.byteLength).toBe(1 << 20);
    expect(broker.held(id)!.paused).toBe(false);
  });

  it(`refuses a request while ${MAX_OPEN_RESPONSES} response bodies are still arriving unread, and takes one again once a body is read to its end`, async () => {
    // Bodies that keep coming until the test says so.
    const ends: (() => void)[] = [];
    const port = await listen((res) => {
      res.writeHead(200);
      res.write('hel');
      ends.push(() => res.end('lo'));
    });
    const logs: string[] = [];
    const broker = new HttpBroker({ pluginId: 't', origins: [`http://127.0.0.1:${port}`], ranges: [], maxBodyBytes: 1 << 20, log: (_level, message) => logs.push(message) });
    const send = () => broker.serve('send', [{ method: 'GET', scheme: 'http', authority: `127.0.0.1:${port}`, path: '/', headers: [], body: new Uint8Array() }]) as Promise<{ ok?: { id: number }; err?: { tag: string }; refused?: { message: string; hint: string } }>;
    const ids: number[] = [];
    for (let i = 0; i < MAX_OPEN_RESPONSES; i++) ids.push((await send()).ok!.id);
    const refused = await send();
    expect(refused.err).toEqual({ tag: 'HTTP-request-denied' });
    expect(refused.refused?.message).toBe(`GET http://127.0.0.1:${port}: the plugin has ${MAX_OPEN_RESPONSES} responses whose bodies are still arriving and that it has not read, the most it may have at once`);
    expect(refused.refused?.hint).toContain('Read each response body to its end');
    expect(logs.at(-1)).toBe(`denied ${refused.refused?.message}`);
    // One body ends: it no longer holds a connection, so a request goes out again, and its body is still there to read.
    const id = ids[0]!;
    ends[0]!();
    while (!broker.held(id)?.ended) await new Promise((resolve) => setImmediate(resolve));
    expect((await send()).ok?.id).toBeGreaterThan(ids.at(-1)!);
    expect(Buffer.from(((await broker.serve('read', [id, 100])) as { ok: Uint8Array }).ok).toString()).toBe('hello');
    expect(await broker.serve('read', [id, 100])).toEqual({ err: { tag: 'closed' } });
    // It answers a late read or drop as before.
    expect(await broker.serve('drop', [id])).toEqual({ ok: undefined });
    for (const end of ends) end();
    broker.closeAll();
  });

  it(`keeps at most ${MAX_RETAINED_RESPONSES} unread bodies that have all arrived, dropping the oldest, whose late read fails`, async () => {
    const port = await listen((res) => res.end('hello'));
    const broker = new HttpBroker({ pluginId: 't', origins: [`http://127.0.0.1:${port}`], ranges: [], maxBodyBytes: 1 << 20, log: () => {} });
    const send = () => broker.serve('send', [{ method: 'GET', scheme: 'http', authority: `127.0.0.1:${port}`, path: '/', headers: [], body: new Uint8Array() }]) as Promise<{ ok?: { id: number }; err?: unknown }>;
    // A plugin that looks only at each response's status: every request goes out.
    const ids: number[] = [];
    for (let i = 0; i < MAX_RETAINED_RESPONSES + 20; i++) {
      const sent = await send();
      expect(sent.err).toBeUndefined();
      ids.push(sent.ok!.id);
      while (!broker.held(sent.ok!.id)?.ended) await new Promise((resolve) => setImmediate(resolve));
    }
    // The host holds no more than the limit: the oldest were dropped.
    expect(ids.filter((id) => broker.held(id) !== undefined)).toHaveLength(MAX_RETAINED_RESPONSES);
    expect(broker.held(ids[0]!)).toBeUndefined();
    const late = (await broker.serve('read', [ids[0]!, 100])) as { err: { tag: string; val: string } };
    expect(late.err.tag).toBe('failed');
    expect(late.err.val).toContain(`held more than ${MAX_RETAINED_RESPONSES} responses it had not read to the end`);
    // The newest are whole.
    expect(Buffer.from(((await broker.serve('read', [ids.at(-1)!, 100])) as { ok: Uint8Array }).ok).toString()).toBe('hello');
    broker.closeAll();
  });
});

describe('parseConnectTo', () => {
  it('keys targets by normalized origin and ignores a target path', () => {
    const { map, problems } = parseConnectTo({ 'https://API.example.com:443': 'http://127.0.0.1:8080/v1', 'http://other.example:81': 'http://[::1]:9000', 'https://c.example': 'http://localhost' });
    expect(problems).toEqual([]);
    expect([...map]).toEqual([
      ['https://api.example.com', { hostname: '127.0.0.1', port: 8080 }],
      ['http://other.example:81', { hostname: '::1', port: 9000 }],
      ['https://c.example', { hostname: 'localhost', port: 80 }],
    ]);
  });

  it('names every entry that is not an origin mapped to a plain-HTTP loopback URL', () => {
    const { map, problems } = parseConnectTo({
      'https://api.example.com/v1': 'http://127.0.0.1:1',
      'ftp://files.example.com': 'http://127.0.0.1:1',
      'https://a.example.com': 'https://127.0.0.1:1',
      'https://b.example.com': 'http://10.0.0.1:8080',
      'https://c.example.com': 'not a url',
    });
    expect(map.size).toBe(0);
    expect(problems).toEqual([
      'the key "https://api.example.com/v1" is not an http(s) origin such as "https://api.example.com" (no path, query or credentials)',
      'the key "ftp://files.example.com" is not an http(s) origin such as "https://api.example.com" (no path, query or credentials)',
      'the target of https://a.example.com must be a plain http:// URL of a loopback server, got "https://127.0.0.1:1"',
      'the target of https://b.example.com must be a loopback address (127.0.0.0/8, [::1] or localhost), got 10.0.0.1:8080',
      'the target of https://c.example.com must be a plain http:// URL of a loopback server, got "not a url"',
    ]);
  });
});

describe('HttpBroker connectTo', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  /** A loopback server that records what it receives and answers `hello from <host header>`. */
  async function loopback() {
    const seen: { method: string; path: string; host: string | undefined; test: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ method: req.method!, path: req.url!, host: req.headers.host, test: req.headers['x-test'] as string | undefined });
      if (req.url === '/away') res.writeHead(302, { location: 'https://elsewhere.example.com/' }).end();
      else if (req.url === '/hop') res.writeHead(302, { location: '/landed' }).end();
      else res.writeHead(200).end(`hello from ${req.headers.host}`);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    return { seen, port, url: `http://127.0.0.1:${port}` };
  }

  function broker(origins: string[], connectTo: Record<string, string>) {
    const logs: string[] = [];
    const { map } = parseConnectTo(connectTo);
    const b = new HttpBroker({ pluginId: 't', origins, ranges: [], maxBodyBytes: 1 << 20, log: (_level, message) => logs.push(message), connectTo: map });
    const get = async (url: string) => {
      const u = new URL(url);
      const sent = (await b.serve('send', [
        { method: 'GET', scheme: u.protocol.slice(0, -1), authority: u.host, path: u.pathname + u.search, headers: [['x-test', new TextEncoder().encode('yes')]], body: new Uint8Array() },
      ])) as { ok?: { id: number; status: number }; err?: { tag: string } };
      if (!sent.ok) return { err: sent.err!.tag };
      const chunks: Buffer[] = [];
      for (;;) {
        const r = (await b.serve('read', [sent.ok.id, 1 << 20])) as { ok?: Uint8Array };
        if (!r.ok) break;
        chunks.push(Buffer.from(r.ok));
      }
      return { status: sent.ok.status, body: Buffer.concat(chunks).toString() };
    };
    return { get, logs };
  }

  it('sends a granted, mapped origin to its loopback server, with the original path, headers and Host', async () => {
    const server = await loopback();
    const { get } = broker(['https://api.example.com'], { 'https://api.example.com': server.url });
    expect(await get('https://api.example.com/v1/models?limit=2')).toEqual({ status: 200, body: 'hello from api.example.com' });
    expect(server.seen).toEqual([{ method: 'GET', path: '/v1/models?limit=2', host: 'api.example.com', test: 'yes' }]);
  });

  it('refuses an origin the plugin was not granted even when it is mapped, without connecting', async () => {
    const server = await loopback();
    const { get, logs } = broker(['https://api.example.com'], { 'https://api.example.com': server.url, 'https://evil.example.com': server.url });
    expect(await get('https://evil.example.com/')).toEqual({ err: 'HTTP-request-denied' });
    expect(logs).toEqual(['denied GET https://evil.example.com: the plugin holds no http grant for it']);
    expect(server.seen).toEqual([]);
  });

  it('keeps the refusal beside the WIT error: the origin, and the manifest entry that would allow it', async () => {
    const b = new HttpBroker({ pluginId: 'weather', origins: ['https://api.example.com'], ranges: [], maxBodyBytes: 1 << 20, log: () => {} });
    const send = (url: string) => {
      const u = new URL(url);
      return b.serve('send', [{ method: 'POST', scheme: u.protocol.slice(0, -1), authority: u.host, path: u.pathname, headers: [], body: new Uint8Array() }]);
    };
    expect(await send('https://api.weather.example/v1/now')).toEqual({
      err: { tag: 'HTTP-request-denied' },
      refused: {
        capability: 'http',
        message: 'POST https://api.weather.example: plugin `weather` holds no http grant for this origin',
        hint:
          'Add "https://api.weather.example" to "capabilities.http" in the "airlock" field of the plugin\'s package.json, ' +
          "and grant it (`airlock grant weather http https://api.weather.example`, or load with grant 'manifest').",
      },
    });
    expect(await send('ftp://files.example.com/x')).toMatchObject({ refused: { message: 'POST ftp://files.example.com/x: only http and https URLs can be fetched' } });
  });

  it('leaves unmapped origins alone: a granted loopback origin is reached directly, a name that resolves to loopback stays refused', async () => {
    const mapped = await loopback();
    const direct = await loopback();
    const { get, logs } = broker([direct.url, `http://localhost:${direct.port}`, 'https://api.example.com'], { 'https://api.example.com': mapped.url });
    expect(await get(`${direct.url}/x`)).toEqual({ status: 200, body: `hello from 127.0.0.1:${direct.port}` });
    expect(await get(`http://localhost:${direct.port}/y`)).toEqual({ err: 'HTTP-request-denied' });
    expect(logs.at(-1)).toMatch(/^denied GET http:\/\/localhost:\d+: localhost resolves to .*, a non-public address no grant names$/);
    expect(direct.seen.map((r) => r.path)).toEqual(['/x']);
    expect(mapped.seen).toEqual([]);
  });

  it('checks and maps every redirect hop: a hop to an ungranted origin is refused, one within the origin is followed', async () => {
    const server = await loopback();
    const { get } = broker(['https://api.example.com'], { 'https://api.example.com': server.url, 'https://elsewhere.example.com': server.url });
    expect(await get('https://api.example.com/away')).toEqual({ err: 'HTTP-request-denied' });
    expect(await get('https://api.example.com/hop')).toEqual({ status: 200, body: 'hello from api.example.com' });
    expect(server.seen.map((r) => r.path)).toEqual(['/away', '/hop', '/landed']);
  });
});

describe('HttpBroker credential injection', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  /** A loopback server standing for every origin: it records each request's Host and Authorization; `/away` redirects to another origin, `/hop` within its own. */
  async function loopback() {
    const seen: { host: string | undefined; path: string; authorization: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ host: req.headers.host, path: req.url!, authorization: req.headers.authorization });
      if (req.url === '/away') res.writeHead(302, { location: 'https://other.example.com/landed' }).end();
      else if (req.url === '/hop') res.writeHead(302, { location: '/landed' }).end();
      else res.writeHead(200).end('ok');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  async function setup(token: () => Promise<{ ok: { accessToken: string; tokenType: string } } | { err: { tag: string; val: string } }>) {
    const server = await loopback();
    const audit: { capability?: string; action: string; target: string; outcome: string; detail: string | undefined }[] = [];
    const logs: string[] = [];
    const { map } = parseConnectTo({ 'https://api.example.com': server.url, 'https://other.example.com': server.url });
    const b = new HttpBroker({
      pluginId: 'p',
      origins: ['https://api.example.com', 'https://other.example.com'],
      ranges: [],
      maxBodyBytes: 1 << 20,
      log: (_level, message) => logs.push(message),
      connectTo: map,
      audit: ({ call: _call, ...e }) => audit.push(e),
      inject: [{ authPlugin: 'auth-x', origins: ['https://api.example.com'], token }],
    });
    const get = async (url: string, authorization?: string) => {
      const u = new URL(url);
      const headers: [string, Uint8Array][] = authorization ? [['Authorization', new TextEncoder().encode(authorization)]] : [];
      const sent = (await b.serve('send', [{ method: 'GET', scheme: 'https', authority: u.host, path: u.pathname, headers, body: new Uint8Array() }])) as { ok?: { id: number; status: number }; err?: unknown; refused?: unknown };
      if (sent.ok) b.serve('drop', [sent.ok.id]);
      return sent.ok ? { status: sent.ok.status } : { err: sent.err, refused: sent.refused };
    };
    return { get, seen: server.seen, audit, logs };
  }

  const signedIn = async () => ({ ok: { accessToken: 'tok_secret', tokenType: 'Bearer' } });

  it('adds the token to requests to a bound origin, replacing the plugin\'s own, and to no other origin', async () => {
    const { get, seen, audit } = await setup(signedIn);
    expect(await get('https://api.example.com/a')).toEqual({ status: 200 });
    expect(await get('https://api.example.com/b', 'Bearer forged')).toEqual({ status: 200 });
    expect(await get('https://other.example.com/c')).toEqual({ status: 200 });
    expect(await get('https://other.example.com/d', 'Basic mine')).toEqual({ status: 200 });
    expect(seen).toEqual([
      { host: 'api.example.com', path: '/a', authorization: 'Bearer tok_secret' },
      { host: 'api.example.com', path: '/b', authorization: 'Bearer tok_secret' },
      { host: 'other.example.com', path: '/c', authorization: undefined },
      { host: 'other.example.com', path: '/d', authorization: 'Basic mine' },
    ]);
    expect(audit.filter((e) => e.capability === 'credentials')).toEqual([
      { capability: 'credentials', action: 'inject', target: 'https://api.example.com', outcome: 'allowed', detail: 'auth-x' },
      { capability: 'credentials', action: 'inject', target: 'https://api.example.com', outcome: 'allowed', detail: 'auth-x' },
    ]);
    expect(JSON.stringify(audit)).not.toContain('tok_secret');
  });

  it('leaves the token behind on a redirect to another origin, and adds it again on a hop within the bound one', async () => {
    const { get, seen } = await setup(signedIn);
    expect(await get('https://api.example.com/away')).toEqual({ status: 200 });
    expect(await get('https://api.example.com/hop')).toEqual({ status: 200 });
    expect(seen).toEqual([
      { host: 'api.example.com', path: '/away', authorization: 'Bearer tok_secret' },
      { host: 'other.example.com', path: '/landed', authorization: undefined },
      { host: 'api.example.com', path: '/hop', authorization: 'Bearer tok_secret' },
      { host: 'api.example.com', path: '/landed', authorization: 'Bearer tok_secret' },
    ]);
  });

  it('fails a request to a bound origin when there is no token, without sending it, and says how to sign in', async () => {
    const { get, seen, audit, logs } = await setup(async () => ({ err: { tag: 'not-signed-in', val: 'auth plugin `auth-x`: sign in first' } }));
    const message = 'GET https://api.example.com: not signed in to auth-x: run `airlock auth login auth-x`';
    expect(await get('https://api.example.com/a')).toEqual({
      err: { tag: 'internal-error', val: message },
      refused: { capability: 'credentials', message, hint: 'Sign in (`airlock auth login auth-x`, or host.auth("auth-x").login()), then retry.' },
    });
    expect(await get('https://other.example.com/b')).toEqual({ status: 200 });
    expect(seen.map((r) => r.path)).toEqual(['/b']);
    expect(audit).toContainEqual({ capability: 'credentials', action: 'inject', target: 'https://api.example.com', outcome: 'refused', detail: message });
    expect(logs).toEqual([`denied ${message}`]);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHost, type HostLimits, type LogEntry } from '@airlock/host';
import { pluginVariant } from '@airlock/test-utils';

const fixture = new URL('../fixtures/misbehaving', import.meta.url).pathname;

let base: string;
let granted: Server;
let other: Server;
let port: number;
let otherPort: number;
const seen: string[] = [];
const held: import('node:http').ServerResponse[] = [];
/** 600 kB of text that differs along its length, so a lost, repeated or reordered piece shows. */
const LARGE = Array.from({ length: 60_000 }, (_, i) => String(i % 1_000_000_000).padStart(9, '0')).join('\n');

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-http-'));
  granted = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/hello') return res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from loopback');
    if (req.url === '/echo') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, body })));
      return;
    }
    if (req.url === '/redirect-in') return res.writeHead(302, { location: '/hello' }).end();
    if (req.url === '/redirect-out') return res.writeHead(302, { location: `http://127.0.0.1:${otherPort}/secret` }).end();
    if (req.url === '/big') return res.writeHead(200).end('x'.repeat(5000));
    if (req.url === '/large') {
      // Pieces of uneven size, many times what the ring the plugin reads holds: the
      // body passes through the ring, and what waits beyond it on the host.
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let at = 0; at < LARGE.length; ) {
        const n = 1 + ((at * 7919) % 70_000);
        res.write(LARGE.slice(at, at + n));
        at += n;
      }
      return res.end();
    }
    // Never answers: the request is held until the test lets it go.
    if (req.url === '/hang') return void held.push(res);
    res.writeHead(404).end();
  });
  other = createServer((req, res) => {
    seen.push(`other ${req.method} ${req.url}`);
    res.end('you should not see this');
  });
  port = await listen(granted);
  otherPort = await listen(other);
});

afterAll(async () => {
  for (const res of held.splice(0)) res.destroy();
  granted.close();
  other.close();
  await rm(base, { recursive: true, force: true });
});

/** The fixture, as a plugin whose manifest asks for `http`. */
const fetcher = async (http: string[]) =>
  pluginVariant(fixture, await mkdtemp(join(base, 'plugin-')), (pkg) => {
    pkg.airlock.capabilities = { http };
  });

type FetchResult = { status?: number; text?: string; type?: string; rejected?: boolean; message?: string };

async function run(http: string[], url: string, init: { method?: string; body?: string } = {}, limits?: HostLimits) {
  const logs: LogEntry[] = [];
  const host = await createHost({ home: join(base, 'home'), logger: (e) => logs.push(e), limits });
  try {
    await host.load(await fetcher(http), { grant: 'manifest' });
    const result = (await host.callTool('fetch', { url, ...init })) as FetchResult;
    return { result, logs };
  } finally {
    await host.close();
  }
}

const denials = (logs: LogEntry[]) => logs.filter((l) => l.level === 'warn' && l.message.startsWith('denied')).map((l) => l.message);

describe('outbound HTTP through the gate', () => {
  it('reaches a granted origin, with its body and headers', async () => {
    const { result } = await run([`http://127.0.0.1:${port}`], `http://127.0.0.1:${port}/hello`);
    expect(result).toEqual({ status: 200, text: 'hello from loopback', type: 'text/plain' });
  });

  it('sends the method and body', async () => {
    const { result } = await run([`http://127.0.0.1:${port}`], `http://127.0.0.1:${port}/echo`, { method: 'POST', body: '{"q":1}' });
    expect(JSON.parse(result.text!)).toEqual({ method: 'POST', body: '{"q":1}' });
  });

  it('refuses an origin that is not granted: fetch rejects and the host logs it', async () => {
    const before = seen.length;
    const { result, logs } = await run([`http://127.0.0.1:${port}`], `http://127.0.0.1:${otherPort}/secret`);
    expect(result.rejected).toBe(true);
    expect(denials(logs)).toEqual([`denied GET http://127.0.0.1:${otherPort}: the plugin holds no http grant for it`]);
    expect(seen.slice(before)).toEqual([]);
  });

  it('refuses a granted name that resolves to a loopback address unless the range is granted', async () => {
    const refused = await run([`http://localhost:${port}`], `http://localhost:${port}/hello`);
    expect(refused.result.rejected).toBe(true);
    expect(denials(refused.logs)[0]).toMatch(/^denied GET http:\/\/localhost:\d+: localhost resolves to .*non-public address/);
    const allowed = await run([`http://localhost:${port}`, '127.0.0.0/8', '::1/128'], `http://localhost:${port}/hello`);
    expect(allowed.result).toMatchObject({ status: 200, text: 'hello from loopback' });
  });

  it('follows a redirect within the grant, and refuses one that leaves it', async () => {
    const inside = await run([`http://127.0.0.1:${port}`], `http://127.0.0.1:${port}/redirect-in`);
    expect(inside.result).toMatchObject({ status: 200, text: 'hello from loopback' });
    const before = seen.length;
    const outside = await run([`http://127.0.0.1:${port}`], `http://127.0.0.1:${port}/redirect-out`);
    expect(outside.result.rejected).toBe(true);
    expect(denials(outside.logs)).toEqual([`denied GET http://127.0.0.1:${otherPort}: the plugin holds no http grant for it`]);
    expect(seen.slice(before)).toEqual(['GET /redirect-out']);
  });

  it('hands a large body over whole and in order, however the server cuts it', async () => {
    const { result } = await run([`http://127.0.0.1:${port}`], `http://127.0.0.1:${port}/large`);
    expect(result).toMatchObject({ status: 200 });
    expect(result.text!.length).toBe(LARGE.length);
    expect(result.text === LARGE).toBe(true);
  });

  it('serves a plugin that never reads its bodies, request after request, and a body read afterwards is whole', async () => {
    const logs: LogEntry[] = [];
    const host = await createHost({ home: join(base, 'home'), logger: (e) => logs.push(e) });
    try {
      await host.load(await fetcher([`http://127.0.0.1:${port}`]), { grant: 'manifest' });
      // More unread bodies than a plugin may have still arriving (64), and than the host keeps once they have arrived (256).
      for (let i = 0; i < 300; i++) {
        expect(await host.callTool('fetch', { url: `http://127.0.0.1:${port}/hello`, statusOnly: true, rethrow: true })).toEqual({ status: 200 });
      }
      expect(await host.callTool('fetch', { url: `http://127.0.0.1:${port}/hello` })).toEqual({ status: 200, text: 'hello from loopback', type: 'text/plain' });
      expect(denials(logs)).toEqual([]);
    } finally {
      await host.close();
    }
  });

  it('caps the response body', async () => {
    const { result } = await run([`http://127.0.0.1:${port}`], `http://127.0.0.1:${port}/big`, {}, { maxHttpBodyBytes: 1000 });
    expect(result.rejected).toBe(true);
    const fine = await run([`http://127.0.0.1:${port}`], `http://127.0.0.1:${port}/big`, {}, { maxHttpBodyBytes: 10_000 });
    expect(fine.result.text).toHaveLength(5000);
  });
});

describe('cancelling a call that waits on the host', () => {
  it('stops a call whose request is in flight: it rejects with the signal’s reason at once, and the plugin serves the next call', async () => {
    const host = await createHost({ home: join(base, 'home'), logger: () => {} });
    try {
      await host.load(await fetcher([`http://127.0.0.1:${port}`]), { grant: 'manifest' });
      const waiting = held.length;
      const controller = new AbortController();
      const call = host.callTool('fetch', { url: `http://127.0.0.1:${port}/hang` }, { signal: controller.signal });
      // The plugin is waiting on the host once the server holds its request.
      await vi.waitFor(() => expect(held.length).toBe(waiting + 1), { timeout: 30_000, interval: 10 });
      controller.abort();
      await expect(call).rejects.toMatchObject({ name: 'AbortError' });
      await expect(host.callTool('fetch', { url: `http://127.0.0.1:${port}/hello` })).resolves.toMatchObject({ status: 200, text: 'hello from loopback' });
    } finally {
      await host.close();
    }
  });
});

import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpBroker, originMatches, parseRange } from '../../src/capabilities/http.js';

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

  /** A loopback server answering every request with `respond`, and a broker granted its origin. */
  async function setup(respond: (res: ServerResponse) => void, maxBodyBytes = 64 << 20) {
    server = createServer((_req, res) => respond(res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const broker = new HttpBroker({ pluginId: 't', origins: [`http://127.0.0.1:${port}`], ranges: [], maxBodyBytes, log: () => {} });
    const sent = (await broker.serve('send', [{ method: 'GET', scheme: 'http', authority: `127.0.0.1:${port}`, path: '/', headers: [], body: new Uint8Array() }])) as { ok: { id: number } };
    const read = async (max = 1 << 20) => (await broker.serve('read', [sent.ok.id, max])) as { ok?: Uint8Array; err?: { tag: string } };
    return { broker, id: sent.ok.id, read };
  }

  it('hands over everything that arrived since the last read in one answer, up to the size asked', async () => {
    let done!: () => void;
    const written = new Promise<void>((resolve) => (done = resolve));
    const { read } = await setup(async (res) => {
      res.writeHead(200);
      for (let i = 0; i < 50; i++) {
        res.write(`data: ${i}\n\n`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end(() => done());
    });
    await written;
    await new Promise((resolve) => setTimeout(resolve, 50));
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

  it('stops reading from the socket when the plugin does not read', async () => {
    let wrote = 0;
    const chunk = Buffer.alloc(64 * 1024, 120);
    await setup((res) => {
      res.writeHead(200);
      const pump = () => {
        while (wrote < 48 << 20) {
          wrote += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The host holds at most 1 MiB unread; the rest waits in socket buffers or at the server.
    expect(wrote).toBeLessThan(16 << 20);
  });
});

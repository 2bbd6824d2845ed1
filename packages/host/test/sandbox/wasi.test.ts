import { describe, expect, it } from 'vitest';
import { createWasi } from '../../src/sandbox/wasi.js';
import { createFdTable } from '../../src/sandbox/wasi-fs.js';
import { Pollable } from '../../src/sandbox/wasi-io.js';

type Api = Record<string, Record<string, (...args: never[]) => unknown> & Record<string, unknown>>;

function wasi() {
  const out: string[] = [];
  const err: string[] = [];
  const sent: unknown[] = [];
  /** The fake body: whether its bytes have come, and the timeouts polls were given. */
  const body = { arrived: true, polls: [] as (number | undefined)[] };
  const api = createWasi({
    args: ['demo'],
    env: { ONLY_THIS: '1' },
    stdout: (b) => out.push(new TextDecoder().decode(b)),
    stderr: (b) => err.push(new TextDecoder().decode(b)),
    http: {
      send(request) {
        sent.push(request);
        if (request.authority === 'denied.example.com') throw { tag: 'HTTP-request-denied' };
        return { id: 7, status: 201, headers: [['content-type', new TextEncoder().encode('text/plain')]] };
      },
      read(id, max, wait) {
        if (id !== 7 || max < 2) throw { tag: 'closed' };
        if (!body.arrived && !wait) return new Uint8Array(0);
        return new TextEncoder().encode('ok');
      },
      poll(ids, timeoutMs) {
        body.polls.push(timeoutMs);
        return body.arrived ? ids : [];
      },
      drop() {},
    },
    preopens: [],
    fds: createFdTable(),
  }) as unknown as Api;
  return { api, out, err, sent, body };
}

/** A response to a GET of https://api.example.com/, through the WASI layer. */
function respond(api: Api): { read(n: bigint): Uint8Array; blockingRead(n: bigint): Uint8Array; subscribe(): Pollable } {
  const http = api['wasi:http/types'] as unknown as { Fields: new () => unknown; OutgoingRequest: new (f: unknown) => { setAuthority(a: string): void } };
  const request = new http.OutgoingRequest(new http.Fields());
  request.setAuthority('api.example.com');
  const future = api['wasi:http/outgoing-handler']!.handle!(request as never) as { get(): { val: { val: { consume(): { stream(): never } } } } };
  return future.get().val.val.consume().stream();
}

describe('createWasi', () => {
  it('shows only the granted environment and the plugin id as argv', () => {
    const { api } = wasi();
    expect(api['wasi:cli/environment']!.getEnvironment!()).toEqual([['ONLY_THIS', '1']]);
    expect(api['wasi:cli/environment']!.getArguments!()).toEqual(['demo']);
  });

  it('hands stdout and stderr writes to their sinks', () => {
    const { api, out, err } = wasi();
    const enc = new TextEncoder();
    (api['wasi:cli/stdout']!.getStdout!() as { blockingWriteAndFlush(b: Uint8Array): void }).blockingWriteAndFlush(enc.encode('hello\n'));
    (api['wasi:cli/stderr']!.getStderr!() as { write(b: Uint8Array): void }).write(enc.encode('oops\n'));
    expect(out).toEqual(['hello\n']);
    expect(err).toEqual(['oops\n']);
  });

  it('offers no directories and reads nothing from stdin', () => {
    const { api } = wasi();
    expect(api['wasi:filesystem/preopens']!.getDirectories!()).toEqual([]);
    const stdin = api['wasi:cli/stdin']!.getStdin!() as { read(n: bigint): Uint8Array };
    expect(() => stdin.read(10n)).toThrow();
  });

  it('sends a request through the host when the plugin asks for the response, and reads its body', () => {
    const { api, sent } = wasi();
    type Req = { setMethod(m: unknown): void; setScheme(s: unknown): void; setAuthority(a: string): void; setPathWithQuery(p: string): void; body(): { write(): { write(b: Uint8Array): void } } };
    const http = api['wasi:http/types'] as unknown as { Fields: new () => { append(n: string, v: Uint8Array): void }; OutgoingRequest: new (f: unknown) => Req };
    const request = new http.OutgoingRequest(new http.Fields());
    request.setMethod({ tag: 'post' });
    request.setScheme({ tag: 'HTTPS' });
    request.setAuthority('api.example.com');
    request.setPathWithQuery('/v1?x=1');
    const future = api['wasi:http/outgoing-handler']!.handle!(request as never) as { get(): { tag: string; val: { tag: string; val: unknown } } };
    // Written after `handle`: still sent, because sending waits for the first `get`.
    request.body().write().write(new TextEncoder().encode('{"a":1}'));
    const result = future.get();
    expect(result.tag).toBe('ok');
    expect(result.val.tag).toBe('ok');
    expect(sent).toMatchObject([{ method: 'post', scheme: 'https', authority: 'api.example.com', path: '/v1?x=1' }]);
    expect(new TextDecoder().decode((sent[0] as { body: Uint8Array }).body)).toBe('{"a":1}');
    const response = result.val.val as { status(): number; consume(): { stream(): { read(n: bigint): Uint8Array } } };
    expect(response.status()).toBe(201);
    const stream = response.consume().stream();
    expect(new TextDecoder().decode(stream.read(100n))).toBe('ok');
    expect(future.get()).toEqual({ tag: 'err', val: undefined });
  });

  it('answers a refused request with the WIT error code, so fetch rejects instead of trapping', () => {
    const { api } = wasi();
    const http = api['wasi:http/types'] as unknown as { Fields: new () => unknown; OutgoingRequest: new (f: unknown) => { setAuthority(a: string): void } };
    const request = new http.OutgoingRequest(new http.Fields());
    request.setAuthority('denied.example.com');
    const future = api['wasi:http/outgoing-handler']!.handle!(request as never) as { get(): unknown };
    expect(future.get()).toEqual({ tag: 'ok', val: { tag: 'err', val: { tag: 'HTTP-request-denied' } } });
  });

  it('makes request headers immutable once the request owns them', () => {
    const { api } = wasi();
    const http = api['wasi:http/types'] as unknown as { Fields: new () => { append(n: string, v: Uint8Array): void }; OutgoingRequest: new (f: unknown) => unknown };
    const headers = new http.Fields();
    new http.OutgoingRequest(headers);
    expect(() => headers.append('x', new Uint8Array())).toThrow();
    expect(() => new http.Fields().append('bad header', new Uint8Array())).toThrow();
  });

  it('polls clock pollables and reports which are ready', () => {
    const { api } = wasi();
    const clock = api['wasi:clocks/monotonic-clock']!;
    const now = clock.now!() as bigint;
    const soon = clock.subscribeDuration!(1_000_000n as never) as Pollable;
    const later = clock.subscribeInstant!((now + 10n ** 12n) as never) as Pollable;
    expect(later.ready()).toBe(false);
    const ready = api['wasi:io/poll']!.poll!([later, soon] as never) as Uint32Array;
    expect(Array.from(ready)).toEqual([1]);
    expect(soon.ready()).toBe(true);
  });

  it('reads a body without blocking (nothing until bytes come), and polls it beside a timer in one host call', () => {
    const { api, body } = wasi();
    const stream = respond(api);
    body.arrived = false;
    expect(stream.read(100n)).toEqual(new Uint8Array(0));
    const quiet = stream.subscribe();
    expect(quiet.ready()).toBe(false);
    // The body is quiet, so the timer fires: the host was asked once, with the time left to it.
    const clock = api['wasi:clocks/monotonic-clock']!;
    const timer = clock.subscribeDuration!(1_000_000n as never) as Pollable;
    body.polls.length = 0;
    expect(Array.from(api['wasi:io/poll']!.poll!([quiet, timer] as never) as Uint32Array)).toEqual([1]);
    expect(body.polls.length).toBeGreaterThanOrEqual(1);
    expect(body.polls[0]).toBeLessThanOrEqual(1);
    // Bytes come: the body is ready, and a read returns them.
    body.arrived = true;
    const far = clock.subscribeDuration!(10n ** 12n as never) as Pollable;
    expect(Array.from(api['wasi:io/poll']!.poll!([far, quiet] as never) as Uint32Array)).toEqual([1]);
    expect(new TextDecoder().decode(stream.read(100n))).toBe('ok');
    expect(new TextDecoder().decode(stream.blockingRead(100n))).toBe('ok');
  });

  it('gives random bytes of the asked length', () => {
    const { api } = wasi();
    const bytes = api['wasi:random/random']!.getRandomBytes!(32n as never) as Uint8Array;
    expect(bytes).toHaveLength(32);
    expect(typeof api['wasi:random/random']!.getRandomU64!()).toBe('bigint');
  });
});

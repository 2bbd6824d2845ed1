/**
 * The WASI interfaces a plugin imports, implemented by the host: deny by
 * default, with every outside effect routed through host code.
 *
 * A JS component imports the whole WASI surface StarlingMonkey links
 * (cli, clocks, filesystem, http, io, random) whether or not the plugin uses
 * it. preview2-shim's Node implementation starts an extra I/O worker thread at
 * import (≈40 ms and ≈15 MB per plugin) and performs real I/O; this module
 * implements only what a sandboxed plugin may do: read its granted
 * environment, write stdout/stderr (turned into log lines), read clocks and
 * randomness, wait on timers, and use the directories it was granted (see
 * wasi-fs.ts). Outbound HTTP goes to the host thread, which sends what the
 * grant allows and refuses the rest with `HTTP-request-denied` (the plugin's
 * `fetch` rejects).
 */
import { randomFillSync } from 'node:crypto';
import { IoError, IoPollable, InputStream, OutputStream, Pollable, closed, monotonicNow, poll, resolutionNs, symbolDispose, type IoPoller } from './wasi-io.js';
import { createFilesystem, type FdTable, type Preopen } from './wasi-fs.js';

export interface WasiOptions {
  args: string[];
  env: Record<string, string>;
  stdout: (bytes: Uint8Array) => void;
  stderr: (bytes: Uint8Array) => void;
  /** Outbound HTTP, served (and gated) by the host thread. */
  http: HttpBridge;
  /** Granted directories. */
  preopens: Preopen[];
  /** Where open file descriptors are recorded, so the host can close them if it stops the thread. */
  fds: FdTable;
}

/** The host side of outbound HTTP, as synchronous calls. Each throws the WIT error it answers with. */
export interface HttpBridge {
  send(request: { method: string; scheme: string; authority: string; path: string; headers: [string, Uint8Array][]; body: Uint8Array }): {
    id: number;
    status: number;
    headers: [string, Uint8Array][];
  };
  /**
   * Up to `max` bytes of the body; throws `{ tag: 'closed' }` at its end.
   * With `wait` false it answers at once, with no bytes when none have come.
   */
  read(id: number, max: number, wait: boolean): Uint8Array;
  /** The bodies among `ids` a read would answer at once, waiting for one at most `timeoutMs` (forever when undefined). */
  poll(ids: number[], timeoutMs: number | undefined): number[];
  drop(id: number): void;
}

// ── wasi:http/types, enough for `fetch` to build a request and be refused ───

type HeaderEntry = [string, Uint8Array];

class Fields {
  #entries: HeaderEntry[] = [];
  #immutable = false;
  static fromList(entries: HeaderEntry[]): Fields {
    const f = new Fields();
    for (const [name, value] of entries) f.append(name, value);
    return f;
  }
  #mutate(): void {
    if (this.#immutable) throw { tag: 'immutable' };
  }
  get(name: string): Uint8Array[] {
    const n = name.toLowerCase();
    return this.#entries.filter(([k]) => k === n).map(([, v]) => v);
  }
  has(name: string): boolean {
    return this.get(name).length > 0;
  }
  set(name: string, values: Uint8Array[]): void {
    this.#mutate();
    this.delete(name);
    for (const v of values) this.#entries.push([name.toLowerCase(), v]);
  }
  delete(name: string): void {
    this.#mutate();
    const n = name.toLowerCase();
    this.#entries = this.#entries.filter(([k]) => k !== n);
  }
  append(name: string, value: Uint8Array): void {
    this.#mutate();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw { tag: 'invalid-syntax' };
    this.#entries.push([name.toLowerCase(), value]);
  }
  entries(): HeaderEntry[] {
    return this.#entries.map(([k, v]) => [k, v]);
  }
  clone(): Fields {
    return Fields.fromList(this.#entries);
  }
  freeze(): this {
    this.#immutable = true;
    return this;
  }
}

type Method = { tag: string; val?: string };
type Scheme = { tag: 'HTTP' | 'HTTPS' | 'other'; val?: string };

class OutgoingBody {
  readonly bytes: Uint8Array[] = [];
  #stream: OutputStream | undefined;
  write(): OutputStream {
    if (this.#stream) throw undefined;
    this.#stream = new OutputStream((b) => this.bytes.push(b.slice()));
    return this.#stream;
  }
  static finish(_body: OutgoingBody, _trailers: Fields | undefined): void {}
}

class OutgoingRequest {
  #headers: Fields;
  #method: Method = { tag: 'get' };
  #path: string | undefined;
  #scheme: Scheme | undefined;
  #authority: string | undefined;
  #body: OutgoingBody | undefined;
  constructor(headers: Fields) {
    this.#headers = headers.freeze();
  }
  method(): Method {
    return this.#method;
  }
  setMethod(m: Method): void {
    this.#method = m;
  }
  pathWithQuery(): string | undefined {
    return this.#path;
  }
  setPathWithQuery(p: string | undefined): void {
    this.#path = p;
  }
  scheme(): Scheme | undefined {
    return this.#scheme;
  }
  setScheme(s: Scheme | undefined): void {
    this.#scheme = s;
  }
  authority(): string | undefined {
    return this.#authority;
  }
  setAuthority(a: string | undefined): void {
    this.#authority = a;
  }
  headers(): Fields {
    return this.#headers;
  }
  body(): OutgoingBody {
    if (this.#body) throw undefined;
    this.#body = new OutgoingBody();
    return this.#body;
  }
  get sentBody(): OutgoingBody | undefined {
    return this.#body;
  }
}

class RequestOptions {
  #connect: bigint | undefined;
  #firstByte: bigint | undefined;
  #between: bigint | undefined;
  connectTimeout(): bigint | undefined {
    return this.#connect;
  }
  setConnectTimeout(d: bigint | undefined): void {
    this.#connect = d;
  }
  firstByteTimeout(): bigint | undefined {
    return this.#firstByte;
  }
  setFirstByteTimeout(d: bigint | undefined): void {
    this.#firstByte = d;
  }
  betweenBytesTimeout(): bigint | undefined {
    return this.#between;
  }
  setBetweenBytesTimeout(d: bigint | undefined): void {
    this.#between = d;
  }
}

/**
 * Ready when the host holds bytes of the body (or it ended): what the
 * guest's event loop waits on, so a timer or another body can fire while
 * this one is quiet. `poll` asks the host about all such bodies at once.
 */
export class BodyPollable extends IoPollable {
  constructor(
    readonly http: HttpBridge,
    readonly id: number,
  ) {
    super();
  }
  override ready(): boolean {
    return this.http.poll([this.id], 0).length > 0;
  }
  override block(): void {
    this.http.poll([this.id], undefined);
  }
  static pollAll(bodies: BodyPollable[], timeoutMs: number | undefined): Set<BodyPollable> {
    const ready = new Set(bodies[0]!.http.poll(bodies.map((b) => b.id), timeoutMs));
    return new Set(bodies.filter((b) => ready.has(b.id)));
  }
}

/** The bodies of a poll list that are ready (the only I/O pollables there are). */
const pollBodies: IoPoller = (io, timeoutMs) => BodyPollable.pollAll(io as BodyPollable[], timeoutMs);

/**
 * A response body, read from the host a chunk at a time: `read` answers at
 * once, as wasi:io asks (nothing when nothing has come), `blockingRead`
 * waits, and `subscribe` is ready when a read would return something.
 */
class HttpInputStream extends InputStream {
  #open = true;
  constructor(
    readonly http: HttpBridge,
    readonly id: number,
  ) {
    super();
  }
  override read(len: bigint): Uint8Array {
    return this.#take(len, false);
  }
  override blockingRead(len: bigint): Uint8Array {
    return this.#take(len, true);
  }
  override subscribe(): Pollable {
    return new BodyPollable(this.http, this.id);
  }
  #take(len: bigint, wait: boolean): Uint8Array {
    if (!this.#open) throw closed;
    try {
      return this.http.read(this.id, Math.min(Number(len), 1 << 20), wait);
    } catch (e) {
      this.#open = false;
      const err = e as { tag?: string; val?: string };
      if (err?.tag === 'closed') throw closed;
      throw { tag: 'last-operation-failed', val: new IoError(String(err?.val ?? 'the response body failed')) };
    }
  }
  [symbolDispose](): void {
    this.http.drop(this.id);
  }
}

class IncomingBody {
  #stream: HttpInputStream | undefined;
  constructor(
    readonly http: HttpBridge,
    readonly id: number,
  ) {}
  stream(): HttpInputStream {
    if (this.#stream) throw undefined;
    this.#stream = new HttpInputStream(this.http, this.id);
    return this.#stream;
  }
  static finish(_body: IncomingBody): FutureTrailers {
    return new FutureTrailers();
  }
}

class FutureTrailers {
  #taken = false;
  subscribe(): Pollable {
    return new Pollable();
  }
  get(): unknown {
    if (this.#taken) return { tag: 'err', val: undefined };
    this.#taken = true;
    return { tag: 'ok', val: { tag: 'ok', val: undefined } };
  }
}

class IncomingResponse {
  #consumed = false;
  constructor(
    readonly http: HttpBridge,
    readonly id: number,
    readonly code: number,
    readonly fields: Fields,
  ) {}
  status(): number {
    return this.code;
  }
  headers(): Fields {
    return this.fields;
  }
  consume(): IncomingBody {
    if (this.#consumed) throw undefined;
    this.#consumed = true;
    return new IncomingBody(this.http, this.id);
  }
  [symbolDispose](): void {
    if (!this.#consumed) this.http.drop(this.id);
  }
}

/**
 * A response on its way. The request is sent when the plugin first asks for
 * the response, so a body written after `handle` is included.
 */
class FutureIncomingResponse {
  #state: 'pending' | 'taken' = 'pending';
  constructor(
    readonly http: HttpBridge,
    readonly request: OutgoingRequest,
  ) {}
  subscribe(): Pollable {
    return new Pollable();
  }
  get(): unknown {
    if (this.#state === 'taken') return { tag: 'err', val: undefined };
    this.#state = 'taken';
    const r = this.request;
    const scheme = r.scheme();
    try {
      const res = this.http.send({
        method: r.method().tag === 'other' ? r.method().val! : r.method().tag,
        scheme: scheme?.tag === 'other' ? scheme.val! : (scheme?.tag ?? 'HTTPS').toLowerCase(),
        authority: r.authority() ?? '',
        path: r.pathWithQuery() ?? '/',
        headers: r.headers().entries(),
        body: concat(r.sentBody?.bytes ?? []),
      });
      return { tag: 'ok', val: { tag: 'ok', val: new IncomingResponse(this.http, res.id, res.status, Fields.fromList(res.headers).freeze()) } };
    } catch (e) {
      return { tag: 'ok', val: { tag: 'err', val: e } };
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A resource class only reachable through a request the host let through,
 * which it never does yet. jco's bindings look up each imported method at
 * instantiation, so the methods must exist; calling one traps.
 */
function unreachable(name: string, methods: string[], statics: string[] = []): new () => object {
  const fail = () => {
    throw new Error(`${name} is not available to plugins`);
  };
  const cls = class {
    constructor() {
      fail();
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  for (const m of methods) Object.defineProperty(cls.prototype, m, { value: fail });
  for (const m of statics) Object.defineProperty(cls, m, { value: fail });
  return cls;
}

/** Build the import object for every WASI interface a component may import. */
export function createWasi(o: WasiOptions): Record<string, unknown> {
  const stdin = new InputStream();
  const stdout = new OutputStream(o.stdout);
  const stderr = new OutputStream(o.stderr);
  const env = Object.entries(o.env);
  return {
    'wasi:cli/environment': { getEnvironment: () => env, getArguments: () => o.args, initialCwd: () => undefined },
    'wasi:cli/exit': {
      exit(status: { tag: string }) {
        throw new Error(`plugin called exit (${status.tag})`);
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    'wasi:cli/terminal-input': { TerminalInput: class TerminalInput {} },
    'wasi:cli/terminal-output': { TerminalOutput: class TerminalOutput {} },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:clocks/monotonic-clock': {
      now: monotonicNow,
      resolution: resolutionNs,
      subscribeInstant: (instant: bigint) => new Pollable(instant),
      subscribeDuration: (ns: bigint) => new Pollable(monotonicNow() + ns),
    },
    'wasi:clocks/wall-clock': {
      now() {
        const ms = performance.timeOrigin + performance.now();
        const seconds = Math.floor(ms / 1000);
        return { seconds: BigInt(seconds), nanoseconds: Math.floor((ms - seconds * 1000) * 1e6) };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: 1000 }),
    },
    'wasi:random/random': {
      getRandomBytes: (len: bigint) => randomFillSync(new Uint8Array(Number(len))),
      getRandomU64: () => randomFillSync(new BigUint64Array(1))[0]!,
    },
    'wasi:random/insecure': {
      getInsecureRandomBytes: (len: bigint) => randomFillSync(new Uint8Array(Number(len))),
      getInsecureRandomU64: () => randomFillSync(new BigUint64Array(1))[0]!,
    },
    'wasi:random/insecure-seed': { insecureSeed: () => [0n, 0n].map(() => randomFillSync(new BigUint64Array(1))[0]!) },
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll: (list: Pollable[]) => poll(list, pollBodies) },
    'wasi:io/streams': { InputStream, OutputStream },
    ...createFilesystem(o.preopens, o.fds),
    'wasi:http/types': {
      Fields,
      OutgoingRequest,
      OutgoingBody,
      RequestOptions,
      FutureIncomingResponse,
      IncomingResponse,
      IncomingBody,
      FutureTrailers,
      IncomingRequest: unreachable('IncomingRequest', ['method', 'pathWithQuery', 'scheme', 'authority', 'headers', 'consume']),
      OutgoingResponse: unreachable('OutgoingResponse', ['statusCode', 'setStatusCode', 'headers', 'body']),
      ResponseOutparam: unreachable('ResponseOutparam', [], ['set']),
      httpErrorCode: () => undefined,
    },
    'wasi:http/outgoing-handler': {
      // Refusals come back as WIT `error-code`s from the future, which make the plugin's fetch reject.
      handle: (request: OutgoingRequest) => new FutureIncomingResponse(o.http, request),
    },
  };
}

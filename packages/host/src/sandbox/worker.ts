/**
 * Worker-thread side of a plugin instance. It instantiates the transpiled
 * component with the host's imports, then serves calls from the shared-memory
 * channel synchronously, blocking in `Atomics.wait` between calls. Host
 * interfaces that need the host thread (storage, credentials) are bridged back
 * through the same channel; the plugin sees them as ordinary synchronous calls.
 */
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { Session } from 'node:inspector';
import { getHeapStatistics, queryObjects } from 'node:v8';
import { parentPort, receiveMessageOnPort, threadId, workerData, type MessagePort } from 'node:worker_threads';
import { createWasi, type HttpBridge } from './wasi.js';
import { closeListedFds, onFilesystemUse, type Preopen } from './wasi-fs.js';
import { takeFileOperation, type FileQuota } from './quota-counter.js';
import { symbolDispose } from './wasi-io.js';
import { BodyRing, RingState } from './body-ring.js';
import { compileSchema, type CompiledSchema } from '../schema.js';
import {
  CTRL_STATE,
  INIT,
  MEMORY_PROBE,
  PING,
  SHUTDOWN,
  callLabel,
  unversioned,
  MessageTooLargeError,
  PARK,
  RESET,
  type WorkerMemory,
  State,
  openChannel,
  readMessage,
  writeMessage,
  type HostCall,
  type ChannelReply,
  type Request,
  type Response,
  type WorkerEvent,
} from './protocol.js';
import { AdaptiveSpin } from './spin.js';

export interface WorkerInit {
  pluginId: string;
  ctrlBuffer: SharedArrayBuffer;
  dataBuffer: SharedArrayBuffer;
  /** The plugin's configuration, as JSON-encoded values. */
  config: Record<string, string>;
  /** Environment variables the plugin was granted. */
  env: Record<string, string>;
  /** Directories the plugin was granted. */
  preopens: Preopen[];
  /** Shared table of the files this thread holds open (see wasi-fs.ts). */
  fds: Int32Array;
  /** How long to poll for the next call before blocking, in microseconds. */
  spinMicros: number;
  /** The cap on each linear memory, in bytes (the compiled modules already enforce it). */
  memoryCapBytes: number;
  /** Replace the instance between calls once its linear memories grew this much after its first call (0: never). */
  growthBytes: number;
  /** The plugin's quota of file operations, counted with its other threads; undefined for none. */
  fileQuota: FileQuota | undefined;
  /** Where the host posts the next component when it hands this thread to a new instance (read with receiveMessageOnPort, never listened to). */
  setupPort: MessagePort;
}

/** What changes when the thread is handed to a new instance of the plugin. */
export type InstanceInit = Omit<WorkerInit, 'ctrlBuffer' | 'dataBuffer' | 'setupPort'>;

type Instance = Record<string, Record<string, (...args: unknown[]) => unknown>>;
type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, unknown>,
  instantiateCore: (module: WebAssembly.Module, imports: WebAssembly.Imports) => WebAssembly.Instance,
) => Instance | Promise<Instance>;

const init = workerData as WorkerInit;

/**
 * How many wasm memories are alive in this thread, after a full garbage
 * collection: `v8.queryObjects` collects before it counts. For the memory
 * probe only: to count, it builds a set of every live object, megabytes of
 * malloc that the thread's allocator keeps (see `collect`).
 */
function countWasmMemories(): number {
  return queryObjects(WebAssembly.Memory, { format: 'count' }) as number;
}

let gcSession: Session | null | undefined;

/**
 * A full garbage collection of this thread's heap, through the thread's own
 * inspector session (`HeapProfiler.collectGarbage`, which V8 runs as a task:
 * the promise settles once it ran). There is no other way short of
 * `--expose-gc`, and setting V8 flags while other threads run wasm crashed
 * V8; `queryObjects` also collects, but leaves its object set's megabytes in
 * the allocator each time, so it is the fallback when Node has no inspector.
 */
function collect(): Promise<void> {
  if (gcSession === undefined) {
    try {
      gcSession = new Session();
      gcSession.connect();
    } catch {
      gcSession = null;
    }
  }
  if (gcSession === null) return Promise.resolve(void countWasmMemories());
  const session = gcSession;
  return new Promise((resolve) => session.post('HeapProfiler.collectGarbage', () => resolve()));
}

// `v8.queryObjects` is experimental in Node 22 and 24 and says so once per
// thread: keep that notice off the integrator's stderr, and print any other
// warning as Node would.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name === 'ExperimentalWarning' && w.message.includes('queryObjects')) return;
  process.stderr.write(`(airlock plugin worker) ${w.name}: ${w.message}\n`);
});
const port = parentPort!;
const ch = openChannel(init.ctrlBuffer, init.dataBuffer);
const post = (event: WorkerEvent) => port.postMessage(event);

// ── Output the plugin writes to stdout/stderr (StarlingMonkey prints a JS
// error and its stack there before it traps) becomes log lines, and the tail
// of stderr is kept to explain the next trap.
let logSeq = 0;
let stderrTail = '';
const STDERR_TAIL_MAX = 8 * 1024;
/**
 * Log lines go to the host by message, and a plugin must not be able to flood
 * the host's heap with them: each line is cut at LOG_LINE_MAX characters, and
 * past LOG_LINES_PER_CALL lines in one call the rest are counted, not sent.
 */
const LOG_LINE_MAX = 16 * 1024;
const LOG_LINES_PER_CALL = 1_000;
let logLinesThisCall = 0;
let logLinesDropped = 0;
function emitLog(level: string, message: string) {
  if (++logLinesThisCall > LOG_LINES_PER_CALL) {
    logLinesDropped++;
    return;
  }
  const text = message.length > LOG_LINE_MAX ? `${message.slice(0, LOG_LINE_MAX)}… (${message.length - LOG_LINE_MAX} more characters cut)` : message;
  post({ type: 'log', level, message: text, seq: ++logSeq });
}
/** At the end of a call: say how many lines and audit events were dropped, and start the next call's budget. */
function endCallLogs() {
  if (logLinesDropped > 0) post({ type: 'log', level: 'warn', message: `${logLinesDropped} more log lines from this call were dropped (at most ${LOG_LINES_PER_CALL} per call)`, seq: ++logSeq });
  if (auditDropped > 0) {
    post({ type: 'audit', call: currentCall(), action: 'more', target: `${auditDropped} more uses of granted directories in this call`, outcome: 'allowed', detail: `not recorded one by one (at most ${AUDIT_PER_CALL} per call)`, seq: ++logSeq });
  }
  logLinesThisCall = 0;
  logLinesDropped = 0;
  auditThisCall = 0;
  auditDropped = 0;
}

// ── Uses of granted directories go to the audit log, numbered with the log
// lines (so they are recorded before the call's result reaches its caller),
// at most AUDIT_PER_CALL of them per call; the rest are counted.
const AUDIT_PER_CALL = 1_000;
let auditThisCall = 0;
let auditDropped = 0;
/** The request being served; its audit name (`callLabel`) is made only when a record needs it. */
let currentRequest: Request | undefined;
const currentCall = () => currentRequest && callLabel(currentRequest.fn, currentRequest.args);
onFilesystemUse(
  (action, target, outcome, detail) => {
    if (++auditThisCall > AUDIT_PER_CALL) {
      auditDropped++;
      return;
    }
    post({ type: 'audit', call: currentCall(), action, target, outcome, detail, seq: ++logSeq });
  },
  () => (init.fileQuota ? takeFileOperation(init.fileQuota) : undefined),
);
function lineSink(level: string, keepTail: boolean): (bytes: Uint8Array) => void {
  const decoder = new TextDecoder();
  let pending = '';
  return (bytes) => {
    const text = decoder.decode(bytes, { stream: true });
    if (keepTail) stderrTail = (stderrTail + text).slice(-STDERR_TAIL_MAX);
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim()) emitLog(level, line);
    }
    // Do not let a plugin grow the buffer without bound by never ending a line.
    if (pending.length > STDERR_TAIL_MAX) {
      emitLog(level, pending);
      pending = '';
    }
  };
}
let stdoutSink = lineSink('info', false);
let stderrSink = lineSink('warn', true);

// ── Progress the plugin reports during a call (`airlock:plugin/progress`).
// Forwarded by postMessage, numbered with the log lines so the host delivers
// every report before the call's result. A plugin reporting in a tight loop
// must not flood the host: reports that do not move forward, or come within
// PROGRESS_INTERVAL_MS of the last one forwarded, are dropped (the last step,
// 1.0, always goes).
const PROGRESS_INTERVAL_MS = 100;
const PROGRESS_MESSAGE_MAX = 200;
let progressFraction = -1;
let progressAt = -Infinity;

function reportProgress(fraction: unknown, message: unknown): void {
  if (typeof fraction !== 'number' || Number.isNaN(fraction)) return;
  const f = Math.min(1, Math.max(0, fraction));
  if (f <= progressFraction) return;
  const now = performance.now();
  if (f < 1 && now - progressAt < PROGRESS_INTERVAL_MS) return;
  progressFraction = f;
  progressAt = now;
  const text = typeof message === 'string' && message !== '' ? (message.length > PROGRESS_MESSAGE_MAX ? `${message.slice(0, PROGRESS_MESSAGE_MAX - 1)}…` : message) : undefined;
  post({ type: 'progress', fraction: f, message: text, seq: ++logSeq });
}

// ── Host interfaces ────────────────────────────────────────────────────────

/** Make a synchronous call to the host thread and wait for its reply. Arguments may hold bytes, so v8 encoding. */
function hostCall(iface: string, fn: string, args: unknown[]): unknown {
  writeMessage(ch, { iface, fn, args } satisfies HostCall, true);
  Atomics.store(ch.ctrl, CTRL_STATE, State.HOST_CALL);
  Atomics.notify(ch.ctrl, CTRL_STATE);
  let s: number;
  while ((s = Atomics.load(ch.ctrl, CTRL_STATE)) === State.HOST_CALL) Atomics.wait(ch.ctrl, CTRL_STATE, s);
  const reply = readMessage<ChannelReply>(ch);
  Atomics.store(ch.ctrl, CTRL_STATE, State.CALL);
  // A WIT `result` import returns `err` when the import throws a non-Error value.
  if ('err' in reply) throw reply.err;
  if (reply.shared) (reply.ok as { shared?: SharedArrayBuffer }).shared = takeShared();
  return reply.ok;
}

/** The memory the host posted with the reply just read (see HostReply). */
function takeShared(): SharedArrayBuffer {
  const posted = receiveMessageOnPort(init.setupPort)?.message as WorkerSetup | undefined;
  if (posted?.type !== 'shared') throw new Error('the host\'s reply shares memory, but none was posted');
  return posted.buffer;
}

// ── Response bodies ──────────────────────────────────────────────────────────

/**
 * The response bodies the host shares a ring of, by id: a read or a poll of
 * one that holds bytes, or has ended, is answered here without asking the
 * host thread (see body-ring.ts). A body that failed or was dropped is asked
 * of the host, which holds the reason.
 */
const rings = new Map<number, BodyRing>();

const httpBridge: HttpBridge = {
  send(request) {
    // Bodies the host dropped, or that ended and were read to the end, need no ring here (a read answers as before).
    for (const [id, ring] of rings) if (ring.state === RingState.DROPPED || (ring.state === RingState.ENDED && ring.used() === 0)) rings.delete(id);
    const sent = hostCall('http', 'send', [request]) as ReturnType<HttpBridge['send']> & { shared?: SharedArrayBuffer };
    if (sent.shared) rings.set(sent.id, new BodyRing(sent.shared));
    return { id: sent.id, status: sent.status, headers: sent.headers };
  },
  read(id, max, wait) {
    const ring = rings.get(id);
    while (ring) {
      const seq = ring.seq();
      // The state before the bytes: a ring ends only once every byte is in it.
      const state = ring.state;
      if (state === RingState.FAILED || state === RingState.DROPPED) break;
      const bytes = ring.take(max);
      if (bytes.length > 0 || (state === RingState.OPEN && !wait)) return bytes;
      if (state === RingState.ENDED) throw { tag: 'closed' };
      ring.waitChange(seq, undefined);
    }
    return hostCall('http', 'read', [id, max, wait]) as Uint8Array;
  },
  poll(ids, timeoutMs) {
    const list = ids.map((id) => rings.get(id));
    const ring = list.length === 1 ? list[0] : undefined;
    if (list.every((r) => r !== undefined)) {
      const deadline = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;
      for (;;) {
        const seq = ring?.seq() ?? 0;
        const ready = ids.filter((_, i) => list[i]!.ready());
        if (ready.length > 0 || timeoutMs === 0) return ready;
        // Several bodies are waited for by the host, which hears of each.
        if (!ring) break;
        const left = deadline - performance.now();
        if (left <= 0) return ready;
        ring.waitChange(seq, left === Infinity ? undefined : left);
      }
    }
    return hostCall('http', 'poll', [ids, timeoutMs ?? null]) as number[];
  },
  drop(id) {
    rings.delete(id);
    hostCall('http', 'drop', [id]);
  },
};

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error']);

function hostImports(): Record<string, unknown> {
  const wasi = createWasi({
    args: [init.pluginId],
    env: init.env,
    preopens: init.preopens,
    fds: init.fds,
    stdout: (bytes) => stdoutSink(bytes),
    stderr: (bytes) => stderrSink(bytes),
    http: httpBridge,
  });
  return {
    ...wasi,
    'airlock:plugin/log': {
      write(level: string, message: string) {
        emitLog(LEVELS.has(level) ? level : 'info', String(message));
      },
    },
    'airlock:plugin/storage': {
      get: (key: string) => hostCall('storage', 'get', [key]),
      set: (key: string, value: Uint8Array) => hostCall('storage', 'set', [key, value]),
      delete: (key: string) => hostCall('storage', 'delete', [key]),
      list: (prefix: string) => hostCall('storage', 'list', [prefix]),
    },
    'airlock:plugin/config': {
      get: (key: string) => init.config[key],
      getAll: configJson,
    },
    'airlock:plugin/credentials': {
      getToken: (authPlugin: string) => hostCall('credentials', 'getToken', [authPlugin]),
      signedIn: (authPlugin: string) => hostCall('credentials', 'signedIn', [authPlugin]),
    },
    'airlock:plugin/progress': {
      report: reportProgress,
    },
    'airlock:plugin/events': {
      publish: (topic: string, payload: string) => hostCall('events', 'publish', [topic, payload]),
    },
    ...integratorImports(),
    ...devImports(),
  };
}

/** A development build's bundle, as text, and the interface it is asked for by, while one is loaded. */
let devSource: string | undefined;
let devInterface = '';

/** What the loaded glue says of the component: its hooks, the integrator's interfaces and a development build's bundle. */
function takeGlue(g: GlueSetup): void {
  hooks = g.hooks;
  interfaces = g.interfaces;
  const dev = g.devBundle;
  devSource = dev && heapText(Buffer.from(dev.source.buffer, dev.source.byteOffset, dev.source.byteLength));
  devInterface = dev?.interface ?? '';
}

/** The interface a development build's engine asks for its bundle by. */
function devImports(): Record<string, unknown> {
  if (devSource === undefined) return {};
  const bundle = { source: () => devSource };
  return { [devInterface]: bundle, [unversioned(devInterface)]: bundle };
}

/** The integrator's interfaces the loaded component imports. */
let interfaces: string[] = [];

/** The integrator's interfaces the component imports: each function a synchronous call to the host thread. */
function integratorImports(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const id of interfaces) {
    const functions = new Proxy({}, { get: (_, fn) => (typeof fn === 'string' ? (...args: unknown[]) => hostCall('iface', `${id}#${fn}`, args) : undefined) });
    out[id] = functions;
    out[unversioned(id)] = functions;
  }
  return out;
}

// ── Lifecycle hooks (`airlock:plugin/lifecycle`) ─────────────────────────
// `init` runs in each new instance before its first call, inside that call
// (so it can use the host interfaces, under the call's deadline); `shutdown`
// when the host retires an instance whose `init` ran.

/** The loaded component exports the hooks. */
let hooks = false;
/** The current instance's `init` has run (or it has no hooks). */
let initialized = false;

/** The configuration as one JSON object text, as `config.get-all` gives it. */
const configJson = () => `{${Object.entries(init.config).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

/** Run the instance's `init` once; the response to give instead of the call when it fails. */
function ensureInitialized(): Response | undefined {
  if (initialized || !instance) return undefined;
  initialized = true;
  if (!hooks) return undefined;
  try {
    resolveExport('lifecycle.init')(configJson());
    return undefined;
  } catch (err) {
    discardInstance();
    if (isTrap(err)) return { trap: `in init: ${(err as Error).message}`, stderr: stderrTail, logs: logSeq };
    const payload = witError(err);
    return { initFailed: typeof payload === 'string' ? payload : JSON.stringify(payload) ?? String(payload), logs: logSeq };
  }
}

/** Run the instance's `shutdown` if it started; what it throws is only logged. */
function shutdown(): Response {
  if (!instance || !hooks || !initialized) return { ok: undefined, logs: logSeq };
  try {
    resolveExport('lifecycle.shutdown')();
  } catch (err) {
    emitLog('warn', `shutdown failed: ${(err as Error)?.message ?? String(err)}`);
    if (isTrap(err)) discardInstance();
  }
  return { ok: undefined, logs: logSeq };
}

// ── Instantiation ──────────────────────────────────────────────────────────

let instantiate: Instantiate | undefined;
let modules: Record<string, WebAssembly.Module> = {};
let instance: Instance | undefined;
/** The linear memories of the current instance, to tell when it is near its cap. */
let memories: { buffer: ArrayBuffer }[] = [];

function createInstance(): void {
  memories = [];
  settledBytes = undefined;
  // With synchronous module lookup and core instantiation, jco's instantiate
  // completes synchronously, which lets a trapped instance be replaced from
  // inside the blocking call loop.
  if (!instantiate) throw new Error('no component is loaded in this thread');
  const result = instantiate(
    (name) => {
      const m = modules[name];
      if (!m) throw new Error(`missing core module ${name}`);
      return m;
    },
    hostImports(),
    (module, imports) => {
      const core = new WebAssembly.Instance(module, imports);
      for (const value of Object.values(core.exports)) {
        if (value instanceof WebAssembly.Memory) memories.push(value);
      }
      return core;
    },
  );
  if (result instanceof Promise) throw new Error('component instantiation did not complete synchronously');
  instance = result;
}

// ── Calls ──────────────────────────────────────────────────────────────────

function resolveExport(fn: string): (...args: unknown[]) => unknown {
  const [iface, name] = fn.split('.') as [string, string];
  const f = instance?.[iface]?.[name];
  if (typeof f !== 'function') throw new Error(`the component exports no function ${fn}`);
  return f;
}

/** The WIT `err` payload of what an export threw: jco throws the payload itself or a ComponentError carrying it. */
const witError = (err: unknown): unknown => (err !== null && typeof err === 'object' && 'payload' in err ? (err as { payload: unknown }).payload : err);

function isTrap(err: unknown): boolean {
  return err instanceof WebAssembly.RuntimeError || (err instanceof Error && !('payload' in err));
}

// ── Resources a plugin returns (a provider's chat-stream) live in this thread;
// the host names them by handle: `resource.<method>` calls a method with the
// handle as first argument, `resource.drop` drops it. Handles start at a
// per-thread base, so a handle from a replaced worker never names a resource
// of its successor.
const RESOURCE_OP = /^resource\.(\w+)$/;
const resources = new Map<number, Record<PropertyKey, unknown>>();
let nextHandle = threadId * 2 ** 32;

function isResource(value: unknown): value is Record<PropertyKey, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto !== Object.prototype && proto !== null;
}

function keepResource(value: Record<PropertyKey, unknown>): number {
  const handle = ++nextHandle;
  resources.set(handle, value);
  return handle;
}

function dropResource(handle: number): void {
  const r = resources.get(handle);
  resources.delete(handle);
  const dispose = r?.[symbolDispose];
  if (typeof dispose === 'function') dispose.call(r);
}

function callResource(method: string, args: unknown[]): Response {
  const [handle, ...rest] = args as [number, ...unknown[]];
  const r = resources.get(handle);
  if (method === 'drop') {
    dropResource(handle);
    return { ok: undefined, logs: logSeq };
  }
  if (!r) return { fail: `no resource ${handle}: it was dropped, or the plugin restarted since it was made`, logs: logSeq };
  const f = r[method];
  if (typeof f !== 'function') return { fail: `the resource has no method ${method}`, logs: logSeq };
  return { ok: f.apply(r, rest), logs: logSeq };
}

/** Wasm memory never shrinks: past this share of the cap an instance is replaced after the call. */
const RECYCLE_AT = 0.9;

function nearMemoryCap(): boolean {
  return memories.some((m) => m.buffer.byteLength >= init.memoryCapBytes * RECYCLE_AT);
}

/** Set when an instance was discarded: collect it once its pending jobs have run. */
let collectPending = false;

/**
 * Drop the instance; `serve` collects it and starts its successor once the
 * call's result is out, so the caller does not wait for either.
 */
function discardInstance(): void {
  instance = undefined;
  initialized = false;
  collectPending = true;
  resources.clear();
  // The old instance's files go with it.
  closeListedFds(init.fds);
}

/**
 * After a result is out: give a discarded instance's memory back (a wasm
 * memory is freed only when V8 collects it, and the worker's small JS heap
 * seldom asks for a collection), then start the next instance ahead of the
 * next call.
 */
async function afterDiscard(): Promise<void> {
  if (!collectPending) return;
  collectPending = false;
  await collect();
  // A parked thread has no component: it waits for the next one.
  if (!instantiate || instance) return;
  try {
    createInstance();
  } catch {
    // Left for the next call, which retries and reports the failure.
  }
}

/** Bytes of the current instance's linear memories. */
const linearBytes = () => memories.reduce((sum, m) => sum + m.buffer.byteLength, 0);

/** The most linear memory this thread has reported to the host. */
let reportedBytes = 0;

/** Tell the host when the instance's linear memory passes what was reported (it grows by whole pages, so seldom). */
function reportMemory(bytes: number): void {
  if (bytes <= reportedBytes) return;
  reportedBytes = bytes;
  post({ type: 'memory', linearBytes: bytes });
}

/** What the instance's memories held after its first call; growth is measured from there. */
let settledBytes: number | undefined;

/**
 * Whether the instance has outgrown its first call by more than the budget.
 * Guests built with componentize-js 0.23 leak a few hundred bytes of linear
 * memory on every call, and linear memory never shrinks: replacing the
 * instance is the only way to give it back. Not while it holds resources (an
 * open chat stream lives in it).
 */
function outgrown(bytes: number): boolean {
  if (!instance || init.growthBytes <= 0) return false;
  settledBytes ??= bytes;
  return bytes - settledBytes > init.growthBytes && resources.size === 0;
}

function handle(req: Request): Response {
  progressFraction = -1;
  progressAt = -Infinity;
  currentRequest = req;
  const response = call(req);
  endCallLogs();
  // Not kept past the call: its arguments may be large.
  currentRequest = undefined;
  response.logs = logSeq;
  if (req.fn === MEMORY_PROBE) return response;
  const bytes = linearBytes();
  reportMemory(bytes);
  // A trap leaves the instance unusable ("cannot enter component instance"), and one
  // near its memory cap would fail the next call: either way, start afresh.
  if (nearMemoryCap()) response.memoryLimit = true;
  if ('trap' in response || response.memoryLimit || outgrown(bytes)) discardInstance();
  return response;
}

/** Argument validators by tool name, built from the plugin's own `list-tools` answer. */
let argValidators: Map<string, CompiledSchema> | undefined;

function buildValidators(defs: unknown): Map<string, CompiledSchema> {
  const map = new Map<string, CompiledSchema>();
  if (!Array.isArray(defs)) return map;
  for (const def of defs as { name?: unknown; parameters?: unknown }[]) {
    try {
      if (typeof def?.name === 'string' && typeof def.parameters === 'string') map.set(def.name, compileSchema(JSON.parse(def.parameters) as object));
    } catch {
      // The host refused invalid definitions at load; a tool missing here is refused by checkArguments.
    }
  }
  return map;
}

/** Problems with a tool call's arguments, or undefined when they match. */
function checkArguments(name: string, argsJson: string): Response | undefined {
  argValidators ??= buildValidators(resolveExport('tool.listTools')());
  const validator = argValidators.get(name);
  if (!validator) return { invalid: [{ path: '', message: `tool \`${name}\` has no usable parameters schema` }], logs: logSeq };
  const problems = validator.validate(JSON.parse(argsJson));
  return problems.length > 0 ? { invalid: problems, logs: logSeq } : undefined;
}

function memoryReport(): WorkerMemory {
  const h = getHeapStatistics();
  return {
    threadId,
    linearBytes: linearBytes(),
    instanceMemories: memories.length,
    heapUsedBytes: h.used_heap_size,
    heapTotalBytes: h.total_heap_size,
    externalBytes: h.external_memory,
    mallocedBytes: h.malloced_memory,
    resources: resources.size,
  };
}

function call(req: Request): Response {
  if (req.fn === MEMORY_PROBE) {
    const alive = req.args[0] === true ? countWasmMemories() : undefined;
    return { ok: alive === undefined ? memoryReport() : { ...memoryReport(), wasmMemories: alive }, logs: logSeq };
  }
  if (req.fn === SHUTDOWN) return shutdown();
  if (!instance) {
    try {
      createInstance();
    } catch (err) {
      return { fail: `plugin could not be instantiated: ${(err as Error).message}`, logs: logSeq };
    }
  }
  stderrTail = '';
  const failedInit = ensureInitialized();
  if (failedInit) return failedInit;
  if (req.fn === INIT) return { ok: undefined, logs: logSeq };
  try {
    if (req.validate) {
      const invalid = checkArguments(req.args[0] as string, req.args[1] as string);
      if (invalid) return invalid;
    }
    const resourceOp = RESOURCE_OP.exec(req.fn);
    if (resourceOp) return callResource(resourceOp[1]!, req.args);
    let ok = resolveExport(req.fn)(...req.args);
    if (req.fn === 'tool.listTools') argValidators = buildValidators(ok);
    if (isResource(ok)) ok = { resource: keepResource(ok) };
    return { ok, logs: logSeq };
  } catch (err) {
    if (!isTrap(err)) {
      return { err: witError(err), logs: logSeq };
    }
    return { trap: (err as Error).message, stderr: stderrTail, logs: logSeq };
  }
}

// ── Handing the thread to the plugin's next instance ──────────────────────
// A reload starts the new instance while the old one finishes its calls; the
// old one's thread is then parked and the next reload takes it over, instead
// of every reload starting a thread (each new thread leaves memory behind in
// the allocator, see ARCHITECTURE.md).

/** Drop the instance and everything it left in this thread: nothing of it reaches the next one. It is collected once the answer is out. */
function park(): Response {
  discardInstance();
  memories = [];
  argValidators = undefined;
  saveCodeCache = undefined;
  instantiate = undefined;
  hooks = false;
  interfaces = [];
  devSource = undefined;
  modules = {};
  stderrTail = '';
  stdoutSink = lineSink('info', false);
  stderrSink = lineSink('warn', true);
  logLinesThisCall = 0;
  logLinesDropped = 0;
  return { ok: undefined, logs: logSeq };
}

/** Start the component the host posted on the setup port, with the new instance's settings. */
async function reset(): Promise<Response> {
  if (instantiate) park();
  const posted = receiveMessageOnPort(init.setupPort)?.message as Extract<WorkerSetup, { type: 'reset' }> | undefined;
  if (posted?.type !== 'reset') return { fail: 'no component was posted for the new instance', logs: logSeq };
  Object.assign(init, posted.init);
  try {
    instantiate = (await loadGlue(posted.glue)).instantiate;
    takeGlue(posted.glue);
    modules = posted.modules;
    createInstance();
  } catch (err) {
    return { fail: `plugin could not be instantiated: ${(err as Error).message}${stderrTail ? `\n${stderrTail}` : ''}`, logs: logSeq };
  }
  return { ok: undefined, logs: logSeq };
}

const isCall = (s: number) => s === State.CALL;
const callSpin = new AdaptiveSpin(init.spinMicros);

/** Let the event loop turn at least this often under back-to-back calls. */
const TURN_EVERY_CALLS = 1024;

/** One turn of this thread's event loop: V8's own tasks for the thread (finishing a GC, among others) run there. */
const turnEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Serve calls until the thread is stopped. The loop blocks in Atomics.wait,
 * but it yields between calls: it awaits after each one, so the promise jobs
 * the call queued run (jco's task bookkeeping queues some on every call), and
 * it lets the event loop turn before blocking and every TURN_EVERY_CALLS
 * calls. A loop that never yielded kept every one of those jobs, and through
 * them every discarded instance with its linear memory, for the life of the
 * thread.
 */
async function serve(): Promise<never> {
  for (let calls = 1; ; calls++) {
    let s: number;
    if (!callSpin.spin(ch.ctrl, isCall) || calls % TURN_EVERY_CALLS === 0) await turnEventLoop();
    while ((s = Atomics.load(ch.ctrl, CTRL_STATE)) !== State.CALL) Atomics.wait(ch.ctrl, CTRL_STATE, s);
    let response: Response;
    try {
      const req = readMessage<Request>(ch);
      response = req.fn === PING ? { ok: undefined, logs: logSeq } : req.fn === RESET ? await reset() : req.fn === PARK ? park() : handle(req);
    } catch (err) {
      response = { fail: `worker error: ${(err as Error).message}`, logs: logSeq };
    }
    try {
      // JSON would drop `ok: undefined` (a unit result, or `none`); the binary encoding keeps it.
      writeMessage(ch, response, 'ok' in response && response.ok === undefined);
    } catch (err) {
      // The result is dropped here, in the plugin's thread: it never reaches the host's heap.
      writeMessage(
        ch,
        err instanceof MessageTooLargeError
          ? ({ tooLarge: err.bytes, max: err.max, logs: logSeq } satisfies Response)
          : ({ fail: `result could not be returned: ${(err as Error).message}`, logs: logSeq } satisfies Response),
      );
    }
    Atomics.store(ch.ctrl, CTRL_STATE, State.RESULT);
    Atomics.notify(ch.ctrl, CTRL_STATE);
    if (saveCodeCache) {
      saveCodeCache();
      saveCodeCache = undefined;
    }
    // The promise jobs the call queued run here, before the collection.
    await undefined;
    await afterDiscard();
  }
}

/** What the host sends once it knows them: the transpiled module first, then the compiled core modules. */
export type WorkerSetup =
  /** The glue's text and code cache as the host read and checked them (`file` only names it, in stacks). */
  | GlueSetup
  | { type: 'modules'; modules: Record<string, WebAssembly.Module> }
  /** Memory a host reply shares with this thread (posted on the setup port just before the reply; see HostReply). */
  | { type: 'shared'; buffer: SharedArrayBuffer }
  /** All of it at once, for a parked thread taken over by a new instance (posted on the setup port). */
  | { type: 'reset'; init: InstanceInit; glue: GlueSetup; modules: Record<string, WebAssembly.Module> };

export interface GlueSetup {
  type: 'glue';
  file: string;
  kind: 'script' | 'module';
  source: Uint8Array;
  codeCache: Uint8Array | undefined;
  /** The component exports the lifecycle hooks (contract 0.1.2 and later). */
  hooks: boolean;
  /** Interfaces of the integrator's the component imports (`acme:kb/search@1.0.0`), served by the host thread. */
  interfaces: string[];
  /** A development build's bundle (UTF-8), and the interface its engine asks for it by (`DEV_BUNDLE_INTERFACE` in @airlock/wit). */
  devBundle: { interface: string; source: Uint8Array } | undefined;
}

function nextSetup<T extends WorkerSetup['type']>(type: T): Promise<Extract<WorkerSetup, { type: T }>> {
  return new Promise((resolve) => {
    const onMessage = (m: WorkerSetup) => {
      if (m.type !== type) return;
      port.off('message', onMessage);
      resolve(m as Extract<WorkerSetup, { type: T }>);
    };
    port.on('message', onMessage);
  });
}

/** Set when the glue was compiled without a usable code cache: make one after the first call, for the host to store. */
let saveCodeCache: (() => void) | undefined;

/**
 * Run the glue the host sent: its text as the host checked it against the cache
 * entry's digest, never the file (which could have changed since).
 */
/**
 * UTF-8 text as a string on V8's heap. Decoded whole, the glue (over 1 MB)
 * would be copied into malloc'd memory first (Node makes texts that size
 * external strings, and TextDecoder copies shared memory twice), memory the
 * thread's allocator keeps once it is freed, reload after reload. Pieces
 * under Node's external-string size are decoded straight onto the heap.
 */
function heapText(bytes: Buffer): string {
  const PIECE = 256 * 1024;
  let text = '';
  for (let at = 0; at < bytes.length; ) {
    let end = Math.min(at + PIECE, bytes.length);
    // Never cut a UTF-8 sequence: back up over continuation bytes.
    while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
    text += bytes.toString('utf8', at, end);
    at = end;
  }
  return text;
}

async function loadGlue(m: GlueSetup): Promise<{ instantiate: Instantiate }> {
  const source = Buffer.from(m.source.buffer, m.source.byteOffset, m.source.byteLength);
  if (m.kind === 'module') return (await import(`data:text/javascript;base64,${source.toString('base64')}`)) as { instantiate: Instantiate };
  const cachedData = m.codeCache === undefined ? undefined : Buffer.from(m.codeCache.buffer, m.codeCache.byteOffset, m.codeCache.byteLength);
  const script = new vm.Script(heapText(source), { filename: m.file, cachedData });
  if (!cachedData || script.cachedDataRejected) {
    saveCodeCache = () => {
      // Taken after the first call, the cache also holds the functions that call compiled.
      try {
        const data = script.createCachedData();
        post({ type: 'code-cache', data });
      } catch {
        // only a lost optimisation
      }
    };
  }
  return (script.runInThisContext() as (url: string) => { instantiate: Instantiate })(pathToFileURL(m.file).href);
}

async function start(): Promise<void> {
  // The worker boots while the host is still reading, hashing and compiling the
  // component; each piece is loaded as soon as it arrives.
  const [glue, received] = await Promise.all([
    nextSetup('glue').then((g) => (takeGlue(g), loadGlue(g))),
    nextSetup('modules').then((m) => m.modules),
  ]);
  instantiate = glue.instantiate;
  modules = received;
  const t = performance.now();
  try {
    createInstance();
  } catch (err) {
    post({ type: 'start-failed', message: (err as Error).message, stderr: stderrTail });
    return;
  }
  post({ type: 'ready', instantiateMs: performance.now() - t });
  void serve();
}

void start();

/**
 * Worker-thread side of a plugin instance. It instantiates the transpiled
 * component with the host's imports, then serves calls from the shared-memory
 * channel synchronously, blocking in `Atomics.wait` between calls. Host
 * interfaces that need the host thread (storage, credentials) are bridged back
 * through the same channel; the plugin sees them as ordinary synchronous calls.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { clocks } from '@bytecodealliance/preview2-shim';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import {
  CTRL_STATE,
  State,
  openChannel,
  readMessage,
  writeMessage,
  type HostCall,
  type HostReply,
  type Request,
  type Response,
  type WorkerEvent,
} from './protocol.js';
import { spinFor } from './spin.js';

export interface WorkerInit {
  pluginId: string;
  glueUrl: string;
  ctrlBuffer: SharedArrayBuffer;
  dataBuffer: SharedArrayBuffer;
  /** The plugin's configuration, as JSON-encoded values. */
  config: Record<string, string>;
  /** Environment variables the plugin was granted. */
  env: Record<string, string>;
  /** How long to poll for the next call before blocking, in microseconds. */
  spinMicros: number;
}

type Instance = Record<string, Record<string, (...args: unknown[]) => unknown>>;
type Instantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, unknown>,
  instantiateCore: (module: WebAssembly.Module, imports: WebAssembly.Imports) => WebAssembly.Instance,
) => Instance | Promise<Instance>;

const init = workerData as WorkerInit;
const port = parentPort!;
const ch = openChannel(init.ctrlBuffer, init.dataBuffer);
const post = (event: WorkerEvent) => port.postMessage(event);

// ── Output the plugin writes to stdout/stderr (StarlingMonkey prints a JS
// error and its stack there before it traps) becomes log lines, and the tail
// of stderr is kept to explain the next trap.
let logSeq = 0;
let stderrTail = '';
const STDERR_TAIL_MAX = 8 * 1024;
function emitLog(level: string, message: string) {
  post({ type: 'log', level, message, seq: ++logSeq });
}
function captureStream(stream: NodeJS.WriteStream, level: string, keepTail: boolean) {
  let pending = '';
  stream.write = ((chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (keepTail) stderrTail = (stderrTail + text).slice(-STDERR_TAIL_MAX);
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim()) emitLog(level, line);
    }
    return true;
  }) as typeof stream.write;
}
captureStream(process.stdout, 'info', false);
captureStream(process.stderr, 'warn', true);

// ── Host interfaces ────────────────────────────────────────────────────────

/** Make a synchronous call to the host thread and wait for its reply. */
function hostCall(iface: string, fn: string, args: unknown[], binary = false): unknown {
  writeMessage(ch, { iface, fn, args } satisfies HostCall, binary);
  Atomics.store(ch.ctrl, CTRL_STATE, State.HOST_CALL);
  Atomics.notify(ch.ctrl, CTRL_STATE);
  let s: number;
  while ((s = Atomics.load(ch.ctrl, CTRL_STATE)) === State.HOST_CALL) Atomics.wait(ch.ctrl, CTRL_STATE, s);
  const reply = readMessage<HostReply>(ch);
  Atomics.store(ch.ctrl, CTRL_STATE, State.CALL);
  // A WIT `result` import returns `err` when the import throws a non-Error value.
  if ('err' in reply) throw reply.err;
  return reply.ok;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error']);

function hostImports(): Record<string, unknown> {
  const wasi = new WASIShim({
    sandbox: { preopens: {}, env: init.env, args: [init.pluginId], enableNetwork: false },
  }).getImportObject();
  return {
    ...wasi,
    // preview2-shim's optimized wall-clock lowering corrupts guest memory with
    // hybrid bindings; plain functions avoid that path.
    'wasi:clocks/wall-clock': { now: () => clocks.wallClock.now(), resolution: () => clocks.wallClock.resolution() },
    'airlock:plugin/log': {
      write(level: string, message: string) {
        emitLog(LEVELS.has(level) ? level : 'info', String(message));
      },
    },
    'airlock:plugin/storage': {
      get: (key: string) => hostCall('storage', 'get', [key], true),
      set: (key: string, value: Uint8Array) => hostCall('storage', 'set', [key, value], true),
      delete: (key: string) => hostCall('storage', 'delete', [key], true),
      list: (prefix: string) => hostCall('storage', 'list', [prefix], true),
    },
    'airlock:plugin/config': {
      get: (key: string) => init.config[key],
      getAll: () => `{${Object.entries(init.config).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`,
    },
    'airlock:plugin/credentials': {
      getToken: (authPlugin: string) => hostCall('credentials', 'getToken', [authPlugin], true),
    },
  };
}

// ── Instantiation ──────────────────────────────────────────────────────────

let instantiate: Instantiate;
let modules: Record<string, WebAssembly.Module>;
let instance: Instance | undefined;
let instanceError: string | undefined;

function createInstance(): void {
  // With synchronous module lookup and core instantiation, jco's instantiate
  // completes synchronously, which lets a trapped instance be replaced from
  // inside the blocking call loop.
  const result = instantiate(
    (name) => {
      const m = modules[name];
      if (!m) throw new Error(`missing core module ${name}`);
      return m;
    },
    hostImports(),
    (module, imports) => new WebAssembly.Instance(module, imports),
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

function isTrap(err: unknown): boolean {
  return err instanceof WebAssembly.RuntimeError || (err instanceof Error && !('payload' in err));
}

function handle(req: Request): Response {
  if (!instance) {
    try {
      createInstance();
    } catch (err) {
      instanceError = (err as Error).message;
      return { fail: `plugin could not be instantiated: ${instanceError}`, logs: logSeq };
    }
  }
  stderrTail = '';
  try {
    const ok = resolveExport(req.fn)(...req.args);
    return { ok, logs: logSeq };
  } catch (err) {
    if (!isTrap(err)) {
      // A WIT `err`: jco throws the payload itself or a ComponentError carrying it.
      const payload = err !== null && typeof err === 'object' && 'payload' in err ? (err as { payload: unknown }).payload : err;
      return { err: payload, logs: logSeq };
    }
    // A trap leaves the instance unusable ("cannot enter component instance").
    instance = undefined;
    const message = (err as Error).message;
    const response: Response = { trap: message, stderr: stderrTail, logs: logSeq };
    try {
      createInstance();
    } catch {
      // Retried on the next call, which then reports the failure.
    }
    return response;
  }
}

const isCall = (s: number) => s === State.CALL;

function serve(): never {
  for (;;) {
    let s: number;
    spinFor(ch.ctrl, isCall, init.spinMicros);
    while ((s = Atomics.load(ch.ctrl, CTRL_STATE)) !== State.CALL) Atomics.wait(ch.ctrl, CTRL_STATE, s);
    let response: Response;
    try {
      response = handle(readMessage<Request>(ch));
    } catch (err) {
      response = { fail: `worker error: ${(err as Error).message}`, logs: logSeq };
    }
    try {
      writeMessage(ch, response);
    } catch (err) {
      writeMessage(ch, { fail: `result could not be returned: ${(err as Error).message}`, logs: logSeq } satisfies Response);
    }
    Atomics.store(ch.ctrl, CTRL_STATE, State.RESULT);
    Atomics.notify(ch.ctrl, CTRL_STATE);
  }
}

async function start(): Promise<void> {
  const [glue, received] = await Promise.all([
    import(init.glueUrl) as Promise<{ instantiate: Instantiate }>,
    new Promise<Record<string, WebAssembly.Module>>((resolve) => port.once('message', (m: { modules: Record<string, WebAssembly.Module> }) => resolve(m.modules))),
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
  serve();
}

void start();

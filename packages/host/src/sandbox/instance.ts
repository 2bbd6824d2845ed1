/**
 * Host-thread side of a plugin instance: owns the worker thread, sends calls
 * through the shared-memory channel, serves the plugin's host calls, enforces
 * the call deadline, and replaces the worker after a timeout or crash.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { join } from 'node:path';
import { DEV_BUNDLE_INTERFACE } from '@airlock/wit';
import { AirlockError } from '../errors.js';
import type { PreparedComponent } from '../component.js';
import { exportsHooks } from '../contract.js';
import { integratorImports } from '../capabilities/interfaces.js';
import { workerUrl } from '../paths.js';
import {
  CTRL_STATE,
  INIT,
  MEMORY_PROBE,
  PING,
  PARK,
  SHUTDOWN,
  RESET,
  State,
  createChannel,
  openChannel,
  readMessage,
  writeMessage,
  type Channel,
  type HostCall,
  type ChannelReply,
  type HostReply,
  type Response,
  type WorkerEvent,
  type WorkerMemory,
  callLabel,
  type FsAuditEvent,
} from './protocol.js';
import type { InstanceInit, WorkerInit, WorkerSetup } from './worker.js';
import { AdaptiveSpin } from './spin.js';
import { closeListedFds, createFdTable, type Preopen } from './wasi-fs.js';
import type { Refusal } from '../capabilities/refusal.js';
import type { PluginMonitor } from '../monitor.js';
import type { TraceContext } from '../tracing.js';
import type { FileQuota } from './quota-counter.js';

const isSettled = (s: number) => s !== State.CALL && s !== State.HOST_REPLY;

import type { LogLevel } from '../logger.js';

export interface InstanceOptions {
  pluginId: string;
  /** The transpiled component; may still be in preparation when the worker starts. */
  component: () => Promise<PreparedComponent>;
  /** Compiled core modules, shared by every instance of the same component. */
  modules: () => Promise<Record<string, WebAssembly.Module>>;
  /** A development build's bundle, which its engine asks for (see `DEV_BUNDLE_INTERFACE` in @airlock/wit). */
  devBundle?: () => Promise<Uint8Array | undefined>;
  config: Record<string, string>;
  env: Record<string, string>;
  /** Directories the plugin was granted. */
  preopens: Preopen[];
  /** Deadline of one call, in milliseconds. */
  timeoutMs: number;
  /** How long the `shutdown` hook may run before the instance is stopped anyway (default 1 s). */
  shutdownMs?: number;
  /** Largest message (arguments or result) in bytes. */
  maxMessageBytes: number;
  /** Calls that may wait behind the one running; more are refused with PLUGIN_BUSY. */
  maxQueuedCalls: number;
  /** Cap on each linear memory, in bytes; the compiled modules enforce it. */
  memoryCapBytes: number;
  /** Growth of the linear memories after the first call past which the instance is replaced between calls (0: never). */
  growthBytes: number;
  /** Poll budgets (µs) before blocking: the host thread awaiting a result, the worker awaiting a call. */
  spin: { hostMicros: number; workerMicros: number };
  onLog: (level: LogLevel, message: string) => void;
  /** Serve a call the plugin makes to a host interface. */
  /** `scope` is the running call's `CallOptions.scope`; `current`, the call it is (see `callLabel`). */
  onHostCall: (call: HostCall, scope: object | undefined, current: string | undefined, trace: TraceContext | undefined) => HostReply | Promise<HostReply>;
  /** The plugin's thread used (or was refused) a granted directory. */
  onAudit?: (event: FsAuditEvent) => void;
  /** The worker stopped (terminated, crashed or closed): release what it held on the host thread. */
  onExit?: () => void;
  /** The worker made a V8 code cache of the glue (see `saveCodeCache` in component.ts). */
  onCodeCache?: (data: Uint8Array) => void;
  /** Where threads of this plugin's replaced instances wait for its next instance (see ThreadLot). */
  lot?: ThreadLot;
  /** The plugin's runtime record: its calls are counted and timed there, and refused while it is `failed`. */
  monitor?: PluginMonitor;
  /** The plugin's quota of file operations, shared by its instances. */
  fileQuota?: FileQuota;
}

/** The outcome of a call: the export's value, the plugin's WIT error payload, or arguments refused by their schema. */
export type CallOutcome =
  | { ok: true; value: unknown }
  | { ok: false; error: unknown; refused?: Refusal[] }
  | { ok: false; invalid: { path: string; message: string }[] };

/**
 * What kind of error a failed outcome is: the case of a WIT error variant, the
 * `code` of a tool error, `invalid-arguments` for arguments refused by their
 * schema. The plugin chooses a tool error's code: it is cut to 64 characters.
 */
function returnedCase(outcome: Exclude<CallOutcome, { ok: true }>): string {
  if ('invalid' in outcome) return 'invalid-arguments';
  const e = outcome.error as { tag?: unknown; code?: unknown } | null;
  const name = typeof e?.tag === 'string' ? e.tag : typeof e?.code === 'string' ? e.code : 'error';
  return name.slice(0, 64);
}

/** The plugin's WIT error payload from an outcome (undefined for refused arguments). */
export const errorOf = (outcome: CallOutcome): unknown => ('error' in outcome ? outcome.error : undefined);

/** What the host refused the plugin during a failed call (see capabilities/refusal.ts). */
export const refusalsOf = (outcome: CallOutcome): Refusal[] | undefined => ('refused' in outcome ? outcome.refused : undefined);

export interface CallOptions {
  timeoutMs?: number;
  /** Check `tool.callTool` arguments against the tool's schema before the plugin runs. */
  validate?: boolean;
  /**
   * Cancels the call: a queued call is dropped, a running one is stopped by
   * stopping its worker (as at a deadline; the next call starts a new one).
   * The promise rejects with the signal's reason at once.
   */
  signal?: AbortSignal;
  /**
   * Tags the host calls the plugin makes during this call (its HTTP
   * requests), so the host can release what they opened later: a chat
   * stream's calls share one scope, closed when the stream ends.
   */
  scope?: object;
  /** Progress the plugin reports while this call runs (`airlock:plugin/progress`), each before the call settles. */
  onProgress?: (progress: Progress) => void;
  /** The span of the operation this call serves (tracing.ts): the host calls it makes (HTTP requests) get spans under it. */
  trace?: TraceContext;
}

/** A progress report of a running call. */
export interface Progress {
  /** 0 at the start, 1 when done; higher than the previous report's. */
  fraction: number;
  /** What the plugin is doing, in a few words (at most 200 characters). */
  message?: string;
}

/** Anything that runs calls into a plugin: one instance, or a pool of them. */
export interface PluginCaller {
  call(fn: string, args: unknown[], options?: CallOptions): Promise<CallOutcome>;
}

/** A plugin's worker thread, with what the host thread keeps of it. */
interface Live {
  worker: Worker;
  ch: Channel;
  /** Where an instance that takes the thread over posts its component (see worker.ts `reset`). */
  setup: MessagePort;
  /** Log lines received so far, to order them before the call's result. */
  logsReceived: number;
  logWaiter: { until: number; resolve: () => void } | undefined;
  /** Where the running call's progress reports go. */
  onProgress: ((progress: Progress) => void) | undefined;
  exited: boolean;
  /** The instance the thread serves, with its options and table of open files; none while the thread is parked. */
  owner: PluginInstance | undefined;
  opts: InstanceOptions | undefined;
  fds: Int32Array;
}

/**
 * Threads of replaced instances, parked (their instance dropped, everything of
 * it collected) until the same plugin's next instance takes one over. A
 * reload starts the new instance while the old one finishes its calls, so
 * reloads alternate between two threads instead of starting one each: every
 * thread that starts leaves memory in the allocator for good (glibc keeps a
 * heap per thread), which made 100 reloads grow the host by 50 MiB. Threads
 * only pass between instances of the same plugin id, and at most one per id
 * waits; a thread nobody takes within `idleMs` is stopped.
 */
export class ThreadLot {
  readonly #parked = new Map<string, { live: Live; timer: NodeJS.Timeout }>();
  readonly #idleMs: number;
  #closed = false;

  constructor(idleMs = 30_000) {
    this.#idleMs = idleMs;
  }

  /** Whether a thread of plugin `pluginId` is waiting. */
  has(pluginId: string): boolean {
    return this.#parked.has(pluginId);
  }

  put(pluginId: string, live: Live): void {
    if (this.#closed || live.exited) return void live.worker.terminate();
    this.#parked.get(pluginId)?.live.worker.terminate();
    clearTimeout(this.#parked.get(pluginId)?.timer);
    live.worker.unref();
    const timer = setTimeout(() => {
      if (this.#parked.get(pluginId)?.live !== live) return;
      this.#parked.delete(pluginId);
      void live.worker.terminate();
    }, this.#idleMs);
    timer.unref();
    this.#parked.set(pluginId, { live, timer });
  }

  take(pluginId: string): Live | undefined {
    const parked = this.#parked.get(pluginId);
    if (!parked) return undefined;
    this.#parked.delete(pluginId);
    clearTimeout(parked.timer);
    if (parked.live.exited) return undefined;
    parked.live.worker.ref();
    return parked.live;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const parked = [...this.#parked.values()];
    this.#parked.clear();
    await Promise.all(parked.map(({ live, timer }) => (clearTimeout(timer), live.worker.terminate())));
  }
}

/** How long a `shutdown` hook may run by default. */
export const DEFAULT_SHUTDOWN_MS = 1000;

export class PluginInstance {
  readonly #opts: InstanceOptions;
  readonly #resultSpin: AdaptiveSpin;
  #live: Live | undefined;
  #starting: Promise<Live> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #closed = false;
  /** The export running now and its arguments, for the audit log's `call` (named only when a host call needs it). */
  #runningFn: string | undefined;
  #runningArgs: unknown[] | undefined;
  #runningTrace: TraceContext | undefined;

  constructor(opts: InstanceOptions) {
    this.#opts = opts;
    this.#resultSpin = new AdaptiveSpin(opts.spin.hostMicros);
  }

  /** Start the worker now rather than on first call. */
  async start(): Promise<void> {
    await this.#ensureLive();
  }

  /**
   * Call an export (`tool.callTool`) with `args`. Calls are served one at a
   * time, in order. Resolves with the value or the plugin's WIT error payload;
   * rejects with an AirlockError on timeout, trap or crash.
   */
  call(fn: string, args: unknown[], options: CallOptions = {}): Promise<CallOutcome> {
    const timeoutMs = options.timeoutMs ?? this.#opts.timeoutMs;
    // The host's own probes are not the plugin's calls.
    const monitor = fn === MEMORY_PROBE || fn === PING || fn === INIT || fn === SHUTDOWN ? undefined : this.#opts.monitor;
    if (this.#pending > this.#opts.maxQueuedCalls) {
      // Back-pressure: refuse rather than queue without bound.
      return Promise.reject(
        new AirlockError('PLUGIN_BUSY', `plugin \`${this.#opts.pluginId}\` already has ${this.#pending} calls in flight; ${fn} was refused`, {
          plugin: this.#opts.pluginId,
          hint: 'Retry later, or load the plugin with a larger `poolSize`.',
        }),
      );
    }
    try {
      monitor?.admit();
    } catch (err) {
      return Promise.reject(err);
    }
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#pending++;
    monitor?.queue();
    const run = this.#queue
      .then(() => {
        if (!signal?.aborted) return this.#run(fn, args, timeoutMs, options, monitor);
        monitor?.unqueue();
        return Promise.reject(signal.reason);
      })
      .finally(() => this.#pending--);
    this.#queue = run.catch(() => undefined);
    return abortable(run, signal);
  }

  /**
   * What the worker thread holds now (its V8 heap, the instance's linear
   * memories), or undefined when no worker is running; with `collect`, after
   * a full garbage collection of the thread. Queued behind the calls already
   * waiting.
   */
  async memory(options: { collect?: boolean } = {}): Promise<WorkerMemory | undefined> {
    if (!this.#live || this.#live.exited) return undefined;
    const outcome = await this.call(MEMORY_PROBE, [options.collect === true]);
    return outcome.ok ? (outcome.value as WorkerMemory) : undefined;
  }

  /** A round trip to the worker thread that runs no plugin code (starting the thread if none runs), queued behind the calls already waiting. */
  async ping(): Promise<void> {
    await this.call(PING, []);
  }

  /** Calls running or waiting on this instance. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Close once the calls running or queued now have finished. With `park`,
   * the thread waits in the plugin's lot for its next instance (a reload)
   * rather than stopping.
   */
  async drain(options: { park?: boolean } = {}): Promise<void> {
    for (let queue = this.#queue; ; queue = this.#queue) {
      await queue;
      if (queue === this.#queue) break;
    }
    await this.close(options);
  }

  async close(options: { park?: boolean } = {}): Promise<void> {
    if (!this.#closed) await this.#shutdown();
    this.#closed = true;
    const live = this.#live ?? (await this.#starting?.catch(() => undefined));
    this.#live = undefined;
    if (!live || live.exited) return;
    if (options.park && this.#opts.lot && this.#pending === 0 && Atomics.load(live.ch.ctrl, CTRL_STATE) === State.IDLE) await this.#park(live, this.#opts.lot);
    else await live.worker.terminate();
  }

  /**
   * Before the instance is retired: its `shutdown` hook, when the component
   * has hooks and the instance is idle, waited for at most `shutdownMs`. A
   * hook that overruns is stopped with its worker; a failure is only logged.
   */
  async #shutdown(): Promise<void> {
    const live = this.#live;
    if (!live || live.exited || this.#pending > 0) return;
    const component = await this.#opts.component().catch(() => undefined);
    if (!component || !exportsHooks(component)) return;
    const timeoutMs = this.#opts.shutdownMs ?? DEFAULT_SHUTDOWN_MS;
    try {
      await this.call(SHUTDOWN, [], { timeoutMs });
    } catch (err) {
      this.#opts.onLog(
        'warn',
        err instanceof AirlockError && err.code === 'PLUGIN_TIMEOUT' ? `its shutdown hook did not finish within ${timeoutMs} ms; it was stopped` : `its shutdown hook failed: ${(err as Error)?.message ?? String(err)}`,
      );
    }
  }

  /** Drop this instance from its thread and leave the thread in the lot; stop it if that fails. */
  async #park(live: Live, lot: ThreadLot): Promise<void> {
    // Glue loaded as an ES module stays in the thread's module map for good: such a thread is not reused.
    const reusable = (await this.#opts.component().catch(() => undefined))?.glueKind === 'script';
    const response = reusable ? await this.#control(live, PARK).catch(() => undefined) : undefined;
    this.#opts.onExit?.();
    live.owner = undefined;
    live.opts = undefined;
    if (response && 'ok' in response) lot.put(this.#opts.pluginId, live);
    else await live.worker.terminate();
  }

  /** Take over a parked thread of this plugin: it loads this instance's component and settings. */
  async #adopt(live: Live): Promise<Live> {
    const o = this.#opts;
    try {
      const component = await o.component();
      const modules = await o.modules();
      const init = this.#instanceInit();
      live.setup.postMessage({ type: 'reset', init, glue: this.#glueSetup(component, await o.devBundle?.()), modules } satisfies WorkerSetup);
      live.owner = this;
      live.opts = o;
      live.fds = init.fds;
      const response = await this.#control(live, RESET);
      if (!('ok' in response)) throw new AirlockError('PLUGIN_START_FAILED', `plugin \`${o.pluginId}\` failed to start: ${'fail' in response ? response.fail : 'the thread did not take the component'}`, { plugin: o.pluginId });
    } catch (err) {
      await live.worker.terminate();
      throw err;
    }
    if (this.#closed) {
      await live.worker.terminate();
      throw new AirlockError('HOST_CLOSED', 'the host is closed', { plugin: o.pluginId });
    }
    this.#live = live;
    return live;
  }

  /** What the worker needs of this instance's settings, with a fresh table of open files. */
  #instanceInit(): InstanceInit {
    const o = this.#opts;
    return {
      pluginId: o.pluginId,
      config: o.config,
      env: o.env,
      preopens: o.preopens,
      fds: createFdTable(),
      spinMicros: o.spin.workerMicros,
      memoryCapBytes: o.memoryCapBytes,
      growthBytes: o.growthBytes,
      fileQuota: o.fileQuota,
    };
  }

  #glueSetup(component: PreparedComponent, devBundle: Uint8Array | undefined): Extract<WorkerSetup, { type: 'glue' }> {
    return {
      type: 'glue',
      file: join(component.dir, component.glue),
      kind: component.glueKind,
      source: component.glueCode,
      codeCache: component.codeCache,
      hooks: exportsHooks(component),
      interfaces: integratorImports(component.imports),
      devBundle: devBundle && { interface: DEV_BUNDLE_INTERFACE, source: devBundle },
    };
  }

  /**
   * A call to the thread itself (PARK, RESET), answered without the plugin
   * running: no host calls, and a generous deadline (instantiating takes tens
   * of milliseconds, more on a busy machine).
   */
  async #control(live: Live, fn: string): Promise<Response> {
    const { ch } = live;
    writeMessage(ch, { fn, args: [] });
    Atomics.store(ch.ctrl, CTRL_STATE, State.CALL);
    Atomics.notify(ch.ctrl, CTRL_STATE);
    const deadline = performance.now() + Math.max(this.#opts.timeoutMs, 60_000);
    for (;;) {
      const state = Atomics.load(ch.ctrl, CTRL_STATE);
      if (state === State.RESULT) break;
      if (state === State.DEAD) throw new Error('the thread exited');
      const remaining = deadline - performance.now();
      if (state === State.HOST_CALL || remaining <= 0) throw new Error(state === State.HOST_CALL ? 'the thread made a host call while it was being set up' : 'the thread did not answer');
      const waited = Atomics.waitAsync(ch.ctrl, CTRL_STATE, state, remaining);
      if (waited.async) await waited.value;
    }
    const response = readMessage<Response>(ch);
    Atomics.store(ch.ctrl, CTRL_STATE, State.IDLE);
    return response;
  }

  async #ensureLive(): Promise<Live> {
    if (this.#closed) throw new AirlockError('HOST_CLOSED', 'the host is closed', { plugin: this.#opts.pluginId });
    if (this.#live && !this.#live.exited) return this.#live;
    this.#starting ??= this.#spawn().finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  async #spawn(): Promise<Live> {
    const o = this.#opts;
    const parked = o.lot?.take(o.pluginId);
    if (parked) {
      try {
        return await this.#adopt(parked);
      } catch (err) {
        if (this.#closed) throw err;
        o.onLog('warn', `a parked thread could not take the plugin over (${(err as Error).message}); starting a new one`);
      }
    }
    const { ctrlBuffer, dataBuffer } = createChannel(o.maxMessageBytes);
    const setup = new MessageChannel();
    const init: WorkerInit = { ...this.#instanceInit(), ctrlBuffer, dataBuffer, setupPort: setup.port2 };
    // The worker boots while the host prepares the component, and loads the transpiled module while the host compiles the core modules.
    const worker = new Worker(workerUrl, { workerData: init, transferList: [setup.port2], stdout: false, stderr: false });
    const live: Live = {
      worker,
      ch: openChannel(ctrlBuffer, dataBuffer),
      setup: setup.port1,
      logsReceived: 0,
      logWaiter: undefined,
      onProgress: undefined,
      exited: false,
      owner: this,
      opts: o,
      fds: init.fds,
    };

    const ready = new Promise<void>((resolve, reject) => {
      const fail = (message: string, cause?: unknown) =>
        reject(new AirlockError('PLUGIN_START_FAILED', `plugin \`${o.pluginId}\` failed to start: ${message}`, { plugin: o.pluginId, cause }));
      worker.on('message', (event: WorkerEvent) => {
        switch (event.type) {
          case 'ready':
            return resolve();
          case 'start-failed':
            return fail(event.message + (event.stderr ? `\n${event.stderr}` : ''));
          case 'log':
          case 'audit':
          case 'progress': {
            live.logsReceived = event.seq;
            if (event.type === 'log') live.opts?.onLog(event.level as LogLevel, event.message);
            else if (event.type === 'audit') live.opts?.onAudit?.(event);
            else live.onProgress?.(event.message === undefined ? { fraction: event.fraction } : { fraction: event.fraction, message: event.message });
            if (live.logWaiter && live.logsReceived >= live.logWaiter.until) live.logWaiter.resolve();
            return;
          }
          case 'code-cache':
            return live.opts?.onCodeCache?.(event.data);
          case 'memory':
            return live.opts?.monitor?.memory(event.linearBytes);
        }
      });
      worker.once('error', (err) => fail(err.message, err));
      worker.once('exit', (code) => {
        live.exited = true;
        // Files the plugin still held: the thread is gone, so nothing else uses these descriptors.
        closeListedFds(live.fds);
        live.opts?.onExit?.();
        live.logWaiter?.resolve();
        // Wake a call waiting on the channel: the worker will never answer.
        Atomics.store(live.ch.ctrl, CTRL_STATE, State.DEAD);
        Atomics.notify(live.ch.ctrl, CTRL_STATE);
        if (live.owner && live.owner.#live === live) live.owner.#live = undefined;
        setup.port1.close();
        fail(`worker exited with code ${code}`);
      });
    });
    // Observed below; until then a failed start must not count as an unhandled rejection.
    ready.catch(() => {});
    try {
      const component = await o.component();
      // The glue's text and code cache as the host checked them: the worker reads nothing from the cache itself.
      worker.postMessage(this.#glueSetup(component, await o.devBundle?.()) satisfies WorkerSetup);
      worker.postMessage({ type: 'modules', modules: await o.modules() } satisfies WorkerSetup);
      await ready;
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    if (this.#closed) {
      await worker.terminate();
      throw new AirlockError('HOST_CLOSED', 'the host is closed', { plugin: o.pluginId });
    }
    this.#live = live;
    return live;
  }

  async #run(fn: string, args: unknown[], timeoutMs: number, options: CallOptions, monitor: PluginMonitor | undefined): Promise<CallOutcome> {
    const t0 = monitor?.start() ?? 0;
    const { signal } = options;
    let outcome: CallOutcome | undefined;
    let thrown: unknown;
    let live: Live | undefined;
    // An abort wakes the wait in #exchange, which then stops the worker.
    const wake = () => live && Atomics.notify(live.ch.ctrl, CTRL_STATE);
    try {
      live = await this.#ensureLive();
      signal?.throwIfAborted();
      signal?.addEventListener('abort', wake, { once: true });
      live.onProgress = options.onProgress;
      this.#runningFn = fn;
      this.#runningArgs = args;
      this.#runningTrace = options.trace;
      outcome = await this.#exchange(live, fn, args, timeoutMs, options.validate === true, options.scope, signal);
      return outcome;
    } catch (err) {
      thrown = err ?? new Error('rejected without a reason');
      throw err;
    } finally {
      if (live) live.onProgress = undefined;
      this.#runningFn = undefined;
      this.#runningArgs = undefined;
      this.#runningTrace = undefined;
      signal?.removeEventListener('abort', wake);
      monitor?.end(t0, fn, outcome && !outcome.ok ? returnedCase(outcome) : undefined, thrown);
    }
  }

  async #exchange(live: Live, fn: string, args: unknown[], timeoutMs: number, validate: boolean, scope: object | undefined, signal: AbortSignal | undefined): Promise<CallOutcome> {
    const o = this.#opts;
    const { ch } = live;
    const deadline = performance.now() + timeoutMs;
    const refused: Refusal[] = [];
    try {
      writeMessage(ch, validate ? { fn, args, validate } : { fn, args });
    } catch (err) {
      throw new AirlockError('TOOL_ARGUMENTS_INVALID', `arguments for ${fn} are too large: ${(err as Error).message}`, { plugin: o.pluginId });
    }
    Atomics.store(ch.ctrl, CTRL_STATE, State.CALL);
    Atomics.notify(ch.ctrl, CTRL_STATE);
    // Most calls finish within tens of microseconds: poll briefly before paying
    // for an Atomics.waitAsync wake-up through the event loop.
    this.#resultSpin.spin(ch.ctrl, isSettled);

    for (;;) {
      const state = Atomics.load(ch.ctrl, CTRL_STATE);
      if (state === State.RESULT) break;
      if (state === State.DEAD) {
        // Stopped because the instance was closed (an unload, a reload, the host closing), not a crash.
        if (this.#closed) throw new AirlockError('HOST_CLOSED', `plugin \`${o.pluginId}\` was stopped during ${fn}: it was unloaded or the host closed`, { plugin: o.pluginId });
        throw new AirlockError('PLUGIN_CRASHED', `plugin \`${o.pluginId}\` crashed during ${fn}; it will be restarted on the next call`, { plugin: o.pluginId });
      }
      if (signal?.aborted) {
        await this.#discard(live);
        throw signal.reason;
      }
      if (state === State.HOST_CALL) {
        if (!(await this.#serveHostCall(live, deadline, scope, refused, signal))) {
          await this.#discard(live);
          if (signal?.aborted) throw signal.reason;
          throw this.#timeout(fn, timeoutMs);
        }
        continue;
      }
      const remaining = deadline - performance.now();
      const waited = remaining > 0 ? Atomics.waitAsync(ch.ctrl, CTRL_STATE, state, remaining) : { async: false, value: 'timed-out' as const };
      const outcome = waited.async ? await waited.value : waited.value;
      if (signal?.aborted && Atomics.load(ch.ctrl, CTRL_STATE) === state) {
        await this.#discard(live);
        throw signal.reason;
      }
      if (outcome === 'timed-out' && Atomics.load(ch.ctrl, CTRL_STATE) === state) {
        await this.#discard(live);
        throw this.#timeout(fn, timeoutMs);
      }
    }

    const response = readMessage<Response>(ch);
    Atomics.store(ch.ctrl, CTRL_STATE, State.IDLE);
    if (response.logs > live.logsReceived && !live.exited) {
      // Log lines travel by postMessage; deliver them before the result they precede.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        live.logWaiter = { until: response.logs, resolve: () => (clearTimeout(timer), (live.logWaiter = undefined), resolve()) };
      });
    }
    if ('ok' in response) return { ok: true, value: response.ok };
    if (response.memoryLimit) {
      const mib = Math.round(o.memoryCapBytes / (1024 * 1024));
      const detail = 'trap' in response ? response.stderr.trim() : '';
      throw new AirlockError('PLUGIN_MEMORY_LIMIT', `plugin \`${o.pluginId}\` reached its memory limit of ${mib} MiB in ${fn}; the instance was replaced${detail ? `\n${detail}` : ''}`, {
        plugin: o.pluginId,
        hint: 'Raise `limits.memoryMb` in the plugin manifest if the plugin legitimately needs more (the host caps it at its maxMemoryMb).',
      });
    }
    if ('err' in response) return refused.length ? { ok: false, error: response.err, refused } : { ok: false, error: response.err };
    if ('invalid' in response) return { ok: false, invalid: response.invalid };
    if ('tooLarge' in response) {
      throw new AirlockError('RESULT_TOO_LARGE', `plugin \`${o.pluginId}\` returned ${response.tooLarge} bytes from ${fn}, over the limit of ${response.max} bytes; the result was dropped`, {
        plugin: o.pluginId,
        hint: 'Return less data (page it, or store it and return a reference), or raise the host\'s limits.maxMessageBytes.',
      });
    }
    if ('trap' in response) {
      const stack = response.stderr.trim();
      throw new AirlockError('PLUGIN_TRAPPED', `plugin \`${o.pluginId}\` trapped in ${fn}: ${response.trap}${stack ? `\n${stack}` : ''}`, {
        plugin: o.pluginId,
        hint: 'The instance was discarded and a fresh one serves the next call.',
      });
    }
    if ('initFailed' in response) {
      throw new AirlockError('PLUGIN_INIT_FAILED', `plugin \`${o.pluginId}\` did not start: its init said: ${response.initFailed}`, {
        plugin: o.pluginId,
        hint: 'Its init hook refused the configuration or environment it was given; fix what the message names and reload it.',
      });
    }
    throw new AirlockError('PLUGIN_CRASHED', `plugin \`${o.pluginId}\` failed in ${fn}: ${response.fail}`, { plugin: o.pluginId });
  }

  #timeout(fn: string, timeoutMs: number): AirlockError {
    return new AirlockError('PLUGIN_TIMEOUT', `plugin \`${this.#opts.pluginId}\` did not answer ${fn} within ${timeoutMs} ms; it was stopped and will restart on the next call`, {
      plugin: this.#opts.pluginId,
      hint: 'Raise `limits.timeoutMs` in the plugin manifest if the work is legitimately slow.',
    });
  }

  /** Serve one host call, noting a refusal in `refused`; false when the call's deadline passed, or its signal aborted, first. */
  async #serveHostCall(live: Live, deadline: number, scope: object | undefined, refused: Refusal[], signal: AbortSignal | undefined): Promise<boolean> {
    const { ch } = live;
    let reply: HostReply;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), Math.max(0, deadline - performance.now()));
        onAbort = () => resolve('late');
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      const answered = await Promise.race([Promise.resolve(this.#opts.onHostCall(readMessage<HostCall>(ch), scope, this.#runningFn && callLabel(this.#runningFn, this.#runningArgs ?? []), this.#runningTrace)), late]);
      if (answered === 'late') return false;
      reply = answered;
    } catch (err) {
      reply = { err: { tag: 'internal', val: (err as Error).message } };
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    if ('refused' in reply && reply.refused) {
      refused.push(reply.refused);
      reply = { err: reply.err };
    }
    // The worker may have been stopped meanwhile; then nobody listens.
    if (Atomics.load(ch.ctrl, CTRL_STATE) !== State.HOST_CALL) return true;
    let message = reply as ChannelReply;
    if ('ok' in reply && reply.shared) {
      // Posted before the reply is written: the worker takes it off the port as it reads the reply.
      live.setup.postMessage({ type: 'shared', buffer: reply.shared } satisfies WorkerSetup);
      message = { ok: reply.ok, shared: true };
    }
    writeMessage(ch, message, true);
    Atomics.store(ch.ctrl, CTRL_STATE, State.HOST_REPLY);
    Atomics.notify(ch.ctrl, CTRL_STATE);
    return true;
  }

  async #discard(live: Live): Promise<void> {
    if (this.#live === live) this.#live = undefined;
    await live.worker.terminate();
  }
}

/** Settle with `promise`, or reject with the signal's reason as soon as it aborts (at once when it has). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The runtime record of one plugin: its lifecycle state, and what its calls,
 * HTTP requests and memory came to. Instances report into it as calls start
 * and end; the host reads it for `host.plugins()`, `host.status()` and
 * `host.metrics()`.
 *
 * A plugin whose instances fail (trap, time out, hit the memory limit, crash)
 * `maxFailures` times within `windowMs` is put in `failed`: its calls are
 * refused with PLUGIN_FAILED, without starting a worker, until a backoff ends.
 * It then gets one more chance: a call that succeeds makes it `active` again
 * and resets the backoff; one more failure puts it back in `failed` with the
 * backoff doubled (up to `maxBackoffMs`). A reload starts it afresh.
 *
 * Everything here is fixed in size, whatever a plugin does: the latency
 * histogram has fixed buckets, error codes and origins are capped.
 */
import { AirlockError, type ErrorCode } from './errors.js';

/**
 * Where a plugin is in its life. `installed` and `disabled` are installed
 * plugins that are not loaded (see `host.status()`); a loaded plugin is
 * `starting`, `active`, `stopping`, or `failed` (too many failures in a row;
 * see `FailurePolicy`).
 */
export type PluginState = 'installed' | 'disabled' | 'starting' | 'active' | 'stopping' | 'failed';

/** When a plugin that keeps failing is stopped from running for a while. */
export interface FailurePolicy {
  /** Failures (traps, timeouts, memory limits, crashes) within `windowMs` that put a plugin in `failed`. Default 5. */
  maxFailures?: number;
  /** Default 60,000. */
  windowMs?: number;
  /** How long the first stay in `failed` lasts; each further one doubles it. Default 30,000. */
  backoffMs?: number;
  /** Default 600,000. */
  maxBackoffMs?: number;
}

export const FAILURE_DEFAULTS: Required<FailurePolicy> = { maxFailures: 5, windowMs: 60_000, backoffMs: 30_000, maxBackoffMs: 600_000 };

/** The failures that count towards `failed`: the sandbox stopped the instance. */
export type SandboxFailureCode = 'PLUGIN_TRAPPED' | 'PLUGIN_TIMEOUT' | 'PLUGIN_MEMORY_LIMIT' | 'PLUGIN_CRASHED' | 'PLUGIN_INIT_FAILED';
const SANDBOX_FAILURES: ReadonlySet<string> = new Set<SandboxFailureCode>(['PLUGIN_TRAPPED', 'PLUGIN_TIMEOUT', 'PLUGIN_MEMORY_LIMIT', 'PLUGIN_CRASHED', 'PLUGIN_INIT_FAILED']);

/** The last error that changed a plugin's state, or the last sandbox failure. */
export interface PluginErrorRecord {
  code: ErrorCode;
  message: string;
  /** Epoch milliseconds. */
  at: number;
}

/** What `host.plugins()` and `host.status()` add to a plugin's info. */
export interface PluginRuntime {
  state: PluginState;
  /** When it entered `state`, epoch milliseconds. */
  since: number;
  /** Instances replaced after one failed (a trap, timeout, memory limit or crash); the replacement starts with the next call. */
  restarts: number;
  lastError?: PluginErrorRecord;
  /** With `failed`: when its calls are let through again, epoch milliseconds. */
  retryAt?: number;
}

/** A change of state (`host.on('plugin-state', …)`). */
export interface PluginStateChange {
  id: string;
  from: PluginState | undefined;
  to: PluginState;
  at: number;
  /** What caused it, for `failed`. */
  error?: PluginErrorRecord;
}

/** An instance the sandbox stopped (`host.on('plugin-failure', …)`); `failures` counts those within the policy's window. */
export interface PluginFailureEvent {
  id: string;
  code: SandboxFailureCode;
  message: string;
  /** The export that was running, e.g. `tool.callTool`. */
  fn: string;
  at: number;
  failures: number;
}

/** Latency of a plugin's calls: count, sum, and quantiles from a log-linear histogram (within ±5%). */
export interface LatencySummary {
  count: number;
  sumMs: number;
  maxMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Cumulative counts at `LATENCY_BUCKETS_MS` bounds (the last is +Inf), as Prometheus histograms want them. */
  buckets: number[];
}

/** Requests to one origin (`other` collects origins past the first 64). */
export interface OriginTraffic {
  requests: number;
  refused: number;
  bytesOut: number;
  bytesIn: number;
}

/** One plugin's figures, from when it was loaded (they survive reloads, not an unload). */
export interface PluginMetrics extends PluginRuntime {
  id: string;
  calls: number;
  /** Failed calls by code: the host's code when the host or sandbox failed it (`PLUGIN_TIMEOUT`), `returned:<case>` when the plugin returned a contract error. */
  errors: Record<string, number>;
  latency: LatencySummary;
  /** Calls running now. */
  inFlight: number;
  /** Calls waiting for an instance. */
  queued: number;
  /** Outbound HTTP by origin. */
  http: Record<string, OriginTraffic>;
  /** Largest linear memory one of its instances reached, in bytes. */
  memoryHighWaterBytes: number;
  /** Its stored data, when it holds a storage grant. */
  storage?: { bytes: number; keys: number };
  /** Events it published (refused ones not counted), and events for it: handled, dropped because it fell behind, and waiting. */
  events: { published: number; delivered: number; dropped: number; queued?: number };
}

/** Upper bounds of the Prometheus buckets, in milliseconds. */
export const LATENCY_BUCKETS_MS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000] as const;

/** Sub-buckets per power of two: quantiles within ~4.5% of the true value. */
const STEPS = 8;
const FINE_BUCKETS = STEPS * 40 + 1;
const MAX_KEYS = 64;

/** Counts of latencies: fixed log-linear buckets in microseconds, and the coarse Prometheus ones. */
export class LatencyHistogram {
  readonly #fine = new Float64Array(FINE_BUCKETS);
  readonly #coarse = new Float64Array(LATENCY_BUCKETS_MS.length + 1);
  count = 0;
  sumMs = 0;
  maxMs = 0;

  record(ms: number): void {
    const micros = ms * 1000;
    this.#fine[micros < 1 ? 0 : Math.min(FINE_BUCKETS - 1, 1 + Math.floor(Math.log2(micros) * STEPS))]!++;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
    this.#coarse[i]!++;
    this.count++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** The `q` quantile in milliseconds: the middle of the bucket it falls in, capped at the largest seen. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < FINE_BUCKETS; i++) {
      seen += this.#fine[i]!;
      if (seen >= rank) return i === 0 ? Math.min(0.0005, this.maxMs) : Math.min(2 ** ((i - 0.5) / STEPS) / 1000, this.maxMs);
    }
    return this.maxMs;
  }

  summary(): LatencySummary {
    let cumulative = 0;
    const buckets = Array.from(this.#coarse, (n) => (cumulative += n));
    return { count: this.count, sumMs: this.sumMs, maxMs: this.maxMs, p50Ms: this.quantile(0.5), p90Ms: this.quantile(0.9), p99Ms: this.quantile(0.99), buckets };
  }
}

/** Add `n` to `key` of a map capped at MAX_KEYS keys; later keys count as `other`. */
function bump<V>(map: Map<string, V>, key: string, fresh: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    if (map.size >= MAX_KEYS) key = 'other';
    value = map.get(key);
    if (value === undefined) map.set(key, (value = fresh()));
  }
  return value;
}

export interface MonitorHooks {
  /** Masks known secrets in an error message before it is kept or told. */
  scrub(text: string): string;
  state(change: PluginStateChange): void;
  failure(event: PluginFailureEvent): void;
  restarted(id: string, restarts: number): void;
}

export class PluginMonitor {
  readonly id: string;
  readonly #policy: Required<FailurePolicy>;
  readonly #events: MonitorHooks;
  readonly #latency = new LatencyHistogram();
  readonly #errors = new Map<string, { n: number }>();
  readonly #http = new Map<string, OriginTraffic>();
  /** Times of the sandbox failures within the window, oldest first (at most #kept). */
  #failures: number[] = [];
  readonly #kept: number;
  #state: PluginState = 'starting';
  #since = Date.now();
  #lastError: PluginErrorRecord | undefined;
  #backoffMs: number;
  #retryAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** After a stay in `failed`: the next failure sends it straight back. */
  #probation = false;
  /** An instance failed: the next call starts its replacement. */
  #replacing = false;
  restarts = 0;
  calls = 0;
  inFlight = 0;
  queued = 0;
  memoryHighWaterBytes = 0;

  /** `policy` false: failures are counted and told, and never hold the plugin. */
  constructor(id: string, policy: FailurePolicy | false | undefined, events: MonitorHooks) {
    this.id = id;
    this.#policy = policy === false ? { ...FAILURE_DEFAULTS, maxFailures: Infinity } : { ...FAILURE_DEFAULTS, ...policy };
    this.#kept = Number.isFinite(this.#policy.maxFailures) ? Math.min(this.#policy.maxFailures, 1000) : 64;
    this.#backoffMs = this.#policy.backoffMs;
    this.#events = events;
  }

  get state(): PluginState {
    return this.#state;
  }

  /** Move to `to` and say so; no event when it is already there. */
  setState(to: PluginState, error?: PluginErrorRecord): void {
    if (error) this.#lastError = error;
    if (to === this.#state) return;
    const from = this.#state;
    this.#state = to;
    this.#since = Date.now();
    if (to !== 'failed') this.#clearTimer();
    this.#events.state({ id: this.id, from, to, at: this.#since, ...(to === 'failed' && error ? { error } : {}) });
  }

  /** A fresh start (a reload): failures and backoff forgotten. */
  reset(): void {
    this.#failures = [];
    this.#probation = false;
    this.#replacing = false;
    this.#backoffMs = this.#policy.backoffMs;
    this.setState('active');
  }

  /** Throws PLUGIN_FAILED while the plugin is held in `failed`. */
  admit(): void {
    if (this.#state !== 'failed') return;
    const seconds = Math.max(1, Math.ceil(((this.#retryAt ?? Date.now()) - Date.now()) / 1000));
    throw new AirlockError('PLUGIN_FAILED', `plugin \`${this.id}\` failed ${this.#policy.maxFailures} times within ${this.#policy.windowMs / 1000} s and is stopped for ${seconds} s more (last: ${this.#lastError?.message.split('\n')[0] ?? 'unknown'})`, {
      plugin: this.id,
      hint: 'Fix what makes it fail (see its log), then reload it; or wait: a call after the backoff is let through.',
    });
  }

  queue(): void {
    this.queued++;
  }

  /** A queued call starts running; returns its start time. */
  start(): number {
    this.queued--;
    this.inFlight++;
    if (this.#replacing) {
      // The call after a failure runs on a fresh instance.
      this.#replacing = false;
      this.restarts++;
      this.#events.restarted(this.id, this.restarts);
    }
    return performance.now();
  }

  /** A queued call was dropped before it ran (its signal aborted). */
  unqueue(): void {
    this.queued--;
  }

  /** A call that started at `t0` ended: with a value, a contract error `returned` (its case), or `thrown`. */
  end(t0: number, fn: string, returned: string | undefined, thrown: unknown): void {
    this.inFlight--;
    this.calls++;
    this.#latency.record(performance.now() - t0);
    const code = thrown !== undefined ? (thrown instanceof AirlockError ? thrown.code : 'ABORTED') : returned !== undefined ? `returned:${returned}` : undefined;
    if (code === undefined) {
      if (this.#probation) {
        this.#probation = false;
        this.#backoffMs = this.#policy.backoffMs;
      }
      return;
    }
    bump(this.#errors, code, () => ({ n: 0 })).n++;
    if (thrown instanceof AirlockError && SANDBOX_FAILURES.has(thrown.code)) this.#failed(thrown, fn);
  }

  #failed(err: AirlockError, fn: string): void {
    const at = Date.now();
    // A trap's message carries what the plugin wrote to stderr: known secrets are masked before it is kept.
    const message = this.#events.scrub(err.message);
    const error: PluginErrorRecord = { code: err.code, message, at };
    this.#lastError = error;
    this.#replacing = true;
    this.#failures = this.#failures.filter((t) => at - t < this.#policy.windowMs);
    this.#failures.push(at);
    if (this.#failures.length > this.#kept) this.#failures.shift();
    this.#events.failure({ id: this.id, code: err.code as SandboxFailureCode, message, fn, at, failures: this.#failures.length });
    if (this.#state !== 'active' || (!this.#probation && this.#failures.length < this.#policy.maxFailures)) return;
    // Too many in a row: hold it for the backoff, then let the next call through on probation.
    const backoff = this.#probation ? Math.min(this.#backoffMs * 2, this.#policy.maxBackoffMs) : this.#backoffMs;
    this.#backoffMs = backoff;
    this.#failures = [];
    this.#retryAt = at + backoff;
    this.setState('failed', error);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#retryAt = undefined;
      this.#probation = true;
      this.setState('active');
    }, backoff);
    this.#timer.unref();
  }

  /** An instance's linear memory reached `bytes`. */
  memory(bytes: number): void {
    if (bytes > this.memoryHighWaterBytes) this.memoryHighWaterBytes = bytes;
  }

  /** Events, as the event bus sees them. */
  readonly events = { published: 0, delivered: 0, dropped: 0 };
  readonly eventMeter = {
    published: () => void this.events.published++,
    delivered: () => void this.events.delivered++,
    dropped: () => void this.events.dropped++,
  };

  /** Outbound HTTP, as the plugin's broker sees it. */
  readonly meter = {
    request: (origin: string, bytesOut: number) => {
      const t = bump(this.#http, origin, freshTraffic);
      t.requests++;
      t.bytesOut += bytesOut;
    },
    refused: (origin: string) => void bump(this.#http, origin, freshTraffic).refused++,
    received: (origin: string, bytes: number) => void (bump(this.#http, origin, freshTraffic).bytesIn += bytes),
  };

  runtime(): PluginRuntime {
    return {
      state: this.#state,
      since: this.#since,
      restarts: this.restarts,
      ...(this.#lastError ? { lastError: { ...this.#lastError } } : {}),
      ...(this.#retryAt !== undefined && this.#state === 'failed' ? { retryAt: this.#retryAt } : {}),
    };
  }

  metrics(): PluginMetrics {
    return {
      id: this.id,
      ...this.runtime(),
      calls: this.calls,
      errors: Object.fromEntries([...this.#errors].map(([code, { n }]) => [code, n])),
      latency: this.#latency.summary(),
      inFlight: this.inFlight,
      queued: this.queued,
      http: Object.fromEntries([...this.#http].map(([origin, t]) => [origin, { ...t }])),
      memoryHighWaterBytes: this.memoryHighWaterBytes,
      events: { ...this.events },
    };
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#retryAt = undefined;
  }

  /** Stop its timer: the plugin is gone. */
  dispose(): void {
    this.#clearTimer();
  }
}

const freshTraffic = (): OriginTraffic => ({ requests: 0, refused: 0, bytesOut: 0, bytesIn: 0 });

/**
 * The host's public types: its options, what it reports about plugins, and
 * its events. The behaviour is in host.ts and the modules it wires.
 */
import type { AirlockError } from './errors.js';
import type { Capabilities, Manifest, PluginKind } from './manifest.js';
import type { LogEntry, Logger } from './logger.js';
import type { InstalledPlugin, TrustPolicy } from './install/registry.js';
import type { StorageAdapter } from './storage/adapter.js';
import type { WorkerMemory } from './sandbox/protocol.js';
import type { Progress } from './sandbox/instance.js';
import type { FailurePolicy, PluginFailureEvent, PluginRuntime, PluginStateChange } from './monitor.js';
import type { HostPolicy } from './policy.js';
import type { AuditOptions } from './audit.js';
import type { HostQuotas } from './quotas.js';
import type { Grant } from './capabilities/grant.js';
import type { RiskLevel } from './kinds/tool.js';
import type { HostInterface } from './capabilities/interfaces.js';

export interface HostLimits {
  /** Deadline of a call when the manifest sets none. Default 30 s. */
  defaultTimeoutMs?: number;
  /** Upper bound on any manifest's `timeoutMs`. Default 5 min. */
  maxTimeoutMs?: number;
  /** Largest arguments or result of one call, in bytes. Default 16 MiB. */
  maxMessageBytes?: number;
  /** Largest response body a plugin may receive over HTTP, in bytes. Default 32 MiB. */
  maxHttpBodyBytes?: number;
  /** Calls that may wait for a busy plugin instance before new ones are refused (PLUGIN_BUSY). Default 256. */
  maxQueuedCalls?: number;
  /** Memory cap of a plugin whose manifest sets none, in MiB. Default 256. */
  defaultMemoryMb?: number;
  /** Upper bound on any manifest's `memoryMb`. Default 2048. */
  maxMemoryMb?: number;
  /**
   * Replace an instance, between calls, once its linear memory has grown this
   * many MiB beyond what it held after its first call. Wasm memory never
   * shrinks, and a guest that leaks a little on every call (componentize-js
   * 0.23 does, about 330 bytes) would otherwise sit at its cap for good.
   * Default 16; 0 turns it off.
   */
  instanceGrowthMb?: number;
  /** What each plugin's scratch directory (`/scratch`, `<home>/scratch/<id>`) may hold, in MiB (1–1024). Default 64. */
  scratchMb?: number;
  /** How long a plugin's `shutdown` hook may run before its instance is stopped anyway, in ms. Default 1000. */
  shutdownMs?: number;
}

export interface HostOptions {
  /** Directory for the host's state: installed plugins, plugin storage, transpile cache. Created if missing, unless `create` is false. */
  home: string;
  /**
   * Create `home` when it does not exist. Default true. Tools that only read
   * a home (listing what is installed) pass false, and get `HOME_NOT_FOUND`
   * instead of an empty home left behind.
   */
  create?: boolean;
  /** Where plugin key-value data lives. Default: SQLite at `<home>/storage.db`. */
  storage?: StorageAdapter;
  /**
   * Where transpiled components are cached. Default `<home>/cache/components`,
   * checked against digest records in `<home>/cache-digests`. Hosts may share
   * one (entries are named by the component's sha256 and written atomically),
   * e.g. test hosts that each get a fresh home; its digest records are then
   * kept with it, in `<componentCacheDir>/digests`. An entry that does not
   * match its record is rebuilt, never run, but whoever can write to both can
   * change what plugins run: keep it as private as the home.
   */
  componentCacheDir?: string;
  /** Receives every log line, tagged by plugin. Default: info and above to stderr. */
  logger?: Logger;
  limits?: HostLimits;
  /**
   * When a plugin that keeps failing (traps, timeouts, memory limits,
   * crashes) is held in `failed`, and for how long. Default: 5 failures within
   * 60 s hold it for 30 s, doubling while it goes on failing. `false` never
   * holds a plugin (failures are still counted and reported).
   */
  failures?: FailurePolicy | false;
  /** What no plugin gets, whatever its user consented to: broad http entries, protected directories, understated risk. See {@link HostPolicy}. */
  policy?: HostPolicy;
  /** The audit log of capability use in `<home>/audit.db` (see `host.audit()`): how many records it keeps, or `false` for none. Default 100,000 records. */
  audit?: AuditOptions | false;
  /**
   * What a plugin may do within a window (default 60 s): HTTP requests and
   * bytes, file operations, storage writes; `plugins` sets them per plugin id.
   * Past one, the use is refused as a capability refuses (the plugin sees a
   * WIT error) and recorded in the audit log. Default: no quota.
   *
   * @example createHost({ home, quotas: { httpRequests: 600, plugins: { crawler: { httpRequests: 6000 } } } })
   */
  quotas?: HostQuotas;
  /**
   * Events between the host and plugins: how many may wait for one
   * subscribing plugin before its oldest are dropped (default 256), and the
   * largest payload (default 64 KiB of JSON).
   */
  events?: { maxQueued?: number; maxPayloadBytes?: number };
  /**
   * Interfaces of the integrator's own that plugins may import, by id
   * (`acme:kb/search`): each its functions by JavaScript name, taking the
   * WIT arguments as jco gives them and then `{ plugin }`. A plugin imports
   * one only when `capabilities.interfaces` names it and the user grants it.
   *
   * @example createHost({ home, interfaces: { 'acme:kb/search': { query: (text, { plugin }) => search(text) } } })
   */
  interfaces?: Record<string, HostInterface>;
  /**
   * How many tokens a text takes, for `host.context` budgets: the tokenizer of
   * the model the context is for. Default: a quarter of the text's UTF-8
   * bytes, rounded up (`Math.ceil(bytes / 4)`), near what BPE tokenizers
   * give for English and code.
   *
   * @example createHost({ home, countTokens: (text) => encoding.encode(text).length })
   */
  countTokens?: (text: string) => number;
  /** Environment that granted variables are read from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * How long each side polls before blocking, in microseconds. Blocking and
   * waking a thread costs tens of microseconds, more than a small call; polling
   * trades a little CPU for latency. `hostMicros` briefly holds the host's event
   * loop while a call is in flight; set both to 0 to never poll.
   * Polling adapts: a side that mostly times out (a busy machine, slow calls)
   * stops polling. Default `{ hostMicros: 500, workerMicros: 500 }`.
   */
  spin?: { hostMicros?: number; workerMicros?: number };
  /** Which publishers' signatures to trust, and whether to run only signed plugins (installed ones). */
  trust?: TrustPolicy;
  /**
   * Meant for tests: connect to a loopback server instead of an origin, like
   * curl's `--connect-to`. Keys are origins (`https://api.example.com`), values
   * plain-HTTP loopback URLs (`http://127.0.0.1:8080`). A plugin's request is
   * still checked against its grant with the URL it asked for, so an origin the
   * plugin was not granted stays refused; a granted, mapped origin is not looked
   * up, and its requests go to the loopback server with their original path and
   * `Host` header. Redirects are checked and mapped hop by hop. Unmapped origins
   * are unaffected.
   *
   * @example
   * await createHost({ home, connectTo: { 'https://api.openai.com': 'http://127.0.0.1:43117' } });
   */
  connectTo?: Record<string, string>;
}

export interface LoadOptions {
  /**
   * What the user consented to. Loading fails if the manifest asks for more.
   * `'manifest'` accepts everything the manifest asks for (like `--yes`).
   * Default: nothing is granted.
   */
  grant?: Grant | 'manifest';
  /** The plugin's configuration, validated against its manifest's `configSchema`. */
  config?: Record<string, unknown>;
  /**
   * Instances that may serve calls in parallel (1–16). Default 1: calls are
   * served one at a time, in order. A plugin run with more must keep its state
   * in storage, not in memory.
   */
  poolSize?: number;
  /** Refuse to start unless the component's sha256 is this (INTEGRITY_FAILED). */
  expectedSha256?: string;
}

/** What a trial start (`host.trial`) read and checked. */
export interface TrialResult {
  manifest: Manifest;
  /** The sha256 of the component that was started. */
  sha256: string;
  /** The contract version the component was built against. */
  contract: string;
  /** What the plugin may do with the grant it was given. */
  capabilities: Capabilities;
  /** Required environment variables (`capabilities.env` entries with `required: true`) that are not set here: a load would fail. A trial starts the plugin all the same. */
  missingEnv: string[];
  /** For a tool plugin: its tools' names and risk levels, as it listed them. */
  tools: { name: string; risk: RiskLevel }[];
  /** What a load would warn about (a tool plugin understating its risk, under the policy's `warn`). */
  warnings: string[];
}

/** What `loadInstalled` did: the plugins it loaded, and the ones that failed, with why. */
export interface LoadInstalledResult {
  loaded: PluginInfo[];
  failed: { id: string; error: AirlockError }[];
}

/** A loaded plugin, as the host reports it. */
export interface PluginInfo {
  id: string;
  name: string;
  version: string;
  kind: PluginKind;
  dir: string;
  /** sha256 of the component file. */
  sha256: string;
  /** The contract version the component was built against. */
  contract: string;
  capabilities: Capabilities;
}

export interface CallOptions {
  /** Deadline for this call, capped by the host maximum. */
  timeoutMs?: number;
  /**
   * Cancels the call. A call still queued behind others never runs; a running
   * one is stopped in the plugin by stopping its worker, as at a deadline (the
   * plugin's next call starts a fresh one). The promise rejects with the
   * signal's reason at once.
   */
  signal?: AbortSignal;
  /**
   * Receives the progress the tool reports while it runs (the SDK's
   * `progress(fraction, message)`), every report before the call settles.
   * Fractions rise from one report to the next; known secrets are masked in
   * messages. Reports come at most every 100 ms or so, plus the final 1.0.
   */
  onProgress?: (progress: ToolProgress) => void;
}

/** How far a running tool call has come (the progress the plugin reports). */
export type ToolProgress = Progress;

/** Events a host emits. */
export interface HostEvents {
  'plugin-loaded': [PluginInfo];
  'plugin-unloaded': [PluginInfo];
  /** A loaded plugin was replaced by another version or build, in place. */
  'plugin-reloaded': [PluginInfo];
  'plugin-installed': [InstalledPlugin];
  'plugin-updated': [InstalledPlugin];
  /** An update failed to start; the old version stays. */
  'plugin-rolled-back': [InstalledPlugin];
  'plugin-removed': [InstalledPlugin];
  'plugin-enabled': [InstalledPlugin];
  'plugin-disabled': [InstalledPlugin];
  'plugin-granted': [InstalledPlugin];
  /** Every line the logger gets (secrets masked), for whoever relays them: `airlock serve` sends them to MCP clients. */
  log: [LogEntry];
  /** A loaded plugin changed state: `starting` → `active`, `active` → `failed` → `active`, → `stopping` before it is unloaded. */
  'plugin-state': [PluginStateChange];
  /** The sandbox stopped one of a plugin's instances: it trapped, timed out, hit its memory limit or crashed. */
  'plugin-failure': [PluginFailureEvent];
  /** A call started a fresh instance of a plugin after one failed. */
  'plugin-restarted': [{ id: string; restarts: number }];
  /** A plugin could not be loaded (`load`, `loadInstalled`); `id` when its manifest could be read. */
  'plugin-load-failed': [{ id: string | undefined; dir: string; error: AirlockError }];
}

/** A loaded plugin with its runtime state (`host.plugins()`). */
export type LoadedPlugin = PluginInfo & PluginRuntime;

/** A plugin the host knows of, installed or loaded, and where it is in its life (`host.status()`). */
export interface PluginStatus extends PluginRuntime {
  id: string;
  version: string;
  installed: boolean;
  loaded: boolean;
}

/** What one loaded plugin's workers hold (see `host.memoryUsage()`). */
export interface PluginMemory {
  id: string;
  /** One entry per instance with a running worker thread. */
  workers: WorkerMemory[];
  /** Threads of replaced instances waiting for the plugin's next reload (0 or 1; see ThreadLot). */
  parked: number;
}

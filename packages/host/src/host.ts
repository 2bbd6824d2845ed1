/**
 * The host: loads plugins, runs each in its own sandboxed worker, and routes
 * calls to them. Create one with `createHost()` and close it with `host.close()`.
 */
import { EventEmitter } from 'node:events';
import { join, resolve } from 'node:path';
import { AirlockError } from './errors.js';
import { AuditLog, type AuditQuery, type AuditRecord } from './audit.js';
import { PluginMonitor, type FailurePolicy, type PluginErrorRecord, type PluginMetrics } from './monitor.js';
import { checkCachedComponent } from './component.js';
import { ComponentIndex } from './component-index.js';
import { configDefaults } from './capabilities/grant.js';
import { pluginStorage, type PluginStorage } from './capabilities/storage.js';
import { EventBus, type PublishedEvent } from './capabilities/events.js';
import { hostInterfaces } from './capabilities/interfaces.js';
import { AuthClient } from './kinds/auth.js';
import { runChatLoop, type ChatLoopOptions, type ChatLoopOutcome } from './chat-loop.js';
import { chat, chatStream, checkAvailability, listModels, type ChatOptions, type ChatRequest, type ChatResult, type ChatStreamEvent, type ModelInfo, type ProviderAvailability, type ProviderHandle, type ProviderInfo } from './kinds/provider.js';
import { invokeTool, type ToolInfo } from './kinds/tool.js';
import { renderTemplate, type PromptInfo, type RenderedPrompt } from './kinds/prompt-template.js';
import { approximateTokens, checkContextRequest, gatherContext, type ContextOptions, type ContextResult, type TokenCounter } from './kinds/context.js';
import { chatStreamThroughHooks, chatThroughHooks, toolCallThroughHooks, type HookContext, type HookedChat, type HookInfo } from './kinds/hook.js';
import { ThreadLot } from './sandbox/instance.js';
import type { StorageAdapter } from './storage/adapter.js';
import { mapErrorStacks } from './source-map.js';
import { stderrLogger, type Logger } from './logger.js';
import { SecretMask } from './secrets.js';
import { chatAnswered, chatSpan, inSpan, spanStream, toolSpan } from './tracing.js';
import { ComponentLoader } from './component-loader.js';
import { PluginRegistry, dependencyOrder } from './install/registry.js';
import { alreadyLoaded, deliverEvents, openPlugin, type Loaded, type OpenContext, type OpenOptions } from './plugin-opener.js';
import { connectTargets, prepareHostHome, resolveLimits, startFailure, type PreparedHome } from './host-setup.js';
import { LoadedPlugins } from './loaded-plugins.js';
import type { CallOptions, HostEvents, HostLimits, HostOptions, LoadInstalledResult, LoadOptions, LoadedPlugin, PluginInfo, PluginMemory, PluginStatus, ToolProgress, TrialResult } from './host-types.js';

export { configDefaults };

export type {
  CallOptions,
  HostEvents,
  HostLimits,
  HostOptions,
  LoadInstalledResult,
  LoadOptions,
  LoadedPlugin,
  PluginInfo,
  PluginMemory,
  PluginStatus,
  ToolProgress,
  TrialResult,
} from './host-types.js';

/** What the hook chain needs to know of a chat with `provider`. */
const hookedChat = (provider: ProviderHandle, options: ChatOptions): HookedChat => ({ provider: provider.id, defaultModel: provider.info.defaultModel, redact: options.redact ?? true });

/** Events of a trial's monitor: a trial reports to no one. */
const QUIET = { scrub: (text: string) => text, state: () => {}, failure: () => {}, restarted: () => {} };

/**
 * Create a host.
 *
 * @example
 * const host = await createHost({ home: '.airlock' });
 * await host.load('plugins/notes', { grant: 'manifest' });
 * console.log(await host.callTool('count_words', { text: 'hello world' }));
 * await host.close();
 */
export async function createHost(options: HostOptions): Promise<Host> {
  const prepared = await prepareHostHome(options);
  let host: Host;
  try {
    host = new Host(prepared, options);
  } catch (error) {
    if (prepared.ownsStorage) await prepared.storage.close();
    throw error;
  }
  await host.registry.recover();
  return host;
}

export class Host extends EventEmitter<HostEvents> {
  readonly home: string;
  readonly #storage: StorageAdapter;
  readonly #ownsStorage: boolean;
  /** Every line the host logs goes through it: known secrets (tokens and keys that passed through the host) masked. */
  readonly #logger: Logger;
  readonly #secrets: SecretMask;
  readonly #limits: Required<HostLimits>;
  readonly #plugins = new LoadedPlugins();
  readonly #loader: ComponentLoader;
  /** Threads of replaced instances, for the same plugin's next instance (reloads). */
  readonly #lot = new ThreadLot();
  readonly #failurePolicy: FailurePolicy | false | undefined;
  readonly #countTokens: TokenCounter;
  readonly #audit: AuditLog | undefined;
  readonly #events: EventBus;
  /** What opening a plugin needs of this host (see plugin-opener.ts). */
  readonly #openContext: OpenContext;
  /** Installed plugins whose last load failed, for `status()`: at most one entry per installed plugin. */
  readonly #loadFailures = new Map<string, PluginErrorRecord>();
  #closed = false;

  /**
   * Installed plugins: install from a directory, tarball, npm spec or git URL;
   * update with consent and rollback; enable, disable, remove, verify.
   * `loadInstalled()` starts the enabled ones.
   */
  readonly registry: PluginRegistry;

  /** @internal Use `createHost()`. */
  constructor({ home, cache, storage, ownsStorage }: PreparedHome, options: HostOptions) {
    super();
    this.home = home;
    this.#storage = storage;
    this.#ownsStorage = ownsStorage;
    const logger = options.logger ?? stderrLogger();
    this.#secrets = new SecretMask((entry) => {
      logger(entry);
      if (this.listenerCount('log') > 0) this.emit('log', entry);
    });
    this.#logger = this.#secrets.log;
    this.#limits = resolveLimits(options.limits);
    const interfaces = hostInterfaces(options.interfaces);
    this.#loader = new ComponentLoader(cache, new ComponentIndex(join(home, 'cache', 'component-index.json')), this.#logger, new Set(interfaces.keys()));
    this.#failurePolicy = options.failures;
    this.#countTokens = options.countTokens ?? approximateTokens;
    const policy = options.policy ?? {};
    this.#events = new EventBus({ ...options.events, log: (level, message, plugin) => this.#logger({ level, message, plugin }) });
    this.#audit = options.audit === false ? undefined : new AuditLog(home, this.#secrets.scrub, (message) => this.#logger({ level: 'warn', message }), options.audit);
    this.registry = new PluginRegistry(
      home,
      options.trust ?? {},
      {
        trial: (dir, grant, config) => this.#trial(dir, { grant, config, installing: true }),
        understatedRisk: policy.understatedRisk ?? 'warn',
        isLoaded: (id) => this.#plugins.has(id),
        reload: async (id, dir, grant, config, expectedSha256, namespace) => void (await this.#replace(id, dir, { grant, config, expectedSha256, namespace })),
        storage,
        unload: (id) => this.unload(id),
        emit: (event, plugin) => this.emit(event, plugin),
        checkCache: (hash, bytes) => checkCachedComponent(cache, hash, bytes),
      },
      (message, plugin) => this.#logger({ level: 'warn', message, plugin }),
    );
    this.#openContext = {
      home,
      limits: this.#limits,
      env: options.env ?? process.env,
      connectTo: options.connectTo === undefined ? undefined : connectTargets(options.connectTo),
      spin: { hostMicros: options.spin?.hostMicros ?? 500, workerMicros: options.spin?.workerMicros ?? 500 },
      storage,
      secrets: this.#secrets,
      // Tokens for plugins granted credentials, from the loaded auth plugins.
      credentials: {
        authPlugin: (id) => {
          const auth = this.#plugins.find(id);
          return auth?.info.kind === 'auth' ? auth.instance : undefined;
        },
        secrets: this.#secrets,
      },
      loader: this.#loader,
      lot: this.#lot,
      policy,
      audit: this.#audit,
      quotas: options.quotas,
      events: this.#events,
      interfaces,
      logger: this.#logger,
      isLoaded: (id) => this.#plugins.has(id),
      monitorFor: (id, options) => this.#monitorFor(id, options),
      namespaceForDirectory: (dir, manifest) => this.registry.namespaceForDirectory(dir, manifest),
      masked: (err) => this.#masked(err),
    };
  }

  /**
   * Load the plugin in `dir` (a directory with a package.json holding an
   * `"airlock"` manifest and a built component), start it, and return its info.
   */
  async load(dir: string, options: LoadOptions = {}): Promise<PluginInfo> {
    try {
      return await this.#load(dir, { ...options, namespace: undefined });
    } catch (err) {
      this.#loadFailed(dir, startFailure(err));
      throw err;
    }
  }

  /**
   * Start the plugin in `dir` as `load` would, check that it answers, and stop
   * it: a dry run that keeps nothing. Its storage is in memory and empty, and a
   * loaded plugin with the same id is no conflict. Returns what the start read,
   * so the caller need not read the package again; rejects with the error the
   * load would give.
   */
  async trial(dir: string, options: Omit<LoadOptions, 'poolSize'> = {}): Promise<TrialResult> {
    return this.#trial(dir, options);
  }

  async #trial(dir: string, options: Omit<OpenOptions, 'poolSize' | 'trial'>): Promise<TrialResult> {
    this.#assertOpen();
    const loaded = await openPlugin(this.#openContext, resolve(dir), { ...options, trial: true });
    await this.#stop(loaded, { park: true });
    return {
      manifest: loaded.manifest,
      sha256: loaded.info.sha256,
      contract: loaded.info.contract,
      capabilities: loaded.info.capabilities,
      missingEnv: loaded.missingEnv.map((r) => r.name),
      tools: loaded.tools.map((t) => ({ name: t.name, risk: t.risk })),
      warnings: loaded.warnings,
    };
  }

  async #load(dir: string, options: OpenOptions): Promise<PluginInfo> {
    this.#assertOpen();
    const loaded = await openPlugin(this.#openContext, resolve(dir), options);
    if (this.#closed || this.#plugins.has(loaded.info.id)) {
      await this.#stop(loaded);
      loaded.monitor.dispose();
      this.#assertOpen();
      throw alreadyLoaded(loaded.info.id);
    }
    this.#plugins.set(loaded);
    this.#loadFailures.delete(loaded.info.id);
    this.#subscribe(loaded);
    loaded.monitor.setState('active');
    this.emit('plugin-loaded', loaded.info);
    return loaded.info;
  }

  /** Say that a load failed; an installed plugin's failure is kept for `status()` until it loads or is removed. */
  #loadFailed(dir: string, error: AirlockError, id = error.plugin): void {
    // Only installed plugins are kept: forget the ones removed since.
    for (const known of this.#loadFailures.keys()) if (!this.registry.get(known)) this.#loadFailures.delete(known);
    if (id !== undefined && this.registry.get(id)) this.#loadFailures.set(id, { code: error.code, message: this.#secrets.scrub(error.message), at: Date.now() });
    this.emit('plugin-load-failed', { id, dir: resolve(dir), error });
  }

  /** The runtime record of a plugin being opened: a reload keeps the loaded one's; a trial's reports to no one. */
  #monitorFor(id: string, options: OpenOptions): PluginMonitor {
    if (options.replacing !== undefined) return this.#plugins.get(options.replacing).monitor;
    if (options.trial) return new PluginMonitor(id, this.#failurePolicy, QUIET);
    return new PluginMonitor(id, this.#failurePolicy, {
      scrub: this.#secrets.scrub,
      state: (change) => this.emit('plugin-state', change),
      failure: (event) => {
        this.#logger({ level: 'warn', message: `${event.code}: ${event.message.split('\n')[0]} (${event.failures} within the failure window)`, plugin: event.id });
        this.emit('plugin-failure', event);
      },
      restarted: (pluginId, restarts) => this.emit('plugin-restarted', { id: pluginId, restarts }),
    });
  }

  /** Stop a plugin that is no longer registered: its instances, then its HTTP responses. */
  async #stop(loaded: Loaded, options: { drain?: boolean; park?: boolean } = {}): Promise<void> {
    await (options.drain ? loaded.instance.drain({ park: options.park }) : loaded.instance.close({ park: options.park }));
    loaded.http.closeAll();
  }

  /**
   * Start every enabled installed plugin (required plugins first), checking
   * each against the hashes recorded at install. A plugin that fails does not
   * stop the others: it is reported in `failed`.
   */
  async loadInstalled(): Promise<LoadInstalledResult> {
    this.#assertOpen();
    const result: LoadInstalledResult = { loaded: [], failed: [] };
    for (const plugin of dependencyOrder(this.registry.list().filter((p) => p.enabled && !this.#plugins.has(p.id)))) {
      try {
        await this.registry.checkIntegrity(plugin);
        const missing = Object.keys(plugin.requires).find((dep) => !this.#plugins.has(dep));
        if (missing) throw new AirlockError('DEPENDENCY_MISSING', `\`${plugin.id}\` requires \`${missing}\`, which did not load`, { plugin: plugin.id });
        const namespace = await this.registry.namespaceOf(plugin);
        result.loaded.push(await this.#load(this.registry.dir(plugin), { grant: plugin.grant, config: plugin.config, expectedSha256: plugin.componentSha256, namespace }));
      } catch (err) {
        const error = startFailure(err, plugin.id);
        this.#logger({ level: 'error', message: `not loaded: ${error.message}`, plugin: plugin.id });
        this.#loadFailed(this.registry.dir(plugin), error, plugin.id);
        result.failed.push({ id: plugin.id, error });
      }
    }
    return result;
  }

  /**
   * Replace a loaded plugin in place, from its own directory (after a rebuild)
   * or from `dir`. The new instance starts first; if it fails, the old one
   * keeps serving. Calls already running or queued finish on the old instance;
   * new calls go to the new one.
   */
  async reload(id: string, dir?: string): Promise<PluginInfo> {
    this.#assertOpen();
    const current = this.#plugins.get(id);
    const installed = this.registry.get(id);
    const fromRegistry = installed && dir === undefined && current.info.dir === this.registry.dir(installed);
    return this.#replace(id, dir ?? current.info.dir, {
      grant: installed ? installed.grant : current.info.capabilities,
      config: installed?.config ?? current.settings,
      ...(fromRegistry ? { expectedSha256: installed.componentSha256, namespace: await this.registry.namespaceOf(installed) } : {}),
    });
  }

  async #replace(id: string, dir: string, options: OpenOptions): Promise<PluginInfo> {
    const old = this.#plugins.get(id);
    // A reload is a fresh start: failures are forgotten, and the new build's own start is not refused as `failed`.
    // If the new build fails to start, the old one keeps serving, as `active`.
    old.monitor.reset();
    const fresh = await openPlugin(this.#openContext, resolve(dir), { ...options, replacing: id });
    if (this.#closed || this.#plugins.find(id) !== old) {
      await this.#stop(fresh);
      throw new AirlockError('PLUGIN_START_FAILED', `plugin \`${id}\` changed while it was being reloaded`, { plugin: id });
    }
    this.#plugins.set(fresh);
    this.#subscribe(fresh);
    this.#pruneComponents();
    this.emit('plugin-reloaded', fresh.info);
    // In-flight and queued calls finish on the old instance; then its thread waits for the next reload.
    void this.#stop(old, { drain: true, park: true }).catch(() => {});
    return fresh.info;
  }

  /** Drop the read and compiled output of components no loaded plugin runs any more (a reload's old build). */
  #pruneComponents(): void {
    this.#loader.prune(new Set([...this.#plugins.values()].map((p) => p.info.sha256)));
  }

  /** Stop a loaded plugin's worker and forget it. Its stored data stays. */
  async unload(id: string): Promise<void> {
    const loaded = this.#plugins.get(id);
    this.#plugins.delete(id);
    this.#events.detach(id);
    this.#pruneComponents();
    loaded.monitor.setState('stopping');
    await this.#stop(loaded);
    loaded.monitor.dispose();
    this.emit('plugin-unloaded', loaded.info);
  }

  /** Events on the topics a loaded plugin subscribes to go to it from now on (a reload's new build takes over what waits). */
  #subscribe(loaded: Loaded): void {
    const topics = loaded.info.capabilities.events?.subscribe;
    if (topics?.length && loaded.hooks) this.#events.attach(loaded.info.id, topics, deliverEvents(loaded));
    else this.#events.detach(loaded.info.id);
  }

  /**
   * Publish an event to the plugins subscribed to `topic` (`notes.saved`;
   * `airlock.*` topics are the host's alone). Returns at once: each plugin
   * gets it in its turn, in order; one that falls behind loses its oldest.
   * Throws EVENT_INVALID for a malformed topic, or a payload that is not JSON
   * or over 64 KiB.
   */
  publish(topic: string, payload?: unknown): void {
    this.#assertOpen();
    this.#events.publish(topic, payload);
  }

  /**
   * Hear what plugins publish (and the host) on the topics `pattern` covers
   * (`notes.saved`, or `notes.*`). `handler` gets `{ topic, payload, from }`
   * synchronously; what it throws is logged. Returns the way to stop.
   */
  subscribe(pattern: string, handler: (event: PublishedEvent) => void): () => void {
    this.#assertOpen();
    return this.#events.subscribe(pattern, handler);
  }

  /** The loaded plugins, with where each is in its life (`active`, or `failed` while a backoff holds it). */
  plugins(): LoadedPlugin[] {
    return [...this.#plugins.values()].map((p) => ({ ...p.info, ...p.monitor.runtime() }));
  }

  /**
   * Every plugin this host knows of: the installed ones (`installed` or
   * `disabled` when not loaded, `failed` with the error when their last load
   * failed) and the loaded ones, by id.
   */
  status(): PluginStatus[] {
    const byId = new Map<string, PluginStatus>();
    for (const p of this.registry.list()) {
      const failure = this.#loadFailures.get(p.id);
      const since = p.updatedAt ?? p.installedAt;
      byId.set(p.id, {
        id: p.id,
        version: p.version,
        installed: true,
        loaded: false,
        ...(failure && p.enabled ? { state: 'failed', since: failure.at, restarts: 0, lastError: failure } : { state: p.enabled ? 'installed' : 'disabled', since, restarts: 0 }),
      });
    }
    for (const p of this.#plugins.values()) byId.set(p.info.id, { id: p.info.id, version: p.info.version, installed: byId.has(p.info.id), loaded: true, ...p.monitor.runtime() });
    return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * What plugins did with their capabilities, allowed or refused, oldest
   * first: HTTP requests (method, origin and path), files (read, write,
   * create, remove, rename), environment variables handed over at start,
   * tokens asked of auth plugins. Every process on this home writes to the
   * same log, and reads it here. Empty when the host was created with
   * `audit: false`.
   *
   * @example host.audit({ plugin: 'weather', since: Date.now() - 3_600_000 })
   */
  audit(query: AuditQuery = {}): AuditRecord[] {
    this.#assertOpen();
    return this.#audit?.query(query) ?? [];
  }

  /**
   * What each loaded plugin's calls came to since it was loaded: counts,
   * errors by code, latency quantiles, calls running and queued, restarts,
   * outbound HTTP by origin, its memory high-water mark and its stored data.
   * Reads no plugin memory and starts no call.
   */
  async metrics(): Promise<PluginMetrics[]> {
    return Promise.all(
      [...this.#plugins.values()].map(async (p) => {
        const metrics = p.monitor.metrics();
        metrics.events.queued = this.#events.queued(p.info.id);
        if (p.namespace === undefined) return metrics;
        const [bytes, keys] = await Promise.all([this.#storage.usage(p.namespace), this.#storage.list(p.namespace, '')]);
        return { ...metrics, storage: { bytes, keys: keys.length } };
      }),
    );
  }

  /**
   * What each loaded plugin's workers hold in memory now: per running
   * instance, its thread's V8 heap and its linear memories. For monitoring a
   * long-running host; the process's own figures are `process.memoryUsage()`.
   * With `collect`, each worker first runs a full garbage collection (a few
   * milliseconds each), so the figures are what is really held.
   */
  async memoryUsage(options: { collect?: boolean } = {}): Promise<PluginMemory[]> {
    return Promise.all([...this.#plugins.values()].map(async (p) => ({ id: p.info.id, workers: await p.instance.memory(options), parked: this.#lot.has(p.info.id) ? 1 : 0 })));
  }

  /**
   * A round trip to the threads of plugin `id` that runs none of its code:
   * the floor under every call (the channel between the host and a plugin's
   * thread, and handing the turn over), and a check that its threads answer.
   * Queued behind the plugin's calls already waiting, as a call would be;
   * starts a thread when none runs. PLUGIN_NOT_FOUND when `id` is not loaded.
   */
  async ping(id: string): Promise<void> {
    await this.#plugins.get(id).instance.ping();
  }

  /**
   * The stored data of plugin `id`, loaded or not, for the integrator: read it,
   * seed it before the plugin starts, inspect what it wrote, or clear it. Keys
   * and values follow the rules a plugin's own writes do (non-empty keys of at
   * most 512 bytes without NUL, values of at most 1 MiB); the plugin's quota
   * does not apply to writes made here.
   *
   * Stored data belongs to the package that wrote it, so an id can have data
   * of several packages (see `registry.storedData(id)`). This is the data
   * plugin `id` uses at the time of the call: the loaded plugin's, else the
   * installed plugin's, else the data most recently kept under `id`. When
   * nothing is recorded under `id` yet, data seeded here is found by the first
   * plugin loaded from a directory as `id` (`host.load`); a package installed
   * as `id` gets it only with `keepData`, as data of an unknown owner.
   *
   * @example
   * await host.storageOf('notes').set('note:1', new TextEncoder().encode('{"title":"x"}'));
   * console.log(await host.storageOf('notes').keys('note:'));
   */
  storageOf(id: string): PluginStorage {
    this.#assertOpen();
    const namespace = this.#plugins.find(id)?.namespace ?? this.registry.namespaceFor(id);
    return pluginStorage(this.#storage, { namespace, pluginId: id }, () => this.#assertOpen());
  }

  /** The loaded tool `name` (`<plugin>.<tool>`, or a name only one plugin has), or undefined when there is none or several. */
  tool(name: string): ToolInfo | undefined {
    return this.#plugins.tool(name);
  }

  /** Every tool of every loaded tool plugin. */
  tools(): ToolInfo[] {
    return this.#plugins.tools();
  }

  /** An error on its way out to the integrator: a plugin's stack in its own sources, known secrets masked. */
  #masked = (err: unknown): unknown => {
    if (AirlockError.isInstance(err) && err.plugin !== undefined) mapErrorStacks(err, this.#plugins.find(err.plugin)?.stacks);
    return this.#secrets.masked(err);
  };

  /** Run `call`, masking secrets in what it throws. */
  async #masking<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw this.#masked(err);
    }
  }

  async *#maskingStream<T>(stream: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
    try {
      yield* stream;
    } catch (err) {
      throw this.#masked(err);
    }
  }

  /**
   * Drive an auth plugin: device login, status, tokens, API keys, logout.
   *
   * @example
   * const login = await host.auth('auth-device-flow').login();
   * console.log(`Open ${login.verificationUri} and enter ${login.userCode}`);
   * await login.wait({ signal });
   */
  auth(id: string): AuthClient {
    this.#assertOpen();
    const loaded = this.#plugins.get(id);
    if (loaded.info.kind !== 'auth') {
      throw new AirlockError('PLUGIN_NOT_FOUND', `plugin \`${id}\` is a ${loaded.info.kind} plugin, not an auth plugin`, { plugin: id });
    }
    return new AuthClient(id, loaded.instance, {
      rememberSecret: this.#secrets.remember,
      holdingLogs: (call, secrets) => this.#secrets.holdingLogs(id, call, secrets),
      masked: this.#masked,
    });
  }

  /**
   * The loaded hook plugins in the order their hooks run (priority, then id),
   * with the points each hooks.
   */
  hooks(): ({ id: string } & HookInfo)[] {
    return this.#plugins.hooks.all.map((h) => ({ id: h.id, points: [...h.info.points], priority: h.info.priority }));
  }

  /** The loaded provider plugins. */
  providers(): ProviderInfo[] {
    return this.#plugins.providers();
  }

  /** The models of one provider, or of every loaded provider. */
  async models(provider?: string): Promise<ModelInfo[]> {
    this.#assertOpen();
    const handles = provider === undefined ? this.#plugins.providerHandles() : [this.#plugins.provider(provider)];
    return this.#masking(async () => (await Promise.all(handles.map((h) => listModels(h)))).flat());
  }

  /**
   * Ask one provider, or every loaded one, whether it can serve requests now
   * (its health check: configured, signed in, backend reachable). Never
   * rejects for a provider's failure: a failing or hanging check answers
   * unavailable with the reason. A provider built against contract 0.1 has no
   * check and answers available, saying so.
   *
   * @example
   * for (const p of await host.checkProviders()) if (!p.available) console.warn(`${p.provider}: ${p.reason}`);
   */
  async checkProviders(provider?: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ProviderAvailability[]> {
    this.#assertOpen();
    const handles = provider === undefined ? this.#plugins.providerHandles() : [this.#plugins.provider(provider)];
    const timeoutMs = this.#capTimeout(options.timeoutMs);
    return Promise.all(
      handles.map((h) =>
        checkAvailability(h, { signal: options.signal, timeoutMs }).then(
          (a) => ({ ...a, reason: a.reason === undefined ? undefined : this.#secrets.scrub(a.reason) }),
          (err: unknown) => {
            options.signal?.throwIfAborted();
            return { provider: h.id, available: false, reason: this.#secrets.scrub(`the health check failed: ${(err as Error)?.message ?? String(err)}`) };
          },
        ),
      ),
    );
  }

  /**
   * Ask a provider for a complete answer. Secrets in the messages are
   * replaced before the plugin sees them (`redact: false` to opt out); the
   * result says how many.
   */
  async chat(request: ChatRequest, options: ChatOptions = {}): Promise<ChatResult> {
    this.#assertOpen();
    const provider = this.#plugins.provider(request?.provider);
    const traced = chatSpan(provider.id, request?.model ?? provider.info.defaultModel ?? '', false);
    return inSpan(
      traced,
      () =>
        this.#masking(() => {
          const opts = { ...this.#chatOptions(options), trace: traced?.context };
          // No hook plugin loaded: nothing more than this one check.
          const hooks = this.#plugins.hooks;
          if (hooks.all.length === 0) return chat(provider, request, opts);
          return chatThroughHooks(hooks, this.#hookContext(options.signal), hookedChat(provider, options), request, (req) => chat(provider, req, opts));
        }),
      (result, t) => chatAnswered(t, result.finishReason, result.usage),
    );
  }

  /** What running hooks needs of this host, for one call. */
  #hookContext(signal: AbortSignal | undefined): HookContext {
    return {
      maxBytes: this.#limits.maxMessageBytes,
      signal,
      audit: (e) => this.#audit?.record({ ...e, call: `hook ${e.action}`, capability: 'hooks' }),
      log: (level, message, plugin) => this.#logger({ level, message, plugin }),
    };
  }

  /**
   * Stream an answer as events: text deltas, tool-call fragments, usage, and
   * one final `done`. Each event must arrive within the call deadline.
   * Breaking out of the loop or aborting `signal` cancels the plugin's stream.
   *
   * @example
   * for await (const e of host.chatStream({ messages: [{ role: 'user', content: 'hi' }] })) {
   *   if (e.type === 'text-delta') process.stdout.write(e.text);
   * }
   */
  chatStream(request: ChatRequest, options: ChatOptions = {}): AsyncIterable<ChatStreamEvent> {
    this.#assertOpen();
    const provider = this.#plugins.provider(request?.provider);
    const traced = chatSpan(provider.id, request?.model ?? provider.info.defaultModel ?? '', true);
    const opts = { ...this.#chatOptions(options), trace: traced?.context };
    const hooks = this.#plugins.hooks;
    const source =
      hooks.all.length === 0
        ? chatStream(provider, request, opts)
        : chatStreamThroughHooks(hooks, this.#hookContext(options.signal), hookedChat(provider, options), request, (req) => chatStream(provider, req, opts));
    const events = this.#maskingStream(source);
    return traced ? spanStream(events, traced) : events;
  }

  /**
   * Chat with the loaded tools on offer: stream an answer, run the tools the
   * model asks for (a failing tool becomes an error result the model reads),
   * send their results back and stream again, up to `maxRounds` answers. What
   * `airlock chat` does; see runChatLoop.
   *
   * @example
   * const { messages } = await host.chatWithTools({ messages: [{ role: 'user', content: 'How many words in "a b"?' }] }, {
   *   onEvent: (e) => e.type === 'text-delta' && process.stdout.write(e.text),
   *   onToolCall: (call) => console.error(`→ ${call.name}`),
   * });
   */
  chatWithTools(request: ChatRequest, options: ChatLoopOptions = {}): Promise<ChatLoopOutcome> {
    this.#assertOpen();
    return runChatLoop(this, request, options);
  }

  #chatOptions(options: ChatOptions): ChatOptions {
    return { ...options, timeoutMs: this.#capTimeout(options.timeoutMs) };
  }

  /** A caller's deadline, held to the host maximum (undefined: the plugin's own). */
  #capTimeout(timeoutMs: number | undefined): number | undefined {
    return timeoutMs === undefined ? undefined : Math.min(timeoutMs, this.#limits.maxTimeoutMs);
  }

  /**
   * Call a tool by name (`count_words`) or qualified name (`notes.count_words`).
   * Arguments are validated against the tool's schema before the plugin runs.
   * Resolves with the tool's JSON result; rejects with an AirlockError.
   */
  async callTool(name: string, args: unknown = {}, options: CallOptions = {}): Promise<unknown> {
    this.#assertOpen();
    const tool = this.#plugins.findTool(name);
    const loaded = this.#plugins.get(tool.plugin);
    const { onProgress } = options;
    const progress = onProgress && ((p: ToolProgress) => {
      try {
        onProgress(p.message === undefined ? p : { fraction: p.fraction, message: this.#secrets.scrub(p.message) });
      } catch (err) {
        this.#logger({ level: 'warn', plugin: tool.plugin, message: `an onProgress callback of ${tool.qualifiedName} threw: ${(err as Error)?.message ?? String(err)}` });
      }
    });
    const traced = toolSpan(tool.plugin, tool.name);
    const run = (a: unknown) => invokeTool(loaded.instance, tool, a, { timeoutMs: this.#capTimeout(options.timeoutMs), signal: options.signal, onProgress: progress, trace: traced?.context });
    const hooks = this.#plugins.hooks;
    // No hook plugin loaded: nothing more than this one check.
    return inSpan(traced, () => this.#masking(() => (hooks.all.length === 0 ? run(args) : toolCallThroughHooks(hooks, this.#hookContext(options.signal), tool, args, run, this.#masked))));
  }

  /** Every template of every loaded prompt-template plugin. */
  prompts(): PromptInfo[] {
    return this.#plugins.prompts();
  }

  /**
   * Render a prompt template by name (`code-review`) or qualified name
   * (`prompts.code-review`). The variables are checked against the template's
   * schema before the plugin runs (PROMPT_ARGUMENTS_INVALID), and what it
   * renders is checked too (PROMPT_RESULT_INVALID); an error the plugin
   * returns is PROMPT_FAILED with its code and message.
   *
   * @example
   * const { messages } = await host.renderPrompt('code-review', { language: 'ts', code: 'let x = 1' });
   */
  async renderPrompt(name: string, variables: Record<string, unknown> = {}, options: Pick<CallOptions, 'timeoutMs' | 'signal'> = {}): Promise<RenderedPrompt> {
    this.#assertOpen();
    const prompt = this.#plugins.findPrompt(name);
    const loaded = this.#plugins.get(prompt.info.plugin);
    return this.#masking(() => renderTemplate(loaded.instance, prompt, variables, { timeoutMs: this.#capTimeout(options.timeoutMs), signal: options.signal }));
  }

  /**
   * Context for a prompt: asks every loaded context plugin (or those in
   * `plugins`) at once, ranks their items by score and keeps, best first,
   * the ones whose texts fit `budgetTokens` together (counted with
   * `countTokens`), at most `maxItems` (default 20). An item that does not
   * fit is skipped and smaller ones after it may still be kept. A plugin
   * that fails is reported in `failures` and logged; when every plugin asked
   * fails, the call rejects with CONTEXT_FAILED.
   *
   * @example
   * const { items } = await host.context('how do I rotate the API key?', { budgetTokens: 1500 });
   * const context = items.map((i) => `[${i.source}]\n${i.text}`).join('\n\n');
   */
  async context(query: string, options: ContextOptions): Promise<ContextResult> {
    this.#assertOpen();
    const request = checkContextRequest(query, options);
    const sources = this.#plugins.contextSources(options.plugins);
    const result = await this.#masking(() =>
      gatherContext(sources, request, this.#countTokens, { timeoutMs: this.#capTimeout(options.timeoutMs), signal: options.signal }, (message, plugin) => this.#logger({ level: 'warn', message, plugin })),
    );
    return { ...result, failures: result.failures.map((f) => ({ ...f, message: this.#secrets.scrub(f.message) })) };
  }

  /** Stop every plugin and release the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const loaded = this.#plugins.clear();
    this.#events.close();
    for (const p of loaded) p.monitor.dispose();
    await Promise.all([...loaded.map((p) => this.#stop(p)), this.#loader.close()]);
    await this.#lot.close();
    this.registry.close();
    this.#audit?.close();
    if (this.#ownsStorage) await this.#storage.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new AirlockError('HOST_CLOSED', 'the host is closed', { hint: 'Create a new host with createHost().' });
  }

}

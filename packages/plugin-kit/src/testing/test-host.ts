/**
 * `createTestHost`: a real host with one plugin under test (and the plugins it
 * needs), an environment and storage of the test's choosing, fake origins for
 * its HTTP, logs and requests collected, and helpers for tools, device login
 * and streamed chats.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  AirlockError,
  createHost,
  type AuthClient,
  type AuthStatus,
  type CallOptions,
  type ChatOptions,
  type ChatRequest,
  type ChatResult,
  type DeviceLogin,
  type Grant,
  type Host,
  type HostLimits,
  type HostOptions,
  type LogEntry,
  type Logger,
  type Manifest,
  type ModelInfo,
  type PluginInfo,
  type ToolInfo,
} from '@airlock/host';
import { buildIfStale, readPluginManifest, type BuildIfStaleOptions } from './build.js';
import { TestHostError } from './errors.js';
import { startFakeOrigins, type FakeOrigin, type FakeOriginRequest, type FakeOrigins } from './fake-origins.js';
import { pluginDir } from './paths.js';
import { encodeValue, testStorage, type StorableValue, type TestStorage } from './storage.js';
import { collectStream, type CollectOptions, type CollectedStream } from './stream.js';

/** How to load one plugin. */
export interface TestPluginOptions {
  /** The plugin's package directory (holding package.json with an `"airlock"` manifest), as a path or a `file:` URL. */
  plugin: string | URL;
  /**
   * Build the component first when it is missing or older than its sources
   * (see `buildIfStale`); an object passes build options. `false`: never build.
   * Default true.
   */
  build?: boolean | BuildIfStaleOptions;
  /** What the user consents to. Default `'manifest'`: everything the manifest asks for. */
  grant?: Grant | 'manifest';
  /** The plugin's configuration, checked against its configSchema. */
  config?: Record<string, unknown>;
  /**
   * Stored before the plugin starts: bytes as they are, strings as UTF-8,
   * anything else as JSON text (what the SDK's `storage.getJson` reads).
   */
  storage?: Record<string, StorableValue>;
  /** Instances serving calls in parallel (1–16). Default 1. */
  poolSize?: number;
}

export interface TestHostOptions extends TestPluginOptions {
  /** The host's environment, where granted variables are read. Default `{}` (never `process.env`). */
  env?: Record<string, string>;
  /**
   * Fake origins: each origin (`https://api.example.com`) answered by a handler
   * `(request: Request) => Response`, or sent to a loopback server the test
   * started (`'https://api.openai.com': server.url`). The grant check still
   * sees the plugin's own URLs, so an origin it was not granted stays refused.
   */
  fetch?: Record<string, FakeOrigin>;
  /** Plugins to load first, in order (e.g. the auth plugin a provider gets tokens from). */
  plugins?: TestPluginOptions[];
  /** The host's home (storage, caches). Default: a fresh temporary directory, removed by `close()`. */
  home?: string;
  /** Also receives every log line; they are always collected in `logs`. */
  logger?: Logger;
  /** Host limits (timeouts, sizes, memory). */
  limits?: HostLimits;
  /**
   * The interfaces the host's application offers plugins, as in
   * `createHost({ interfaces })`: `{ 'acme:kb/search': { query: (text, { plugin }) => … } }`.
   */
  interfaces?: HostOptions['interfaces'];
  /**
   * Where test hosts share transpiled components, so a fresh home does not
   * transpile again. Default `node_modules/.cache/airlock-components` in the
   * plugin's directory or the nearest one above it with a node_modules;
   * `false`: inside each home.
   */
  componentCacheDir?: string | false;
}

/** What a device login shows the user: `userCode`, `verificationUri`, `verificationUriComplete`, `expiresAt`, `interval`. */
export type DeviceAuthorization = Omit<DeviceLogin, 'wait'>;

export interface DeviceLoginOptions {
  /**
   * Act as the user once the code is shown, e.g. approve it at a fake or
   * loopback authorization server. Runs while the host polls; its error
   * rejects the login.
   */
  approve?: (authorization: DeviceAuthorization) => unknown;
  /** Stop waiting; the login rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The auth plugin to sign in with. Default: the plugin under test. */
  plugin?: string;
}

export interface StreamChatOptions extends ChatOptions, CollectOptions {}

/** A host with the plugin under test loaded. Close it with `close()` or `await using`. */
export interface TestHost extends AsyncDisposable {
  /** The real host (replaced by `restart()`). */
  readonly host: Host;
  /** The plugin's id. */
  readonly id: string;
  /** The plugin's directory. */
  readonly dir: string;
  /** The host's home directory. */
  readonly home: string;
  /** The plugin as the host reports it (grant, component hash, …). */
  readonly info: PluginInfo;
  /** Every log line so far: the plugins' (tagged with `plugin`), the host's, and the fake origins' errors. */
  readonly logs: LogEntry[];
  /** Every request that reached a fake origin's handler, oldest first. */
  readonly requests: FakeOriginRequest[];
  /** The plugin's storage: seed, inspect, change. */
  readonly storage: TestStorage;
  /** The host's client for this auth plugin (`login`, `status`, `token`, …). */
  readonly auth: AuthClient;
  /** Another plugin's storage. */
  storageOf(id: string): TestStorage;
  /** Call one of the plugin's tools by its name (`add_note`), or any tool by qualified name (`notes.add_note`). */
  callTool(name: string, args?: unknown, options?: CallOptions): Promise<unknown>;
  /** The plugin's tools, as the host lists them. */
  tools(): ToolInfo[];
  /**
   * Sign in with the device flow: start it, call `approve` with the code and
   * URL, wait while the host polls at the server's interval, and resolve with
   * the status. Rejects with the host's error (AUTH_DENIED, AUTH_EXPIRED, …).
   */
  deviceLogin(options?: DeviceLoginOptions): Promise<AuthStatus>;
  /** A complete answer from this provider plugin (`provider` defaults to it). */
  chat(request: ChatRequest, options?: ChatOptions): Promise<ChatResult>;
  /** A streamed answer from this provider plugin, collected; `until` may stop it early. */
  streamChat(request: ChatRequest, options?: StreamChatOptions): Promise<CollectedStream>;
  /** This provider plugin's models. */
  models(): Promise<ModelInfo[]>;
  /** Rebuild when stale (unless `build: false`), then replace the running plugin with the new component. */
  reload(): Promise<PluginInfo>;
  /** Close the host and start a new one on the same home with the same plugins (storage kept, not seeded again). */
  restart(): Promise<void>;
  /** Close the host, stop the fake origins, remove the temporary home. Idempotent. */
  close(): Promise<void>;
}

interface Prepared {
  options: TestPluginOptions;
  dir: string;
  manifest: Manifest;
}

/**
 * Start a host with the plugin in `options.plugin` loaded (built first when
 * stale) and the fakes the test asked for. On failure everything started is
 * stopped again, and the error (the host's AirlockError, or a TestHostError) is
 * thrown.
 *
 * @example
 * const t = await createTestHost({ plugin: new URL('..', import.meta.url), config: { baseUrl: 'https://api.example.com' },
 *   fetch: { 'https://api.example.com': () => Response.json({ ok: true }) } });
 * expect(await t.callTool('ping', {})).toEqual({ ok: true });
 * await t.close();
 */
export async function createTestHost(options: TestHostOptions): Promise<TestHost> {
  if (typeof options !== 'object' || options === null) throw new TestHostError('OPTIONS_INVALID', 'createTestHost needs an options object with at least `plugin`');
  if (options.env !== undefined && (typeof options.env !== 'object' || Object.values(options.env).some((v) => typeof v !== 'string'))) {
    throw new TestHostError('OPTIONS_INVALID', 'env must map variable names to strings', { hint: 'e.g. `env: { OPENAI_API_KEY: "sk-test" }`.' });
  }
  // One at a time: builds are CPU-bound.
  const plugins: Prepared[] = [];
  for (const o of [...(options.plugins ?? []), options]) plugins.push(await prepare(o));
  const ownsHome = options.home === undefined;
  const home = ownsHome ? await mkdtemp(join(tmpdir(), 'airlock-test-')) : resolve(options.home!);
  const logs: LogEntry[] = [];
  const requests: FakeOriginRequest[] = [];
  const logger: Logger = (entry) => {
    logs.push(entry);
    options.logger?.(entry);
  };
  let fakes: FakeOrigins | undefined;
  let host: Host | undefined;
  try {
    fakes = await startFakeOrigins(options.fetch ?? {}, requests, logger);
    const cacheDir = options.componentCacheDir === undefined ? sharedCacheDir(plugins.at(-1)!.dir) : options.componentCacheDir || undefined;
    const hostOptions: HostOptions = {
      home,
      logger,
      ...(cacheDir ? { componentCacheDir: cacheDir } : {}),
      env: { ...options.env },
      ...(Object.keys(fakes.connectTo).length ? { connectTo: fakes.connectTo } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.interfaces ? { interfaces: options.interfaces } : {}),
    };
    host = await createHost(hostOptions);
    for (const p of plugins) {
      const store = host.storageOf(p.manifest.id);
      for (const [key, value] of Object.entries(p.options.storage ?? {})) await store.set(key, encodeValue(value));
    }
    await loadAll(host, plugins);
    return new RunningTestHost(host, hostOptions, plugins, fakes, logs, requests, ownsHome);
  } catch (err) {
    await host?.close().catch(() => {});
    await fakes?.close();
    if (ownsHome) await rm(home, { recursive: true, force: true });
    throw err;
  }
}

/** `node_modules/.cache/airlock-components` in `dir` or the nearest directory above it that has a node_modules. */
function sharedCacheDir(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return join(d, 'node_modules', '.cache', 'airlock-components');
    if (dirname(d) === d) return undefined;
  }
}

async function prepare(options: TestPluginOptions): Promise<Prepared> {
  if (typeof options !== 'object' || options === null || options.plugin === undefined) {
    throw new TestHostError('OPTIONS_INVALID', 'each plugin needs `plugin`: the path or file URL of its package directory');
  }
  const dir = pluginDir(options.plugin);
  if (!existsSync(dir)) throw new TestHostError('PLUGIN_DIR_INVALID', `${dir} does not exist`, { hint: 'Pass the directory of the plugin package (where its package.json is).' });
  const manifest = await readPluginManifest(dir);
  if (options.build !== false) await buildIfStale(dir, typeof options.build === 'object' ? options.build : {});
  else if (!existsSync(join(dir, manifest.component))) {
    throw new TestHostError('COMPONENT_MISSING', `plugin \`${manifest.id}\` has no component at ${join(dir, manifest.component)}, and build is false`, {
      hint: 'Build it with `airlock-plugin build` in the plugin directory, or leave `build` at its default (true).',
    });
  }
  return { options, dir, manifest };
}

async function loadAll(host: Host, plugins: Prepared[]): Promise<void> {
  for (const p of plugins) {
    await host.load(p.dir, {
      grant: p.options.grant ?? 'manifest',
      ...(p.options.config ? { config: p.options.config } : {}),
      ...(p.options.poolSize !== undefined ? { poolSize: p.options.poolSize } : {}),
    });
  }
}

class RunningTestHost implements TestHost {
  #host: Host;
  readonly #hostOptions: HostOptions;
  readonly #plugins: Prepared[];
  readonly #main: Prepared;
  readonly #fakes: FakeOrigins;
  readonly #ownsHome: boolean;
  #closed = false;
  readonly logs: LogEntry[];
  readonly requests: FakeOriginRequest[];
  readonly storage: TestStorage;

  constructor(host: Host, hostOptions: HostOptions, plugins: Prepared[], fakes: FakeOrigins, logs: LogEntry[], requests: FakeOriginRequest[], ownsHome: boolean) {
    this.#host = host;
    this.#hostOptions = hostOptions;
    this.#plugins = plugins;
    this.#main = plugins.at(-1)!;
    this.#fakes = fakes;
    this.#ownsHome = ownsHome;
    this.logs = logs;
    this.requests = requests;
    this.storage = this.storageOf(this.#main.manifest.id);
  }

  get host(): Host {
    return this.#host;
  }

  get id(): string {
    return this.#main.manifest.id;
  }

  get dir(): string {
    return this.#main.dir;
  }

  get home(): string {
    return this.#hostOptions.home;
  }

  get info(): PluginInfo {
    const info = this.#host.plugins().find((p) => p.id === this.id);
    if (!info) throw new AirlockError('PLUGIN_NOT_FOUND', `plugin \`${this.id}\` is no longer loaded`, { plugin: this.id, hint: 'It was unloaded through `t.host`; reload it or create a new test host.' });
    return info;
  }

  get auth(): AuthClient {
    return this.#host.auth(this.id);
  }

  storageOf(id: string): TestStorage {
    return testStorage(() => this.#host.storageOf(id));
  }

  tools(): ToolInfo[] {
    this.#assertOpen('tools');
    return this.#host.tools().filter((t) => t.plugin === this.id);
  }

  async callTool(name: string, args: unknown = {}, options: CallOptions = {}): Promise<unknown> {
    this.#assertOpen('callTool');
    if (name.includes('.')) return this.#host.callTool(name, args, options);
    const tools = this.tools();
    if (!tools.some((t) => t.name === name)) {
      throw new AirlockError('TOOL_NOT_FOUND', `plugin \`${this.id}\` has no tool \`${name}\``, {
        plugin: this.id,
        hint: tools.length ? `Its tools: ${tools.map((t) => t.qualifiedName).join(', ')}.` : `\`${this.id}\` is a ${this.#main.manifest.kind} plugin and offers no tools.`,
      });
    }
    return this.#host.callTool(`${this.id}.${name}`, args, options);
  }

  async deviceLogin(options: DeviceLoginOptions = {}): Promise<AuthStatus> {
    this.#assertOpen('deviceLogin');
    const id = options.plugin ?? this.id;
    const kind = this.#host.plugins().find((p) => p.id === id)?.kind;
    if (kind !== undefined && kind !== 'auth') {
      throw new TestHostError('WRONG_KIND', `deviceLogin: \`${id}\` is a ${kind} plugin, not an auth plugin`, {
        hint: 'Pass `plugin` with the id of the auth plugin to sign in with (loaded through `plugins`).',
      });
    }
    const login = await this.#host.auth(id).login();
    const stop = new AbortController();
    const onAbort = () => stop.abort(options.signal!.reason);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const waiting = login.wait({ signal: stop.signal });
      waiting.catch(() => {});
      const { wait: _wait, ...authorization } = login;
      // `interval` grows on slow_down: keep it live for `approve`.
      Object.defineProperty(authorization, 'interval', { get: () => login.interval, enumerable: true });
      const approved = (async () => {
        try {
          await options.approve?.(authorization);
        } catch (err) {
          stop.abort(err);
          throw err;
        }
      })();
      approved.catch(() => {});
      // Whichever comes first: the host's outcome, or approve's failure.
      return await Promise.race([waiting, approved.then(() => waiting)]);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async chat(request: ChatRequest, options: ChatOptions = {}): Promise<ChatResult> {
    this.#assertOpen('chat');
    return this.#host.chat(this.#forThisProvider(request), options);
  }

  async streamChat(request: ChatRequest, options: StreamChatOptions = {}): Promise<CollectedStream> {
    this.#assertOpen('streamChat');
    const { until, ...chatOptions } = options;
    return collectStream(this.#host.chatStream(this.#forThisProvider(request), chatOptions), { until });
  }

  async models(): Promise<ModelInfo[]> {
    this.#assertOpen('models');
    return this.#host.models(this.id);
  }

  #forThisProvider(request: ChatRequest): ChatRequest {
    return typeof request === 'object' && request !== null && request.provider === undefined ? { ...request, provider: this.id } : request;
  }

  async reload(): Promise<PluginInfo> {
    this.#assertOpen('reload');
    const build = this.#main.options.build;
    if (build !== false) await buildIfStale(this.dir, typeof build === 'object' ? build : {});
    return this.#host.reload(this.id);
  }

  async restart(): Promise<void> {
    this.#assertOpen('restart');
    await this.#host.close();
    this.#host = await createHost(this.#hostOptions);
    await loadAll(this.#host, this.#plugins);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#host.close();
    } finally {
      await this.#fakes.close();
      if (this.#ownsHome) await rm(this.home, { recursive: true, force: true });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(what: string): void {
    if (this.#closed) throw new TestHostError('CLOSED', `${what}: this test host is closed`, { hint: 'Create a new one with createTestHost().' });
  }
}

/**
 * Opening one plugin: from a directory to a started instance pool wired to
 * exactly what it was granted. Its configuration, grant and the host's policy
 * are checked; its HTTP broker, storage, credentials, directories (its scratch
 * directory too), environment, quotas, audit records and runtime record are
 * set up; the component is prepared while the worker boots; its tools,
 * prompt templates, provider info or hook info are read. The host registers what this returns, or, for a
 * trial, stops it.
 */
import { AirlockError } from './errors.js';
import { readManifest, type Manifest, type RequiredEnv } from './manifest.js';
import { QuotaMeter, quotasFor, type HostQuotas } from './quotas.js';
import type { AuditLog } from './audit.js';
import { policyRefusal, refusedByPolicy, understatedRisk, type HostPolicy } from './policy.js';
import type { PluginMonitor } from './monitor.js';
import { configDefaults, effectiveCapabilities, expandConfigTemplates } from './capabilities/grant.js';
import { grantedEnv } from './capabilities/env.js';
import { STORAGE_DEFAULTS, serveStorage } from './capabilities/storage.js';
import { preopensFor, scratchPreopen } from './capabilities/filesystem.js';
import { readProviderInfo, type ProviderInfo } from './kinds/provider.js';
import { HttpBroker, parseRange, type ConnectTarget } from './capabilities/http.js';
import { PluginInstance, type ThreadLot } from './sandbox/instance.js';
import { InstancePool } from './sandbox/pool.js';
import { memoryStorage } from './storage/memory.js';
import type { StorageAdapter } from './storage/adapter.js';
import { checkSchema, compileSchema, formatProblems } from './schema.js';
import { StackMapper, mapErrorStacks } from './source-map.js';
import { readTools, type ToolInfo } from './kinds/tool.js';
import { readTemplates, type LoadedPrompt } from './kinds/prompt-template.js';
import { readHookInfo, type HookInfo } from './kinds/hook.js';
import type { Logger } from './logger.js';
import type { SecretMask } from './secrets.js';
import type { ComponentLoader } from './component-loader.js';
import { hostCallRouter, type HostCallRoutes } from './host-calls.js';
import { serveCredentials, tokenFrom, type CredentialsBroker } from './capabilities/credentials.js';
import { EventBus } from './capabilities/events.js';
import { checkInterfaceGrants, serveInterfaceCall, type HostInterface } from './capabilities/interfaces.js';
import { exportsHooks } from './contract.js';
import { INIT } from './sandbox/protocol.js';
import type { HostLimits, LoadOptions, PluginInfo } from './host-types.js';

export interface OpenOptions extends LoadOptions {
  /** The id of the loaded plugin this one will replace (hot reload). */
  replacing?: string;
  /** A trial start that will be stopped at once: a loaded plugin with the same id is no conflict. Its storage is in memory, empty, and forgotten. */
  trial?: boolean;
  /** The storage namespace of an installed plugin's data. Default: the namespace of the package's own data (see `registry.namespaceForDirectory`). */
  namespace?: string;
  /** A trial of a package being installed: a development build is refused. */
  installing?: boolean;
}

export interface Loaded {
  info: PluginInfo;
  manifest: Manifest;
  /** The configuration it was loaded with (defaults filled in). */
  settings: Record<string, unknown>;
  instance: InstancePool;
  tools: ToolInfo[];
  /** For a prompt-template plugin: its templates, read and checked at load. */
  prompts: LoadedPrompt[];
  /** For a provider plugin: what it said about itself at load. */
  provider: ProviderInfo | undefined;
  /** For a hook plugin: where and in which order its hooks run, as it said at load. */
  hook: HookInfo | undefined;
  http: HttpBroker;
  /** The storage namespace it uses; undefined when it holds no storage grant. */
  namespace: string | undefined;
  /** Maps the plugin's stack traces to its sources, when its build attached a source map. */
  stacks: StackMapper | undefined;
  /** Its state and figures; kept across reloads. */
  monitor: PluginMonitor;
  /** Required environment variables unset here: a load refuses them, a trial starts without them and says so. */
  missingEnv: RequiredEnv[];
  /** The component exports the lifecycle hooks (and so can receive events). */
  hooks: boolean;
  /** What the host warned about at the start (a load logs these; a trial only returns them). */
  warnings: string[];
}

/** What opening a plugin needs of the host that owns it. */
export interface OpenContext {
  home: string;
  limits: Required<HostLimits>;
  /** Where granted environment variables are read. */
  env: NodeJS.ProcessEnv;
  connectTo: ReadonlyMap<string, ConnectTarget> | undefined;
  spin: { hostMicros: number; workerMicros: number };
  storage: StorageAdapter;
  secrets: SecretMask;
  credentials: CredentialsBroker;
  loader: ComponentLoader;
  lot: ThreadLot;
  policy: HostPolicy;
  audit: AuditLog | undefined;
  quotas: HostQuotas | undefined;
  /** Where plugins' events go (a trial's go nowhere). */
  events: EventBus;
  /** The interfaces the integrator added, by unversioned id. */
  interfaces: ReadonlyMap<string, HostInterface>;
  logger: Logger;
  isLoaded(id: string): boolean;
  /** The plugin's runtime record: a reload keeps the loaded one's. */
  monitorFor(id: string, options: OpenOptions): PluginMonitor;
  /** The namespace of the data of the package in `dir` (see `registry.namespaceForDirectory`). */
  namespaceForDirectory(dir: string, manifest: Manifest): Promise<string>;
  /** An error on its way out: stacks mapped, secrets masked. */
  masked(err: unknown): unknown;
}

/** Read, check and start the plugin in `pluginDir`, without registering it. */
export async function openPlugin(ctx: OpenContext, pluginDir: string, options: OpenOptions): Promise<Loaded> {
  const manifest = await readManifest(pluginDir);
  if (options.replacing === undefined && !options.trial && ctx.isLoaded(manifest.id)) throw alreadyLoaded(manifest.id);
  if (options.replacing !== undefined && options.replacing !== manifest.id) {
    throw new AirlockError('PLUGIN_START_FAILED', `${pluginDir} holds plugin \`${manifest.id}\`, not \`${options.replacing}\``, { plugin: options.replacing });
  }
  const settings = checkConfig(manifest, options.config ?? {});
  const capabilities = effectiveCapabilities(expandConfigTemplates(manifest, settings), options.grant ?? {});
  const refusal = policyRefusal(manifest, capabilities, ctx.policy, ctx.home);
  if (refusal) throw refusedByPolicy(manifest, refusal);
  if (manifest.limits.memoryMb !== undefined && manifest.limits.memoryMb > ctx.limits.maxMemoryMb) {
    throw refusedByPolicy(manifest, `it asks for ${manifest.limits.memoryMb} MiB of memory (limits.memoryMb), and this host allows at most ${ctx.limits.maxMemoryMb} MiB (limits.maxMemoryMb)`);
  }
  const config = Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, JSON.stringify(v)]));
  if (options.poolSize !== undefined && !(Number.isInteger(options.poolSize) && options.poolSize >= 1 && options.poolSize <= 16)) {
    throw new AirlockError('PLUGIN_START_FAILED', `poolSize for plugin \`${manifest.id}\` must be an integer from 1 to 16, got ${options.poolSize}`, { plugin: manifest.id });
  }

  const id = manifest.id;
  const monitor = ctx.monitorFor(id, options);
  const quota = new QuotaMeter(quotasFor(id, ctx.quotas));
  // A trial's uses are not the plugin's: they are not recorded.
  const audit = options.trial ? undefined : ctx.audit;
  const timeoutMs = Math.min(manifest.limits.timeoutMs ?? ctx.limits.defaultTimeoutMs, ctx.limits.maxTimeoutMs);
  const http = new HttpBroker({
    pluginId: manifest.id,
    origins: (capabilities.http ?? []).filter((entry) => !parseRange(entry)),
    ranges: (capabilities.http ?? []).filter((entry) => parseRange(entry)),
    maxBodyBytes: ctx.limits.maxHttpBodyBytes,
    log: (level, message) => ctx.logger({ level, message, plugin: manifest.id }),
    connectTo: ctx.connectTo,
    meter: monitor.meter,
    quota,
    audit: (e) => audit?.record({ plugin: manifest.id, ...e, capability: e.capability ?? 'http' }),
    scrub: ctx.secrets.scrub,
    // Bound credentials: the broker adds their tokens, asked of the auth plugin as get-token would.
    inject: (capabilities.credentials ?? []).flatMap((entry) =>
      typeof entry === 'string' ? [] : [{ authPlugin: entry.plugin, origins: entry.inject, token: () => tokenFrom(ctx.credentials, entry.plugin) }],
    ),
  });
  // Stored data belongs to the package that wrote it: an installed plugin's namespace comes from the
  // registry, a directory's is its package's own (found while the component is prepared); a trial's is in memory.
  const namespaceOf: Promise<string | undefined> =
    !capabilities.storage ? Promise.resolve(undefined) : options.namespace !== undefined || options.trial ? Promise.resolve(options.namespace ?? id) : ctx.namespaceForDirectory(pluginDir, manifest);
  namespaceOf.catch(() => {}); // observed below
  const store = options.trial ? memoryStorage() : ctx.storage;
  const storageGrant = { namespace: id, pluginId: id, quotaBytes: capabilities.storage ? (capabilities.storage.quotaBytes ?? STORAGE_DEFAULTS.quotaBytes) : undefined };
  let namespaceKnown = false;
  const namespaced = namespaceOf.then((namespace) => {
    storageGrant.namespace = namespace ?? id;
    namespaceKnown = true;
  });
  namespaced.catch(() => {});
  const memoryCapBytes = Math.min(manifest.limits.memoryMb ?? ctx.limits.defaultMemoryMb, ctx.limits.maxMemoryMb) * 1024 * 1024;
  // Every plugin has its scratch directory; a trial (which keeps nothing) does not.
  const preopens = [...preopensFor(id, capabilities.filesystem), ...(options.trial ? [] : [scratchPreopen(ctx.home, id, ctx.limits.scratchMb * 1024 * 1024)])];
  const env = grantedEnv(capabilities.env, ctx.env);
  const missingEnv = manifest.requiredEnv.filter((r) => !env[r.name]);
  if (missingEnv.length > 0 && !options.trial) throw envMissing(manifest, missingEnv);
  for (const name of Object.keys(env).sort()) audit?.record({ plugin: id, call: 'start', capability: 'env', action: 'expose', target: name, outcome: 'allowed', detail: undefined });
  // Keys and tokens handed to a plugin through its environment are masked wherever they show up.
  for (const [name, value] of Object.entries(env)) if (SECRET_NAME.test(name)) ctx.secrets.remember(value);
  // A trial's events reach no one.
  const bus = options.trial ? new EventBus({ log: () => {} }) : ctx.events;
  const prepared = ctx.loader.prepare(pluginDir, manifest, memoryCapBytes, options.expectedSha256, options.installing);
  prepared.catch(() => {}); // observed below; the worker may not ask for it
  // Known once the component is prepared; log lines and errors before then are left as written.
  let stacks: StackMapper | undefined;
  const poolSize = options.poolSize ?? 1;
  const routes: HostCallRoutes = {
    storage: (fn, args, call) => {
      const over = capabilities.storage && (fn === 'set' || fn === 'delete') ? quota.take('storageWrites') : undefined;
      if (over !== undefined) {
        audit?.record({ plugin: id, call, capability: 'storage', action: fn, target: String(args[0]).slice(0, 256), outcome: 'refused', detail: over });
        return { err: { tag: 'quota-exceeded', val: over } };
      }
      return namespaceKnown ? serveStorage(store, storageGrant, fn, args) : namespaced.then(() => serveStorage(store, storageGrant, fn, args));
    },
    http: (fn, args, owner, scope, call, trace) => http.serve(fn, args, { owners: [owner, scope], call, trace }),
    events: (args, scope, call) => {
      const reply = bus.publishFrom(id, capabilities.events?.publish, args[0], args[1], hopsOf(scope));
      audit?.record({ plugin: id, call, capability: 'events', action: 'publish', target: String(args[0]).slice(0, 140), outcome: reply.outcome, detail: reply.detail });
      if (reply.outcome === 'allowed') monitor.eventMeter.published();
      return 'err' in reply ? { err: reply.err } : { ok: undefined };
    },
    iface: async (fn, args, call) => {
      const reply = await serveInterfaceCall(ctx.interfaces, id, capabilities.interfaces, fn, args, (message) => ctx.logger({ level: 'warn', message, plugin: id }));
      audit?.record({ plugin: id, call, capability: 'interfaces', action: reply.action, target: reply.target, outcome: reply.outcome, detail: undefined });
      return 'err' in reply ? { err: reply.err } : { ok: reply.ok };
    },
    credentials: async (fn, authPlugin, call) => {
      const reply = await serveCredentials(ctx.credentials, id, capabilities.credentials, fn, authPlugin);
      const denied = 'err' in reply && (reply.err as { tag?: string }).tag === 'denied';
      const failed = 'err' in reply ? String((reply.err as { val?: unknown }).val ?? '') : undefined;
      audit?.record({ plugin: id, call, capability: 'credentials', action: fn === 'signedIn' ? 'signed-in' : 'get-token', target: String(authPlugin), outcome: denied ? 'refused' : 'allowed', detail: failed });
      return reply;
    },
  };
  const instance = new InstancePool(poolSize, () => {
    // Names this instance's HTTP responses, to close them when its worker stops.
    const owner = {};
    return new PluginInstance({
      pluginId: id,
      component: async () => (await prepared).component,
      modules: async () => (await prepared).modules,
      devBundle: async () => (await prepared).dev?.source,
      config,
      env,
      preopens,
      timeoutMs,
      shutdownMs: ctx.limits.shutdownMs,
      maxMessageBytes: ctx.limits.maxMessageBytes,
      memoryCapBytes,
      growthBytes: ctx.limits.instanceGrowthMb * 1024 * 1024,
      maxQueuedCalls: ctx.limits.maxQueuedCalls,
      spin: ctx.spin,
      onLog: (level, text) => {
        const message = stacks && text.includes('plugin.js:') ? stacks.map(text) : text;
        ctx.logger({ level, message, plugin: id });
      },
      onHostCall: hostCallRouter(routes, owner),
      onAudit: audit && ((e) => audit.record({ plugin: id, call: e.call, capability: 'filesystem', action: e.action, target: e.target, outcome: e.outcome, detail: e.detail })),
      onExit: () => http.closeOwned(owner),
      onCodeCache: (data) => ctx.loader.saveCodeCache(prepared, data),
      lot: ctx.lot,
      monitor,
      fileQuota: quota.fileQuota,
    });
  });

  try {
    // The worker thread boots while the component is read, verified and compiled.
    const started = instance.start();
    started.catch(() => {});
    const { component, contract, dev } = await prepared;
    // A development build's map is its bundle's; the engine's own frames are not the plugin's.
    const { sourceMap, sourceMapSha256 } = dev ?? component;
    stacks = sourceMap === undefined ? undefined : new StackMapper(sourceMap, sourceMapSha256);
    const namespace = await namespaceOf;
    await started;
    checkInterfaceGrants(id, component.imports, capabilities.interfaces);
    const hooks = exportsHooks(component);
    // Its init hook runs now, so that a plugin refusing its configuration fails the load.
    if (hooks) await instance.call(INIT, []);
    if (capabilities.events?.subscribe && !hooks) {
      ctx.logger({ level: 'warn', message: `\`${id}\` subscribes to events but its component has no on-event hook (built against contract ${contract}): it receives none; rebuild it with a current SDK`, plugin: id });
    }
    const tools = manifest.kind === 'tool' ? await readTools(instance, id) : [];
    const understated = understatedRisk(manifest, capabilities, tools.map((t) => t.risk));
    if (understated && ctx.policy.understatedRisk === 'refuse') throw refusedByPolicy(manifest, understated);
    const warnings = understated && ctx.policy.understatedRisk !== 'allow' ? [`${understated}: check its tools' risk levels before granting it more`] : [];
    if (!options.trial) for (const message of warnings) ctx.logger({ level: 'warn', message, plugin: id });
    const provider = manifest.kind === 'provider' ? await readProviderInfo(instance, id) : undefined;
    const prompts = manifest.kind === 'prompt-template' ? await readTemplates(instance, id) : [];
    const hook = manifest.kind === 'hook' ? await readHookInfo(instance, id, capabilities.hooks) : undefined;
    const info: PluginInfo = { id, name: manifest.name, version: manifest.version, kind: manifest.kind, dir: pluginDir, sha256: component.sha256, contract, capabilities };
    return { info, manifest, settings, instance, tools, prompts, provider, hook, http, namespace, stacks, monitor, missingEnv, hooks, warnings };
  } catch (err) {
    await instance.close();
    http.closeAll();
    // A failing list-tools or info may show the plugin's environment secrets, like any later call.
    throw ctx.masked(mapErrorStacks(err, stacks));
  }
}

/** A plugin whose required environment variables are unset (or empty) does not load: it says which, and what they are for. */
function envMissing(manifest: Manifest, missing: readonly RequiredEnv[]): AirlockError {
  const names = missing.map((r) => r.name).join(', ');
  const about = missing.filter((r) => r.description).map((r) => `${r.name}: ${r.description}`);
  return new AirlockError('ENV_MISSING', `plugin \`${manifest.id}\` needs the environment variable${missing.length > 1 ? 's' : ''} ${names}, which ${missing.length > 1 ? 'are' : 'is'} not set`, {
    plugin: manifest.id,
    hint: `Set ${names} in the environment the host runs in${about.length ? ` (${about.join('; ')})` : ''}, then load it again.`,
  });
}

/** The configuration with the schema's top-level defaults filled in, validated against the schema. */
function checkConfig(manifest: Manifest, given: Record<string, unknown>): Record<string, unknown> {
  const config = { ...configDefaults(manifest.configSchema), ...given };
  if (manifest.configSchema) {
    const invalid = checkSchema(manifest.configSchema);
    if (invalid.length > 0) {
      throw new AirlockError('MANIFEST_INVALID', `plugin \`${manifest.id}\`: airlock.configSchema is not a valid JSON Schema: ${formatProblems(invalid)}`, { plugin: manifest.id });
    }
    const problems = compileSchema(manifest.configSchema).validate(config);
    if (problems.length > 0) {
      throw new AirlockError('CONFIG_INVALID', `configuration for plugin \`${manifest.id}\` does not match its configSchema: ${formatProblems(problems)}`, {
        plugin: manifest.id,
        hint: 'Pass a `config` to host.load() that matches the plugin\'s configSchema.',
      });
    }
  }
  return config;
}

/** Environment variable names whose values are treated as secrets: `OPENAI_API_KEY`, `GITHUB_TOKEN`, `DB_PASSWORD`… */
const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH/i;

export const alreadyLoaded = (id: string) =>
  new AirlockError('PLUGIN_ALREADY_LOADED', `plugin \`${id}\` is already loaded`, { plugin: id, hint: 'Unload it first with host.unload(), or reload it with host.reload().' });

/** How many publishes led to the call a host call is made in: an `on-event` call's scope says (see `deliverEvents`). */
const hopsOf = (scope: object | undefined): number => (scope !== undefined && 'eventHops' in scope && typeof scope.eventHops === 'number' ? scope.eventHops : 0);

/** The bus's way into a loaded plugin: each event a call to its `on-event`, whose scope carries the event's hops. */
export function deliverEvents(loaded: Pick<Loaded, 'instance' | 'monitor' | 'info'>): { deliver: (topic: string, payload: string, hops: number) => Promise<void>; meter: Loaded['monitor']['eventMeter'] } {
  return {
    deliver: async (topic, payload, hops) => {
      const outcome = await loaded.instance.call('lifecycle.onEvent', [topic, payload], { scope: { eventHops: hops } });
      if (!outcome.ok) throw new AirlockError('PLUGIN_ERROR', `its on-event hook returned an error on \`${topic}\``, { plugin: loaded.info.id });
    },
    meter: loaded.monitor.eventMeter,
  };
}

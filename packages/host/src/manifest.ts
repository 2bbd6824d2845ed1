/**
 * The plugin manifest: the `"airlock"` field of a plugin's package.json.
 * Parsing is total: any input yields either a manifest or one ManifestError
 * whose issues name the field (as a JSON path), what is wrong and how to fix it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { AirlockError, ManifestError, type ManifestIssue } from './errors.js';
import { originCovers, parseRange } from './capabilities/http.js';
import { pathProblem } from './capabilities/filesystem.js';

export type PluginKind = 'tool' | 'auth' | 'provider' | 'hook' | 'prompt-template' | 'context';
export const PLUGIN_KINDS: readonly PluginKind[] = ['tool', 'auth', 'provider', 'hook', 'prompt-template', 'context'];

/** Access to a granted directory. */
export type FsAccess = 'read-only' | 'read-write';

/** What a plugin asks to be allowed to do. Everything absent is denied. */
export interface Capabilities {
  /** A private key-value store, with its byte quota. */
  storage?: { quotaBytes?: number };
  /**
   * Origins `fetch` may reach (`https://api.example.com`, `https://*.example.com`,
   * `http://127.0.0.1:8080`), and address ranges a granted name may resolve into
   * (`10.0.0.0/8`); non-public addresses are refused otherwise. An entry
   * `{{ config.<key> }}` stands for the origin of a URL in the plugin's
   * configuration; the host expands it at load, before the grant is checked.
   */
  http?: string[];
  /** Environment variables the plugin may read: `NAME` or `PREFIX_*`. */
  env?: string[];
  /** Host directories the plugin may open. */
  filesystem?: { path: string; access: FsAccess }[];
  /**
   * Auth plugins whose sign-in the plugin may use: an id (the plugin may ask
   * the host for the token itself), or `{ plugin, inject }` (the host adds the
   * token to the plugin's requests to the `inject` origins, and the plugin
   * never sees it).
   */
  credentials?: CredentialGrant[];
  /**
   * Topics the plugin may publish on, and topics whose events it receives
   * (`lifecycle.on-event`): names like `notes.saved`, or prefixes `notes.*`.
   */
  events?: { publish?: string[]; subscribe?: string[] };
  /** Interfaces the integrator's host adds (`acme:kb/search`) that the plugin's component imports. */
  interfaces?: string[];
  /**
   * For a hook plugin only: the points in the host's work its hooks run at
   * (`before-tool-call`, `after-tool-call`, `before-chat`, `after-chat`). A
   * hook sees every tool call or chat request that passes its point.
   */
  hooks?: HookPoint[];
}

/**
 * A credential bound to origins: the host adds `Authorization: <type> <token>`
 * from auth plugin `plugin` to the plugin's requests to the `inject` origins
 * (patterns as in `http`), never to any other, and refuses to hand the token
 * to the plugin.
 */
export interface BoundCredential {
  plugin: string;
  inject: string[];
}

/** One `capabilities.credentials` entry: an auth plugin id (the token is handed over), or a credential bound to origins. */
export type CredentialGrant = string | BoundCredential;

/** The auth plugin an entry names. */
export const credentialPlugin = (entry: CredentialGrant): string => (typeof entry === 'string' ? entry : entry.plugin);
/** A point in the host's work where hook plugins run (`hook-point` in wit/hook.wit). */
export type HookPoint = 'before-tool-call' | 'after-tool-call' | 'before-chat' | 'after-chat';
export const HOOK_POINTS: readonly HookPoint[] = ['before-tool-call', 'after-tool-call', 'before-chat', 'after-chat'];

export interface Limits {
  /** Cap on the plugin's linear memory, in MiB. */
  memoryMb?: number;
  /** Deadline of one call into the plugin, in milliseconds. */
  timeoutMs?: number;
}

/** A validated manifest, with defaults applied. */
export interface Manifest {
  /** Plugin id: the manifest's `id`, or the package name without its scope. */
  id: string;
  /** The package name. */
  name: string;
  /** The package version (the only place a plugin's version lives). */
  version: string;
  description: string | undefined;
  kind: PluginKind;
  /** Component path relative to the plugin directory. */
  component: string;
  /** TypeScript entry used by `airlock-plugin build`, relative to the plugin directory. */
  entry: string;
  /** Contract versions the plugin supports, a semver range. */
  contract: string | undefined;
  capabilities: Capabilities;
  limits: Limits;
  /** JSON Schema of the plugin's configuration. */
  configSchema: Record<string, unknown> | undefined;
  /** Other plugins this one needs, by id, with a semver range. */
  requires: Record<string, string>;
  /** Environment variables the plugin cannot work without (`{ "name", "required": true }` entries of `capabilities.env`): a load fails when one is unset. */
  requiredEnv: RequiredEnv[];
}

/** An environment variable a plugin cannot work without. */
export interface RequiredEnv {
  name: string;
  /** What it is and where to get it, for the error when it is missing. */
  description?: string;
}

/** A plugin id: lowercase letters, digits and dashes, starting with a letter. */
export const PLUGIN_ID = /^[a-z][a-z0-9-]{0,63}$/;
const TOP_KEYS = ['id', 'kind', 'component', 'entry', 'contract', 'capabilities', 'limits', 'configSchema', 'requires'];
const CAP_KEYS = ['storage', 'http', 'env', 'filesystem', 'credentials', 'events', 'interfaces', 'hooks'];
/** An event topic: dot-separated lowercase words (`notes.saved`), at most 128 characters. */
export const TOPIC = /^(?=.{1,128}$)[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$/;
/** A topic, or a prefix of topics ending in `.*` (`notes.*`). */
export const TOPIC_PATTERN = /^(?=.{1,130}$)[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*(\.\*)?$/;
/** An interface id without its version, of a package of the integrator's: `acme:kb/search`. */
export const INTERFACE_ID = /^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*\/[a-z][a-z0-9-]*$/;
/** Whether an interface or package is one of the host's own (`airlock:plugin`, `wasi:*`), not an integrator's. */
export const isOwnPackage = (name: string): boolean => name.startsWith('airlock:') || name.startsWith('wasi:');
/** Why `s` is not a topic pattern, or undefined. */
export const topicPatternProblem = (s: string): string | undefined =>
  TOPIC_PATTERN.test(s) ? undefined : 'must be a topic (`notes.saved`: dot-separated lowercase words) or a prefix of topics (`notes.*`)';
/** An environment variable name `NAME`, or a prefix `PREFIX_*`. */
export const ENV_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*(\*)?$/;

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Name a JSON value in a message. Never calls the value's own methods: input may be hostile. */
function describe(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 60))}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v;
}

/** Suggest the closest known key, for "did you mean" hints. */
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestScore) [best, bestScore] = [k, d];
  }
  return bestScore <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * `{{ config.baseUrl }}`: an http entry taken from the plugin's configuration
 * at load time (the origin of the URL the user configured). Returns the key.
 */
export function configTemplate(entry: string): string | undefined {
  return /^\{\{\s*config\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(entry)?.[1];
}

/** Validate an origin pattern: `scheme://host[:port]`, host may start with `*.`. */
export function checkOrigin(origin: string): string | undefined {
  const m = /^(https?):\/\/(\*\.)?([a-z0-9.-]+|\[[0-9a-f:]+\])(:\d{1,5})?$/i.exec(origin);
  if (!m) return 'must be an origin `scheme://host[:port]` (http or https, no path), e.g. `https://api.example.com` or `https://*.example.com`';
  if (m[4] && Number(m[4].slice(1)) > 65535) return 'has a port above 65535';
  return undefined;
}

/**
 * Validate a parsed package.json. Returns the manifest or throws a ManifestError.
 * `file` is only used in messages.
 */
export function parseManifest(pkg: Json, file = 'package.json'): Manifest {
  const issues: ManifestIssue[] = [];
  const issue = (path: string, message: string, hint?: string) => issues.push(hint ? { path, message, hint } : { path, message });

  if (!isObject(pkg)) throw new ManifestError(file, [{ path: '(root)', message: `must be a JSON object, found ${describe(pkg)}` }]);

  const name = pkg.name;
  if (typeof name !== 'string' || name.length === 0) issue('name', 'is missing; a plugin package needs a name', 'Add `"name": "my-plugin"` to package.json.');
  const version = pkg.version;
  if (typeof version !== 'string' || semver.valid(version) !== version) {
    issue('version', version === undefined ? 'is missing' : `must be a semver version, found ${describe(version)}`, 'Add `"version": "0.1.0"` to package.json.');
  }
  const a = pkg.airlock;
  if (!isObject(a)) {
    issues.push({
      path: 'airlock',
      message: a === undefined ? 'is missing: this package.json has no plugin manifest' : `must be an object, found ${describe(a)}`,
      hint: 'Add an `"airlock": { "kind": "tool" }` field to package.json (kind: tool, auth or provider).',
    });
    throw new ManifestError(file, issues);
  }

  for (const key of Object.keys(a)) {
    if (!TOP_KEYS.includes(key)) {
      const near = closest(key, TOP_KEYS);
      issue(`airlock.${key}`, 'is not a manifest field', near ? `Did you mean \`${near}\`?` : `Known fields: ${TOP_KEYS.join(', ')}.`);
    }
  }

  const unscoped = typeof name === 'string' ? name.replace(/^@[^/]+\//, '') : '';
  let id = unscoped;
  if (a.id !== undefined) {
    if (typeof a.id !== 'string' || !PLUGIN_ID.test(a.id)) issue('airlock.id', `must match ${PLUGIN_ID} (lowercase letters, digits, dashes), found ${describe(a.id)}`);
    else id = a.id;
  } else if (unscoped && !PLUGIN_ID.test(unscoped)) {
    issue('airlock.id', `is needed because the package name \`${unscoped}\` is not a valid plugin id`, 'Add `"id": "my-plugin"` (lowercase letters, digits, dashes).');
  }

  const kind = a.kind;
  if (!PLUGIN_KINDS.includes(kind as PluginKind)) {
    issue('airlock.kind', kind === undefined ? 'is missing' : `must be one of tool, auth, provider; found ${describe(kind)}`, 'Set `"kind"` to "tool", "auth" or "provider".');
  }

  const relPath = (field: string, v: Json, dflt: string): string => {
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || v.length === 0) issue(`airlock.${field}`, `must be a relative path, found ${describe(v)}`);
    else if (v.startsWith('/') || /^[a-zA-Z]:/.test(v) || v.split(/[\\/]/).includes('..')) issue(`airlock.${field}`, `must stay inside the plugin directory, found ${JSON.stringify(v)}`, 'Use a path relative to package.json, without `..`.');
    else return v;
    return dflt;
  };
  const component = relPath('component', a.component, 'dist/plugin.wasm');
  const entry = relPath('entry', a.entry, 'src/index.ts');

  let contract: string | undefined;
  if (a.contract !== undefined) {
    if (typeof a.contract !== 'string' || a.contract.trim() === '' || !semver.validRange(a.contract)) issue('airlock.contract', `must be a semver range such as "^0.1.0", found ${describe(a.contract)}`);
    else contract = a.contract;
  }

  const requiredEnv: RequiredEnv[] = [];
  const capabilities = parseCapabilities(a.capabilities, issue, requiredEnv);
  const limits = parseLimits(a.limits, issue);

  let configSchema: Record<string, unknown> | undefined;
  if (a.configSchema !== undefined) {
    if (!isObject(a.configSchema)) issue('airlock.configSchema', `must be a JSON Schema object, found ${describe(a.configSchema)}`);
    else configSchema = a.configSchema;
  }

  const requires: Record<string, string> = {};
  if (a.requires !== undefined) {
    if (!isObject(a.requires)) issue('airlock.requires', `must map plugin ids to version ranges, found ${describe(a.requires)}`, 'Example: `"requires": { "auth-device-flow": "^1.0.0" }`.');
    else
      for (const [dep, range] of Object.entries(a.requires)) {
        if (!PLUGIN_ID.test(dep)) issue(`airlock.requires.${dep}`, 'is not a valid plugin id');
        else if (typeof range !== 'string' || range.trim() === '' || !semver.validRange(range)) issue(`airlock.requires.${dep}`, `must be a semver range, found ${describe(range)}`);
        else requires[dep] = range;
      }
  }

  if (capabilities.hooks && kind !== 'hook' && PLUGIN_KINDS.includes(kind as PluginKind)) {
    issue('airlock.capabilities.hooks', `is for hook plugins only, and this is a ${String(kind)} plugin`, 'Remove `hooks` from the capabilities, or make it a hook plugin (`"kind": "hook"`, built with defineHookPlugin).');
  }

  (capabilities.http ?? []).forEach((entry, i) => {
    const key = configTemplate(entry);
    const properties = configSchema?.properties as Json;
    const declared = isObject(properties) && Object.hasOwn(properties, key ?? '');
    if (key !== undefined && !declared) {
      issue(`airlock.capabilities.http[${i}]`, `names config key \`${key}\`, which airlock.configSchema.properties does not declare`, `Declare it, e.g. \`"configSchema": { "properties": { "${key}": { "type": "string", "format": "uri" } } }\`.`);
    }
  });

  if (issues.length > 0) throw new ManifestError(file, issues);
  return {
    id,
    name: name as string,
    version: version as string,
    description: typeof pkg.description === 'string' ? pkg.description : undefined,
    kind: kind as PluginKind,
    component,
    entry,
    contract,
    capabilities,
    limits,
    configSchema,
    requires,
    requiredEnv,
  };
}

type Issue = (path: string, message: string, hint?: string) => void;

function stringList(v: Json, path: string, issue: Issue, check: (s: string) => string | undefined): string[] | undefined {
  if (!Array.isArray(v)) {
    issue(path, `must be an array of strings, found ${describe(v)}`);
    return undefined;
  }
  const out: string[] = [];
  v.forEach((item, i) => {
    if (typeof item !== 'string') return issue(`${path}[${i}]`, `must be a string, found ${describe(item)}`);
    const problem = check(item);
    if (problem) issue(`${path}[${i}]`, `${JSON.stringify(item)} ${problem}`);
    else out.push(item);
  });
  return out;
}

/** `capabilities.env`: names, prefixes, and `{ "name", "required"?, "description"? }` objects; the required ones go to `required`. */
function parseEnv(v: Json, path: string, issue: Issue, required: RequiredEnv[]): string[] | undefined {
  if (!Array.isArray(v)) {
    issue(path, `must be an array of variable names, found ${describe(v)}`);
    return undefined;
  }
  const names: string[] = [];
  v.forEach((item, i) => {
    const at = `${path}[${i}]`;
    if (typeof item === 'string') {
      if (ENV_PATTERN.test(item)) names.push(item);
      else issue(at, `${JSON.stringify(item)} must be a variable name \`NAME\` or a prefix \`PREFIX_*\``);
      return;
    }
    if (!isObject(item) || typeof item.name !== 'string') {
      return issue(at, `must be a variable name, or { "name": "NAME", "required": true, "description": "…" }, found ${describe(item)}`);
    }
    const { name, required: isRequired, description } = item;
    for (const key of Object.keys(item)) if (!['name', 'required', 'description'].includes(key)) issue(`${at}.${key}`, 'is not an env option', 'The options are `name`, `required` and `description`.');
    if (!ENV_PATTERN.test(name)) return issue(`${at}.name`, `${JSON.stringify(name)} must be a variable name \`NAME\` or a prefix \`PREFIX_*\``);
    if (isRequired !== undefined && typeof isRequired !== 'boolean') return issue(`${at}.required`, `must be true or false, found ${describe(isRequired)}`);
    if (description !== undefined && typeof description !== 'string') return issue(`${at}.description`, `must be a string, found ${describe(description)}`);
    if (isRequired && name.endsWith('*')) return issue(`${at}.required`, `a prefix (${name}) cannot be required`, 'Require each variable by its full name.');
    names.push(name);
    if (isRequired) required.push(description === undefined ? { name } : { name, description });
  });
  return names;
}

/** Whether an origin's host is this machine: `localhost`, 127.0.0.0/8 or `[::1]`. */
const isLoopbackOrigin = (origin: string): boolean => /^http:\/\/(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i.test(origin);

/**
 * `capabilities.credentials`: auth plugin ids, and `{ "plugin", "inject" }`
 * objects whose origins the host injects the token into. Each inject origin
 * must be https (http only to this machine: a token is not sent in the clear)
 * and covered by the plugin's `http` entries, since the host only injects into
 * requests it lets through. `{{ config.<key> }}` http entries cover nothing
 * here: their origins are known only at load.
 */
function parseCredentials(v: Json, path: string, issue: Issue, http: readonly string[] | undefined): CredentialGrant[] | undefined {
  if (!Array.isArray(v)) {
    issue(path, `must be an array of auth plugin ids or { "plugin": "<id>", "inject": [origins] }, found ${describe(v)}`);
    return undefined;
  }
  const out: CredentialGrant[] = [];
  const seen = new Set<string>();
  const once = (id: string, at: string) => {
    if (!seen.has(id)) return seen.add(id);
    issue(at, `names \`${id}\` a second time`, 'List each auth plugin once: either its id or one { "plugin", "inject" } entry.');
    return false;
  };
  v.forEach((item, i) => {
    const at = `${path}[${i}]`;
    if (typeof item === 'string') {
      if (!PLUGIN_ID.test(item)) return issue(at, `${JSON.stringify(item)} must be the id of an auth plugin`);
      if (once(item, at)) out.push(item);
      return;
    }
    if (!isObject(item)) return issue(at, `must be an auth plugin id or { "plugin": "<id>", "inject": [origins] }, found ${describe(item)}`);
    for (const key of Object.keys(item)) if (key !== 'plugin' && key !== 'inject') issue(`${at}.${key}`, 'is not a credentials option', 'The options are `plugin` and `inject`.');
    const { plugin, inject } = item;
    if (typeof plugin !== 'string' || !PLUGIN_ID.test(plugin)) return issue(`${at}.plugin`, `must be the id of an auth plugin, found ${describe(plugin)}`);
    if (!Array.isArray(inject) || inject.length === 0) {
      return issue(`${at}.inject`, `must be a non-empty array of origins the host adds the credential to, found ${describe(inject)}`, 'Write e.g. `"inject": ["https://api.example.com"]`, or give the plain id to have the plugin ask for the token itself.');
    }
    const origins: string[] = [];
    inject.forEach((origin, j) => {
      const where = `${at}.inject[${j}]`;
      if (typeof origin !== 'string') return issue(where, `must be a string, found ${describe(origin)}`);
      const problem = checkOrigin(origin);
      if (problem) return issue(where, `${JSON.stringify(origin)} ${problem}`);
      if (!origin.toLowerCase().startsWith('https://') && !isLoopbackOrigin(origin)) {
        return issue(where, `${JSON.stringify(origin)} is plain http: the host sends credentials only over https (or to this machine)`, `Write "https://${origin.slice('http://'.length)}".`);
      }
      if (!http?.some((g) => !configTemplate(g) && originCovers(g.toLowerCase(), origin.toLowerCase()))) {
        return issue(where, `${JSON.stringify(origin)} is not covered by "capabilities.http": the host injects the credential only into requests the plugin may make`, `Add "${origin}" to "capabilities.http".`);
      }
      origins.push(origin.toLowerCase());
    });
    if (origins.length === inject.length && once(plugin, at)) out.push({ plugin, inject: [...new Set(origins)] });
  });
  return out;
}

function parseCapabilities(v: Json, issue: Issue, requiredEnv: RequiredEnv[]): Capabilities {
  const caps: Capabilities = {};
  if (v === undefined) return caps;
  const base = 'airlock.capabilities';
  if (!isObject(v)) {
    issue(base, `must be an object, found ${describe(v)}`);
    return caps;
  }
  for (const key of Object.keys(v)) {
    if (!CAP_KEYS.includes(key)) {
      const near = closest(key, CAP_KEYS);
      issue(`${base}.${key}`, 'is not a known capability', near ? `Did you mean \`${near}\`?` : `Known capabilities: ${CAP_KEYS.join(', ')}.`);
    }
  }
  if (v.storage !== undefined && v.storage !== false) {
    if (v.storage === true) caps.storage = {};
    else if (isObject(v.storage)) {
      const q = v.storage.quotaBytes;
      if (q !== undefined && (typeof q !== 'number' || !Number.isInteger(q) || q <= 0)) issue(`${base}.storage.quotaBytes`, `must be a positive integer, found ${describe(q)}`);
      else caps.storage = q === undefined ? {} : { quotaBytes: q };
      for (const k of Object.keys(v.storage)) if (k !== 'quotaBytes') issue(`${base}.storage.${k}`, 'is not a storage option', 'The only option is `quotaBytes`.');
    } else issue(`${base}.storage`, `must be true or { "quotaBytes": n }, found ${describe(v.storage)}`);
  }
  if (v.http !== undefined) {
    const list = stringList(v.http, `${base}.http`, issue, (s) => (parseRange(s) || configTemplate(s) ? undefined : checkOrigin(s)));
    if (list) caps.http = list;
  }
  if (v.env !== undefined) {
    const list = parseEnv(v.env, `${base}.env`, issue, requiredEnv);
    if (list) caps.env = list;
  }
  if (v.credentials !== undefined) {
    const list = parseCredentials(v.credentials, `${base}.credentials`, issue, caps.http);
    if (list) caps.credentials = list;
  }
  if (v.interfaces !== undefined) {
    const list = stringList(v.interfaces, `${base}.interfaces`, issue, (s) =>
      !INTERFACE_ID.test(s) ? 'must be an interface id such as `acme:kb/search` (no version)' : isOwnPackage(s) ? 'is one of the host\'s own packages, which need no grant here' : undefined,
    );
    if (list?.length) caps.interfaces = list;
  }
  if (v.hooks !== undefined) {
    const list = stringList(v.hooks, `${base}.hooks`, issue, (s) => (HOOK_POINTS.includes(s as HookPoint) ? undefined : `is not a hook point; the points are ${HOOK_POINTS.join(', ')}`));
    if (list?.length) caps.hooks = [...new Set(list)] as HookPoint[];
  }
  if (v.events !== undefined) {
    if (!isObject(v.events)) issue(`${base}.events`, `must be { "publish": [topics], "subscribe": [topics] }, found ${describe(v.events)}`);
    else {
      const events: NonNullable<Capabilities['events']> = {};
      for (const key of Object.keys(v.events)) if (key !== 'publish' && key !== 'subscribe') issue(`${base}.events.${key}`, 'is not an events option', 'The options are `publish` and `subscribe`.');
      for (const direction of ['publish', 'subscribe'] as const) {
        if (v.events[direction] === undefined) continue;
        const list = stringList(v.events[direction], `${base}.events.${direction}`, issue, (s) =>
          direction === 'publish' && (s === 'airlock' || s.startsWith('airlock.')) ? 'is reserved: only the host publishes `airlock.*` topics' : topicPatternProblem(s),
        );
        if (list?.length) events[direction] = list;
      }
      if (events.publish || events.subscribe) caps.events = events;
    }
  }
  if (v.filesystem !== undefined) {
    if (!Array.isArray(v.filesystem)) issue(`${base}.filesystem`, `must be an array of { "path", "access" }, found ${describe(v.filesystem)}`);
    else {
      caps.filesystem = [];
      v.filesystem.forEach((entry, i) => {
        const p = `${base}.filesystem[${i}]`;
        if (!isObject(entry) || typeof entry.path !== 'string' || entry.path.length === 0) {
          return issue(p, `must be { "path": "<dir>", "access": "read-only" | "read-write" }, found ${describe(entry)}`);
        }
        const problem = pathProblem(entry.path);
        if (problem) return issue(`${p}.path`, `${problem}, found ${describe(entry.path)}`);
        const access = entry.access ?? 'read-only';
        if (access !== 'read-only' && access !== 'read-write') return issue(`${p}.access`, `must be "read-only" or "read-write", found ${describe(access)}`);
        caps.filesystem!.push({ path: entry.path, access });
      });
    }
  }
  return caps;
}

function parseLimits(v: Json, issue: Issue): Limits {
  const limits: Limits = {};
  if (v === undefined) return limits;
  if (!isObject(v)) {
    issue('airlock.limits', `must be an object, found ${describe(v)}`);
    return limits;
  }
  for (const [key, value] of Object.entries(v)) {
    if (key !== 'memoryMb' && key !== 'timeoutMs') {
      issue(`airlock.limits.${key}`, 'is not a known limit', 'Known limits: memoryMb, timeoutMs.');
      continue;
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) issue(`airlock.limits.${key}`, `must be a positive integer, found ${describe(value)}`);
    else limits[key] = value;
  }
  return limits;
}

/** Read and validate `<dir>/package.json`. */
export async function readManifest(dir: string): Promise<Manifest> {
  const file = join(dir, 'package.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new AirlockError('PLUGIN_NOT_FOUND', `no plugin at ${dir}: cannot read package.json`, {
      cause,
      hint: 'Pass the directory that holds the plugin\'s package.json.',
    });
  }
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError(file, [{ path: '(root)', message: `is not valid JSON: ${(cause as Error).message}` }]);
  }
  return parseManifest(json, file);
}

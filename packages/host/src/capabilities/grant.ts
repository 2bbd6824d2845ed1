/**
 * Grants: what the user consented to. The host enforces manifest ∩ grant and
 * refuses to load a plugin whose manifest asks for anything not granted.
 */
import { AirlockError } from '../errors.js';
import { configTemplate, type Capabilities, type Manifest } from '../manifest.js';
import { expandPath } from './filesystem.js';

/** What a user allowed a plugin to do. Same shape as the manifest's capabilities. */
export type Grant = Capabilities;

/** `default` values of a config schema's top-level properties. */
export function configDefaults(schema: Record<string, unknown> | undefined): Record<string, unknown> {
  const properties = schema?.properties;
  if (typeof properties !== 'object' || properties === null) return {};
  return Object.fromEntries(
    Object.entries(properties as Record<string, unknown>).flatMap(([key, p]) => (typeof p === 'object' && p !== null && 'default' in p ? [[key, structuredClone((p as { default: unknown }).default)]] : [])),
  );
}

/**
 * The manifest with its `{{ config.<key> }}` http entries replaced by the
 * origins of the configured URLs. An entry whose key is not configured (and has
 * no default) grants nothing. What the user consents to is the expanded list.
 */
export function expandConfigTemplates(manifest: Manifest, given: Record<string, unknown>): Manifest {
  const http = manifest.capabilities.http;
  if (!http?.some((entry) => configTemplate(entry) !== undefined)) return manifest;
  // Defaults count: a plugin loads with them filled in, so consent must cover their origins too.
  const config = { ...configDefaults(manifest.configSchema), ...given };
  const expanded = http.flatMap((entry) => {
    const key = configTemplate(entry);
    if (key === undefined) return [entry];
    const value = config[key];
    if (value === undefined) return [];
    const origin = typeof value === 'string' && URL.canParse(value) ? new URL(value) : undefined;
    if (!origin || (origin.protocol !== 'http:' && origin.protocol !== 'https:')) {
      throw new AirlockError('CONFIG_INVALID', `configuration for plugin \`${manifest.id}\`: \`${key}\` must be an http(s) URL (the plugin's http grant is taken from it), got ${JSON.stringify(value)}`, {
        plugin: manifest.id,
        hint: `Set \`${key}\` to a URL such as "https://api.example.com/v1".`,
      });
    }
    return [origin.origin];
  });
  return { ...manifest, capabilities: { ...manifest.capabilities, http: [...new Set(expanded)] } };
}

/** Capabilities asked for that a grant does not cover. */
export interface CapabilityDiff {
  storage: boolean;
  http: string[];
  env: string[];
  filesystem: { path: string; access: 'read-only' | 'read-write' }[];
  credentials: string[];
}

/** What `asked` holds beyond `granted`. */
export function capabilityDiff(asked: Capabilities, granted: Grant): CapabilityDiff {
  return {
    storage: !!asked.storage && !granted.storage,
    http: (asked.http ?? []).filter((o) => !granted.http?.some((g) => originCovers(g, o))),
    env: (asked.env ?? []).filter((n) => !granted.env?.some((g) => envCovers(g, n))),
    filesystem: (asked.filesystem ?? []).filter(
      (d) => !granted.filesystem?.some((g) => expandPath(g.path) === expandPath(d.path) && (g.access === 'read-write' || d.access === 'read-only')),
    ),
    credentials: (asked.credentials ?? []).filter((c) => !granted.credentials?.includes(c)),
  };
}

/** The items of a diff as people read them: `storage`, `http <origin>`, `env <NAME>`, `filesystem <path> (<access>)`, `credentials <id>`. */
export function diffItems(d: CapabilityDiff): string[] {
  return [
    ...(d.storage ? ['storage'] : []),
    ...d.http.map((o) => `http ${o}`),
    ...d.env.map((n) => `env ${n}`),
    ...d.filesystem.map((f) => `filesystem ${f.path} (${f.access})`),
    ...d.credentials.map((c) => `credentials ${c}`),
  ];
}

/**
 * Check that `grant` covers everything `manifest` asks for. Returns the
 * effective capabilities (what the manifest asks, as granted).
 */
export function effectiveCapabilities(manifest: Manifest, grant: Grant | 'manifest'): Capabilities {
  const asked = manifest.capabilities;
  if (grant === 'manifest') return asked;
  const missing = diffItems(capabilityDiff(asked, grant));
  if (missing.length > 0) {
    throw new AirlockError('CAPABILITY_NOT_GRANTED', `plugin \`${manifest.id}\` asks for ${missing.join(', ')}, which ${missing.length > 1 ? 'were' : 'was'} not granted`, {
      plugin: manifest.id,
      hint: `Grant it when loading (e.g. \`host.load(dir, { grant: { ${missing[0]!.split(' ')[0]}: … } })\`, or \`grant: 'manifest'\` to accept everything the manifest asks for).`,
    });
  }
  const storage = asked.storage && grant.storage ? { ...asked.storage } : undefined;
  if (storage && grant.storage?.quotaBytes !== undefined) storage.quotaBytes = Math.min(storage.quotaBytes ?? Infinity, grant.storage.quotaBytes);
  return { ...asked, ...(storage ? { storage } : {}) };
}

/** Whether a granted env pattern (`NAME` or `PREFIX_*`) covers a requested one. */
export function envCovers(granted: string, asked: string): boolean {
  if (granted === asked) return true;
  return granted.endsWith('*') && asked.startsWith(granted.slice(0, -1));
}

/** Whether a granted origin (`https://*.example.com` allowed) covers a requested origin or origin pattern. */
export function originCovers(granted: string, asked: string): boolean {
  if (granted === asked) return true;
  const g = /^(https?:\/\/)\*\.([^:]+)(:\d+)?$/.exec(granted);
  const a = /^(https?:\/\/)(?:\*\.)?([^:]+)(:\d+)?$/.exec(asked);
  if (!g || !a) return false;
  return g[1] === a[1] && (g[3] ?? '') === (a[3] ?? '') && a[2]!.endsWith(`.${g[2]}`);
}

/** Environment variables visible to a plugin: granted names (`NAME`) and prefixes (`PREFIX_*`). */
export function grantedEnv(patterns: readonly string[] | undefined, source: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  if (!patterns?.length) return env;
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p))) env[name] = value;
  }
  return env;
}

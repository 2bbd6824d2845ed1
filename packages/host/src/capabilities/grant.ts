/**
 * Grants: what the user consented to. The host enforces manifest ∩ grant and
 * refuses to load a plugin whose manifest asks for anything not granted.
 */
import { AirlockError } from '../errors.js';
import { configTemplate, type Capabilities, type Manifest } from '../manifest.js';
import { expandPath } from './filesystem.js';

/** What a user allowed a plugin to do. Same shape as the manifest's capabilities. */
export type Grant = Capabilities;

/**
 * The manifest with its `{{ config.<key> }}` http entries replaced by the
 * origins of the configured URLs. An entry whose key is not configured (and has
 * no default) grants nothing. What the user consents to is the expanded list.
 */
export function expandConfigTemplates(manifest: Manifest, config: Record<string, unknown>): Manifest {
  const http = manifest.capabilities.http;
  if (!http?.some((entry) => configTemplate(entry) !== undefined)) return manifest;
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

/**
 * Check that `grant` covers everything `manifest` asks for. Returns the
 * effective capabilities (what the manifest asks, as granted).
 */
export function effectiveCapabilities(manifest: Manifest, grant: Grant | 'manifest'): Capabilities {
  const asked = manifest.capabilities;
  if (grant === 'manifest') return asked;
  const missing: string[] = [];
  if (asked.storage && !grant.storage) missing.push('storage');
  for (const origin of asked.http ?? []) if (!grant.http?.some((g) => originCovers(g, origin))) missing.push(`http ${origin}`);
  for (const name of asked.env ?? []) if (!grant.env?.some((g) => envCovers(g, name))) missing.push(`env ${name}`);
  for (const dir of asked.filesystem ?? []) {
    const ok = grant.filesystem?.some((g) => expandPath(g.path) === expandPath(dir.path) && (g.access === 'read-write' || dir.access === 'read-only'));
    if (!ok) missing.push(`filesystem ${dir.path} (${dir.access})`);
  }
  for (const id of asked.credentials ?? []) if (!grant.credentials?.includes(id)) missing.push(`credentials ${id}`);
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

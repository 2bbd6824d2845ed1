/**
 * Capabilities for people: one line per thing a plugin may do, with the risky
 * ones marked, and the edits `airlock grant` / `airlock revoke` make to a
 * recorded grant.
 *
 * Risky: network access (http), environment variables, read-write
 * filesystem access and credentials (another plugin's sign-in). A risky line
 * starts with `!` (yellow where colors are on); without colors it also ends
 * with `(risky)`, so the mark survives copy, paste and NO_COLOR.
 */
import { expandConfigTemplates, type Capabilities, type CapabilityDiff, type Grant, type Manifest } from '@airlock/host';
import { PLUGIN_ID } from './args.js';
import { UsageError, type Painter } from './output.js';

export const CAPABILITY_NAMES = ['storage', 'http', 'env', 'filesystem', 'credentials'] as const;
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/** One thing a plugin may do. */
export interface CapabilityItem {
  capability: CapabilityName;
  value: string;
  risky: boolean;
}

/** The items of a grant, a manifest's capabilities, or what an update adds. */
export function capabilityItems(c: Capabilities | CapabilityDiff): CapabilityItem[] {
  const items: CapabilityItem[] = [];
  const storage = c.storage;
  if (storage) {
    const quota = typeof storage === 'object' && storage.quotaBytes !== undefined ? `, quota ${formatBytes(storage.quotaBytes)}` : '';
    items.push({ capability: 'storage', value: `private key-value store${quota}`, risky: false });
  }
  for (const origin of c.http ?? []) items.push({ capability: 'http', value: origin, risky: true });
  for (const name of c.env ?? []) items.push({ capability: 'env', value: name, risky: true });
  for (const dir of c.filesystem ?? []) items.push({ capability: 'filesystem', value: `${dir.path} (${dir.access})`, risky: dir.access === 'read-write' });
  for (const id of c.credentials ?? []) items.push({ capability: 'credentials', value: `sign-in of ${id}`, risky: true });
  return items;
}

/**
 * Capability lines, indented, for the stream `paint` colors. Nothing to show
 * gives one `(nothing)` line. A legend follows when a line is marked risky.
 */
export function capabilityLines(paint: Painter, items: CapabilityItem[], indent = '  '): string {
  if (items.length === 0) return `${indent}  ${paint.dim('(nothing)')}\n`;
  const width = Math.max(...items.map((i) => i.capability.length));
  const lines = items.map((i) => {
    const mark = i.risky ? paint.yellow(paint.bold('!')) : ' ';
    const suffix = i.risky && !paint.colors ? '  (risky)' : '';
    return `${indent}${mark} ${i.capability.padEnd(width)}  ${i.value}${suffix}\n`;
  });
  const legend = items.some((i) => i.risky) ? `${indent}${paint.dim('! risky: network, environment variables, writable files or a sign-in')}\n` : '';
  return lines.join('') + legend;
}

/**
 * The manifest's capabilities with `{{ config.<key> }}` http entries replaced
 * by the origin of the configured (or default) URL, as the host does before it
 * checks a grant; an entry with neither grants nothing and is left out.
 */
export function askedCapabilities(manifest: Manifest, config: Record<string, unknown>): Capabilities {
  return expandConfigTemplates(manifest, config).capabilities;
}

/** One item of a grant, as `airlock grant` and `airlock revoke` name it. */
export type GrantItem =
  | { capability: 'storage'; quotaBytes?: number }
  | { capability: 'http'; origin: string }
  | { capability: 'env'; name: string }
  | { capability: 'filesystem'; path: string; access: 'read-only' | 'read-write' }
  | { capability: 'credentials'; id: string };

const FORMS: Record<CapabilityName, string> = {
  storage: 'storage [quota, e.g. 1MiB]',
  http: 'http <origin>, e.g. https://api.example.com or https://*.example.com',
  env: 'env <NAME> or env <PREFIX_*>',
  filesystem: 'filesystem <path>[:read-write]',
  credentials: 'credentials <auth-plugin-id>',
};

/** Read `<capability> [value]` for `airlock grant` / `airlock revoke`; usage errors say the expected form. */
export function parseGrantItem(command: 'grant' | 'revoke', capability: string | undefined, value: string | undefined): GrantItem {
  if (capability === undefined || !(CAPABILITY_NAMES as readonly string[]).includes(capability)) {
    const what = capability === undefined ? 'name a capability' : `unknown capability \`${capability}\``;
    throw new UsageError(`${what}; \`airlock ${command} <id> <capability> [value]\` takes ${CAPABILITY_NAMES.join(', ')}`);
  }
  const name = capability as CapabilityName;
  const bad = (why: string) => new UsageError(`${why}; expected ${FORMS[name]}`);
  if (name === 'storage') {
    if (value === undefined || command === 'revoke') return { capability: 'storage' };
    return { capability: 'storage', quotaBytes: parseBytes(value) ?? throwError(bad(`\`${value}\` is not a quota`)) };
  }
  if (value === undefined || value === '') throw bad(`\`${name}\` needs a value`);
  switch (name) {
    case 'http':
      return { capability: 'http', origin: parseOrigin(value) ?? throwError(bad(`\`${value}\` is not an origin`)) };
    case 'env':
      if (!/^[A-Za-z_][A-Za-z0-9_]*\*?$/.test(value)) throw bad(`\`${value}\` is not an environment variable name`);
      return { capability: 'env', name: value };
    case 'filesystem': {
      const m = /^(.+?)(?::(read-only|read-write))?$/.exec(value)!;
      return { capability: 'filesystem', path: m[1]!, access: (m[2] as 'read-only' | 'read-write' | undefined) ?? 'read-only' };
    }
    case 'credentials':
      if (!PLUGIN_ID.test(value)) throw bad(`\`${value}\` is not a plugin id`);
      return { capability: 'credentials', id: value };
  }
}

function throwError(err: Error): never {
  throw err;
}

/** `https://api.example.com/v1` → its origin; wildcard origins and address ranges as given. */
function parseOrigin(value: string): string | undefined {
  if (/^https?:\/\/\*\.[a-z0-9.-]+(:\d{1,5})?$/i.test(value)) return value.toLowerCase();
  if (/^[0-9a-f.:]+\/\d{1,3}$/i.test(value)) return value.toLowerCase();
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

function parseBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

export function formatBytes(n: number): string {
  for (const [size, unit] of [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']] as const) {
    if (n >= size && n % (size / 1024) === 0) return `${+(n / size).toFixed(2)} ${unit}`;
  }
  return `${n} bytes`;
}

/** "http https://api.example.com": the item as a person reads it. */
export function describeItem(item: GrantItem): string {
  switch (item.capability) {
    case 'storage':
      return item.quotaBytes === undefined ? 'storage' : `storage (quota ${formatBytes(item.quotaBytes)})`;
    case 'http':
      return `http ${item.origin}`;
    case 'env':
      return `env ${item.name}`;
    case 'filesystem':
      return `filesystem ${item.path} (${item.access})`;
    case 'credentials':
      return `credentials ${item.id}`;
  }
}

/** The grant with `item` added (a filesystem path's access and the storage quota are replaced); whether it changed. */
export function addToGrant(grant: Grant, item: GrantItem): { grant: Grant; changed: boolean } {
  const next = structuredClone(grant);
  switch (item.capability) {
    case 'storage':
      next.storage = item.quotaBytes === undefined ? (next.storage ?? {}) : { ...next.storage, quotaBytes: item.quotaBytes };
      break;
    case 'http':
      next.http = unique([...(next.http ?? []), item.origin]);
      break;
    case 'env':
      next.env = unique([...(next.env ?? []), item.name]);
      break;
    case 'filesystem':
      next.filesystem = [...(next.filesystem ?? []).filter((d) => d.path !== item.path), { path: item.path, access: item.access }];
      break;
    case 'credentials':
      next.credentials = unique([...(next.credentials ?? []), item.id]);
      break;
  }
  return { grant: next, changed: JSON.stringify(next) !== JSON.stringify(grant) };
}

/**
 * The grant without `item`; whether it changed. Revoking `<path>:read-write`
 * from a read-write directory leaves it read-only; `<path>` alone removes it.
 */
export function removeFromGrant(grant: Grant, item: GrantItem, explicitAccess: boolean): { grant: Grant; changed: boolean } {
  const next = structuredClone(grant);
  const without = <T>(list: T[] | undefined, keep: (x: T) => boolean) => {
    const kept = (list ?? []).filter(keep);
    return kept.length ? kept : undefined;
  };
  switch (item.capability) {
    case 'storage':
      delete next.storage;
      break;
    case 'http':
      next.http = without(next.http, (o) => o !== item.origin);
      break;
    case 'env':
      next.env = without(next.env, (n) => n !== item.name);
      break;
    case 'filesystem':
      next.filesystem =
        explicitAccess && item.access === 'read-write'
          ? (next.filesystem ?? []).map((d) => (d.path === item.path ? { ...d, access: 'read-only' as const } : d))
          : without(next.filesystem, (d) => d.path !== item.path);
      if (next.filesystem?.length === 0) next.filesystem = undefined;
      break;
    case 'credentials':
      next.credentials = without(next.credentials, (c) => c !== item.id);
      break;
  }
  for (const key of Object.keys(next) as (keyof Grant)[]) if (next[key] === undefined) delete next[key];
  return { grant: next, changed: JSON.stringify(next) !== JSON.stringify(grant) };
}

const unique = <T>(list: T[]) => [...new Set(list)];

/**
 * Grants: what the user consented to. The host enforces manifest ∩ grant and
 * refuses to load a plugin whose manifest asks for anything not granted.
 */
import { AirlockError } from '../errors.js';
import { configTemplate, type Capabilities, type CredentialGrant, type HookPoint, type Manifest } from '../manifest.js';
import { credentialEntry, credentialsCapability } from './credentials.js';
import { envCapability } from './env.js';
import { eventsCapability } from './events.js';
import { interfacesCapability } from './interfaces.js';
import { hooksCapability } from './hooks.js';
import { filesystemCapability } from './filesystem.js';
import { httpCapability } from './http.js';
import { CAPABILITY_NAMES, type CapabilityItem, type CapabilityName, type CapabilitySpec, type GrantItem, type ItemOf } from './spec.js';
import { storageCapability } from './storage.js';

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
  /** Auth plugin ids, or credentials bound to origins (see {@link CredentialGrant}). */
  credentials: CredentialGrant[];
  events: { publish?: string[]; subscribe?: string[] };
  interfaces: string[];
  hooks: HookPoint[];
}

/** Each capability's module, which owns its wording, its grant rules and its enforcement. */
const SPECS: { [N in CapabilityName]: CapabilitySpec<N> } = {
  storage: storageCapability,
  http: httpCapability,
  env: envCapability,
  filesystem: filesystemCapability,
  credentials: credentialsCapability,
  events: eventsCapability,
  interfaces: interfacesCapability,
  hooks: hooksCapability,
};

/** The spec of `item`'s capability, typed for that item. */
const specOf = (item: GrantItem) => SPECS[item.capability] as unknown as CapabilitySpec<CapabilityName> & {
  covers(granted: unknown, item: GrantItem): boolean;
  add(granted: unknown, item: GrantItem): unknown;
  remove(granted: unknown, item: GrantItem, explicitAccess: boolean): unknown;
  describe(item: GrantItem): string;
  show(item: GrantItem): Omit<CapabilityItem, 'capability'>;
};

/** The items a grant, a manifest's capabilities, or a diff holds, in the order people read them. */
export function grantItems(c: Capabilities | CapabilityDiff): GrantItem[] {
  const storage = c.storage === true ? {} : c.storage === false ? undefined : c.storage;
  return [
    ...(storage ? storageCapability.items(storage) : []),
    ...(c.http ? httpCapability.items(c.http) : []),
    ...(c.env ? envCapability.items(c.env) : []),
    ...(c.filesystem ? filesystemCapability.items(c.filesystem) : []),
    ...(c.credentials ? credentialsCapability.items(c.credentials) : []),
    ...(c.events ? eventsCapability.items(c.events) : []),
    ...(c.interfaces ? interfacesCapability.items(c.interfaces) : []),
    ...(c.hooks ? hooksCapability.items(c.hooks) : []),
  ];
}

/** What a plugin may do, one line per item, worded for the person deciding (risky ones marked). */
export function capabilityItems(c: Capabilities | CapabilityDiff): CapabilityItem[] {
  return grantItems(c).map((item) => ({ capability: item.capability, ...specOf(item).show(item) }));
}

/** "http https://api.example.com": one item in one line. */
export const describeGrantItem = (item: GrantItem): string => specOf(item).describe(item);

/** What `asked` holds beyond `granted`. */
export function capabilityDiff(asked: Capabilities, granted: Grant): CapabilityDiff {
  const missing = grantItems(asked).filter((item) => !specOf(item).covers(granted[item.capability], item));
  const of = <N extends CapabilityName>(name: N) => missing.filter((i): i is ItemOf<N> => i.capability === name);
  return {
    storage: of('storage').length > 0,
    http: of('http').map((i) => i.origin),
    env: of('env').map((i) => i.name),
    filesystem: of('filesystem').map(({ path, access }) => ({ path, access })),
    credentials: of('credentials').map((i) => (i.inject ? { plugin: i.id, inject: i.inject } : i.id)),
    events: of('events').reduce<CapabilityDiff['events']>((acc, i) => ({ ...acc, [i.direction]: [...(acc[i.direction] ?? []), i.topic] }), {}),
    interfaces: of('interfaces').map((i) => i.id),
    hooks: of('hooks').map((i) => i.point),
  };
}

/** The items of a diff as people read them: `storage`, `http <origin>`, `env <NAME>`, `filesystem <path> (<access>)`, `credentials <id>`, `events publish:<topic>`. */
export function diffItems(d: CapabilityDiff): string[] {
  return grantItems(d).map(describeGrantItem);
}

/**
 * Read one grant item as written after a capability's name (`http
 * https://api.example.com`, `filesystem ~/notes:read-write`, `storage 1MiB`).
 * `revoke`: a storage quota is not needed to take storage back.
 */
export function parseGrantItem(capability: string, value: string | undefined, options: { revoke?: boolean } = {}): GrantItem {
  if (!(CAPABILITY_NAMES as readonly string[]).includes(capability)) {
    throw new AirlockError('GRANT_ITEM_INVALID', `unknown capability \`${capability}\``, { hint: `The capabilities are ${CAPABILITY_NAMES.join(', ')}.` });
  }
  const spec = SPECS[capability as CapabilityName];
  const needsValue = spec.name !== 'storage';
  const parsed = needsValue && (value === undefined || value === '') ? { problem: `\`${spec.name}\` needs a value` } : spec.parse(value, options.revoke ?? false);
  if ('problem' in parsed) throw new AirlockError('GRANT_ITEM_INVALID', `${parsed.problem}; expected ${spec.form}`, { hint: `Write it as ${spec.form}.` });
  return parsed;
}

/**
 * `item` as the plugin's manifest asks for it (`asked`: its capabilities,
 * config templates expanded). `airlock grant <id> credentials auth-x` grants
 * what the manifest asks: when it binds `auth-x` to origins, the grant is of
 * that binding, so a grant typed by hand never widens a bound credential into
 * the token itself. Other items are returned as they are.
 */
export function grantItemAsAsked(item: GrantItem, asked: Capabilities): GrantItem {
  if (item.capability !== 'credentials' || item.inject) return item;
  const entry = credentialEntry(asked.credentials, item.id);
  return entry === undefined || typeof entry === 'string' ? item : { capability: 'credentials', id: item.id, inject: [...entry.inject] };
}

const changedFrom = (grant: Grant, next: Grant) => ({ grant: next, changed: JSON.stringify(next) !== JSON.stringify(grant) });

/** The grant with `item` added (a directory's access and the storage quota are replaced); whether it changed. */
export function addToGrant(grant: Grant, item: GrantItem): { grant: Grant; changed: boolean } {
  return changedFrom(grant, { ...structuredClone(grant), [item.capability]: specOf(item).add(structuredClone(grant[item.capability]), item) });
}

/**
 * The grant without `item`; whether it changed. `explicitAccess`: the item
 * named its access, so revoking `<path>:read-write` leaves the directory
 * read-only, where `<path>` alone removes it.
 */
export function removeFromGrant(grant: Grant, item: GrantItem, explicitAccess = false): { grant: Grant; changed: boolean } {
  const next: Grant = { ...structuredClone(grant) };
  const left = specOf(item).remove(structuredClone(grant[item.capability]), item, explicitAccess);
  if (left === undefined) delete next[item.capability];
  else Object.assign(next, { [item.capability]: left });
  return changedFrom(grant, next);
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
      hint: `Grant it when loading (e.g. \`host.load(dir, { grant: { ${missing[0]!.split(' ')[0]}: … } })\`, or \`grant: 'manifest'\` to accept everything the manifest asks for); for an installed plugin, run \`airlock grant ${manifest.id} ${missing[0]}\`.`,
    });
  }
  const storage = asked.storage && grant.storage ? { ...asked.storage } : undefined;
  if (storage && grant.storage?.quotaBytes !== undefined) storage.quotaBytes = Math.min(storage.quotaBytes ?? Infinity, grant.storage.quotaBytes);
  return { ...asked, ...(storage ? { storage } : {}) };
}

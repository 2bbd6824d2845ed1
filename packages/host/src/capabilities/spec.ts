/**
 * What every capability module says about its capability, so that people see
 * one wording wherever a grant is shown or edited (install consent, `airlock
 * plugin info`, `airlock grant`, refusals) and the host checks one rule.
 */
import type { Capabilities, HookPoint } from '../manifest.js';

export const CAPABILITY_NAMES = ['storage', 'http', 'env', 'filesystem', 'credentials', 'events', 'interfaces', 'hooks'] as const;
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/** One thing a grant allows, as `airlock grant <id> <capability> [value]` names it. */
export type GrantItem =
  | { capability: 'storage'; quotaBytes?: number }
  | { capability: 'http'; origin: string }
  | { capability: 'env'; name: string }
  | { capability: 'filesystem'; path: string; access: 'read-only' | 'read-write' }
  | { capability: 'credentials'; id: string; inject?: string[] }
  | { capability: 'events'; direction: 'publish' | 'subscribe'; topic: string }
  | { capability: 'interfaces'; id: string }
  | { capability: 'hooks'; point: HookPoint };

/** One thing a plugin may do, worded for the person deciding whether to allow it. */
export interface CapabilityItem {
  capability: CapabilityName;
  value: string;
  /** Network access, environment variables, writable files, another plugin's sign-in, a hook on every tool call or chat. */
  risky: boolean;
}

export type ItemOf<N extends CapabilityName> = Extract<GrantItem, { capability: N }>;

export interface CapabilitySpec<N extends CapabilityName> {
  readonly name: N;
  /** How a value is written after the capability's name, for usage errors. */
  readonly form: string;
  /** The items a grant (or a manifest's capabilities) of this capability holds. */
  items(value: NonNullable<Capabilities[N]>): ItemOf<N>[];
  /** Whether `granted` allows `item`. */
  covers(granted: Capabilities[N], item: ItemOf<N>): boolean;
  /** `granted` with `item` added (an existing entry for the same thing is replaced). */
  add(granted: Capabilities[N], item: ItemOf<N>): NonNullable<Capabilities[N]>;
  /** `granted` without `item`; undefined when nothing is left. `explicitAccess`: the value named its access (`path:read-write`). */
  remove(granted: Capabilities[N], item: ItemOf<N>, explicitAccess: boolean): Capabilities[N];
  /** Read a written value (`airlock grant <id> <name> <value>`), or say what is wrong with it. */
  parse(value: string | undefined, revoke: boolean): ItemOf<N> | { problem: string };
  /** "http https://api.example.com": the item in one line. */
  describe(item: ItemOf<N>): string;
  /** The item for a person deciding whether to allow it. */
  show(item: ItemOf<N>): Omit<CapabilityItem, 'capability'>;
}

/** A list with `entry` added once. */
export const withEntry = <T>(list: readonly T[] | undefined, entry: T): T[] => [...new Set([...(list ?? []), entry])];

/** A list without the entries `drop` matches; undefined when nothing is left. */
export function withoutEntries<T>(list: readonly T[] | undefined, drop: (x: T) => boolean): T[] | undefined {
  const kept = (list ?? []).filter((x) => !drop(x));
  return kept.length > 0 ? kept : undefined;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

/** `1MiB`, `500kb`, `2048` → bytes; undefined when it is not a positive size. */
export function parseBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** 1048576 → `1 MiB`; sizes that are not whole KiB stay in bytes. */
export function formatBytes(n: number): string {
  for (const [size, unit] of [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']] as const) {
    if (n >= size && n % (size / 1024) === 0) return `${+(n / size).toFixed(2)} ${unit}`;
  }
  return `${n} bytes`;
}

/**
 * The `storage` host interface: per-plugin namespace, key and value limits,
 * byte quota. Errors are WIT `storage-error` variants the plugin can handle.
 */
import { AirlockError } from '../errors.js';
import type { StorageAdapter } from '../storage/adapter.js';
import type { HostReply } from '../sandbox/protocol.js';
import { formatBytes, parseBytes, type CapabilitySpec } from './spec.js';

export const STORAGE_DEFAULTS = {
  quotaBytes: 10 * 1024 * 1024,
  maxKeyBytes: 512,
  maxValueBytes: 1024 * 1024,
} as const;

const quotaText = (quotaBytes: number | undefined) => (quotaBytes === undefined ? '' : `quota ${formatBytes(quotaBytes)}`);

export const storageCapability: CapabilitySpec<'storage'> = {
  name: 'storage',
  form: 'storage [quota, e.g. 1MiB]',
  items: (s) => [{ capability: 'storage', ...(s.quotaBytes === undefined ? {} : { quotaBytes: s.quotaBytes }) }],
  covers: (granted) => granted !== undefined,
  add: (granted, item) => (item.quotaBytes === undefined ? (granted ?? {}) : { ...granted, quotaBytes: item.quotaBytes }),
  remove: () => undefined,
  parse(value, revoke) {
    if (value === undefined || revoke) return { capability: 'storage' };
    const quotaBytes = parseBytes(value);
    return quotaBytes === undefined ? { problem: `\`${value}\` is not a quota` } : { capability: 'storage', quotaBytes };
  },
  describe: (item) => (item.quotaBytes === undefined ? 'storage' : `storage (${quotaText(item.quotaBytes)})`),
  show: (item) => ({ value: ['private key-value store', quotaText(item.quotaBytes)].filter(Boolean).join(', '), risky: false }),
};

export interface StorageGrant {
  namespace: string;
  pluginId: string;
  /** Undefined when the plugin holds no storage grant. */
  quotaBytes: number | undefined;
}

const err = (tag: string, val: string): HostReply => ({ err: { tag, val } });

/** What is wrong with a key, or undefined when a plugin may use it. */
function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'key must be a non-empty string';
  if (Buffer.byteLength(key) > STORAGE_DEFAULTS.maxKeyBytes) return `key is longer than ${STORAGE_DEFAULTS.maxKeyBytes} bytes`;
  if (key.includes('\0')) return 'key contains a NUL character';
  return undefined;
}

/** One plugin's stored data, as the integrator reads and writes it (`host.storageOf(id)`). */
export interface PluginStorage {
  /** The value stored under `key`, or undefined. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Store `value` under `key`, replacing what was there. The plugin's quota does not apply. */
  set(key: string, value: Uint8Array): Promise<void>;
  /** Remove `key`; whether it was there. */
  delete(key: string): Promise<boolean>;
  /** Keys starting with `prefix` (default: all), in byte order. */
  keys(prefix?: string): Promise<string[]>;
  /** Bytes used (keys + values), as counted against the plugin's quota. */
  usage(): Promise<number>;
}

/** The integrator's view of one plugin's namespace. `check` runs before each operation (the host is open). */
export function pluginStorage(adapter: StorageAdapter, { namespace, pluginId }: Omit<StorageGrant, 'quotaBytes'>, check: () => void): PluginStorage {
  const validKey = (key: unknown): string => {
    check();
    const problem = keyProblem(key);
    if (problem) throw new AirlockError('STORAGE_FAILED', `storage of plugin \`${pluginId}\`: ${problem}, got ${JSON.stringify(key)}`, { plugin: pluginId, hint: 'Use the keys the plugin itself uses.' });
    return key as string;
  };
  return {
    get: async (key) => adapter.get(namespace, validKey(key)),
    async set(key, value) {
      validKey(key);
      if (!(value instanceof Uint8Array)) throw new AirlockError('STORAGE_FAILED', `storage of plugin \`${pluginId}\`: the value of ${key} must be a Uint8Array`, { plugin: pluginId, hint: 'Encode text with TextEncoder, JSON with JSON.stringify first.' });
      if (value.byteLength > STORAGE_DEFAULTS.maxValueBytes) {
        throw new AirlockError('STORAGE_FAILED', `storage of plugin \`${pluginId}\`: the value of ${key} has ${value.byteLength} bytes, over the limit of ${STORAGE_DEFAULTS.maxValueBytes}`, { plugin: pluginId });
      }
      await adapter.set(namespace, key, value, Number.MAX_SAFE_INTEGER);
    },
    delete: async (key) => adapter.delete(namespace, validKey(key)),
    async keys(prefix = '') {
      check();
      if (typeof prefix !== 'string') throw new AirlockError('STORAGE_FAILED', `storage of plugin \`${pluginId}\`: prefix must be a string`, { plugin: pluginId });
      return adapter.list(namespace, prefix);
    },
    async usage() {
      check();
      return adapter.usage(namespace);
    },
  };
}

export async function serveStorage(adapter: StorageAdapter, grant: StorageGrant, fn: string, args: unknown[]): Promise<HostReply> {
  if (grant.quotaBytes === undefined) {
    return err('denied', `plugin \`${grant.pluginId}\` holds no storage grant; add "storage": true to its manifest capabilities`);
  }
  const [key, value] = args;
  if (fn === 'list') {
    if (typeof key !== 'string') return err('invalid-key', 'prefix must be a string');
    return { ok: await adapter.list(grant.namespace, key) };
  }
  const problem = keyProblem(key);
  if (problem) return err('invalid-key', problem);
  const k = key as string;
  switch (fn) {
    case 'get':
      return { ok: await adapter.get(grant.namespace, k) };
    case 'delete':
      return { ok: await adapter.delete(grant.namespace, k) };
    case 'set': {
      if (!(value instanceof Uint8Array)) return err('internal', 'value must be bytes');
      if (value.byteLength > STORAGE_DEFAULTS.maxValueBytes) {
        return err('value-too-large', `value of ${value.byteLength} bytes exceeds the limit of ${STORAGE_DEFAULTS.maxValueBytes} bytes`);
      }
      const outcome = await adapter.set(grant.namespace, k, value, grant.quotaBytes);
      if (outcome === 'quota-exceeded') return err('quota-exceeded', `storing ${k} would exceed the plugin's quota of ${grant.quotaBytes} bytes`);
      return { ok: undefined };
    }
    default:
      return err('internal', `unknown storage function ${fn}`);
  }
}

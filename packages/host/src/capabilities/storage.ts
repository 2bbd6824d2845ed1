/**
 * The `storage` host interface: per-plugin namespace, key and value limits,
 * byte quota. Errors are WIT `storage-error` variants the plugin can handle.
 */
import type { StorageAdapter } from '../storage/adapter.js';
import type { HostReply } from '../sandbox/protocol.js';

export const STORAGE_DEFAULTS = {
  quotaBytes: 10 * 1024 * 1024,
  maxKeyBytes: 512,
  maxValueBytes: 1024 * 1024,
} as const;

export interface StorageGrant {
  namespace: string;
  pluginId: string;
  /** Undefined when the plugin holds no storage grant. */
  quotaBytes: number | undefined;
}

const err = (tag: string, val: string): HostReply => ({ err: { tag, val } });

export async function serveStorage(adapter: StorageAdapter, grant: StorageGrant, fn: string, args: unknown[]): Promise<HostReply> {
  if (grant.quotaBytes === undefined) {
    return err('denied', `plugin \`${grant.pluginId}\` holds no storage grant; add "storage": true to its manifest capabilities`);
  }
  const [key, value] = args;
  if (fn === 'list') {
    if (typeof key !== 'string') return err('invalid-key', 'prefix must be a string');
    return { ok: await adapter.list(grant.namespace, key) };
  }
  if (typeof key !== 'string' || key.length === 0) return err('invalid-key', 'key must be a non-empty string');
  if (Buffer.byteLength(key) > STORAGE_DEFAULTS.maxKeyBytes) return err('invalid-key', `key is longer than ${STORAGE_DEFAULTS.maxKeyBytes} bytes`);
  if (key.includes('\0')) return err('invalid-key', 'key contains a NUL character');
  switch (fn) {
    case 'get':
      return { ok: await adapter.get(grant.namespace, key) };
    case 'delete':
      return { ok: await adapter.delete(grant.namespace, key) };
    case 'set': {
      if (!(value instanceof Uint8Array)) return err('internal', 'value must be bytes');
      if (value.byteLength > STORAGE_DEFAULTS.maxValueBytes) {
        return err('value-too-large', `value of ${value.byteLength} bytes exceeds the limit of ${STORAGE_DEFAULTS.maxValueBytes} bytes`);
      }
      const outcome = await adapter.set(grant.namespace, key, value, grant.quotaBytes);
      if (outcome === 'quota-exceeded') return err('quota-exceeded', `storing ${key} would exceed the plugin's quota of ${grant.quotaBytes} bytes`);
      return { ok: undefined };
    }
    default:
      return err('internal', `unknown storage function ${fn}`);
  }
}

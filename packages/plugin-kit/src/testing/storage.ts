/** Plugin storage as a test sees it: values seeded and read as bytes, text or JSON. */
import type { PluginStorage } from '@airlock/host';

/** A value to store: bytes as they are, a string as UTF-8, anything else as JSON text. */
export type StorableValue = Uint8Array | string | number | boolean | null | object;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes a plugin reads for `value` (what `storage.getText` / `storage.getJson` then decode). */
export function encodeValue(value: StorableValue): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return encoder.encode(value);
  return encoder.encode(JSON.stringify(value));
}

/** One plugin's storage, through the host. */
export interface TestStorage {
  /** The raw bytes stored under `key`, or undefined. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** The value as UTF-8 text, or undefined. */
  getText(key: string): Promise<string | undefined>;
  /** The value parsed as JSON, or undefined. */
  getJson<T = unknown>(key: string): Promise<T | undefined>;
  /** Keys starting with `prefix` (default: all), in byte order. */
  keys(prefix?: string): Promise<string[]>;
  /** Store a value (bytes as they are, a string as UTF-8, anything else as JSON). */
  set(key: string, value: StorableValue): Promise<void>;
  /** Remove a key; whether it was there. */
  delete(key: string): Promise<boolean>;
  /** Bytes used, as counted against the plugin's quota. */
  usage(): Promise<number>;
}

/** A TestStorage over `storage()`, asked anew on each call (the host changes on restart). */
export function testStorage(storage: () => PluginStorage): TestStorage {
  const text = async (key: string) => {
    const bytes = await storage().get(key);
    return bytes === undefined ? undefined : decoder.decode(bytes);
  };
  return {
    get: (key) => storage().get(key),
    getText: text,
    async getJson<T>(key: string) {
      const t = await text(key);
      return t === undefined ? undefined : (JSON.parse(t) as T);
    },
    keys: (prefix) => storage().keys(prefix),
    set: (key, value) => storage().set(key, encodeValue(value)),
    delete: (key) => storage().delete(key),
    usage: () => storage().usage(),
  };
}

/**
 * A storage adapter that keeps everything in memory and forgets it: what a
 * trial start (checking a package before it is installed) writes to, so a
 * package under test never sees, nor leaves anything in, real plugin data.
 */
import type { StorageAdapter } from './adapter.js';

export function memoryStorage(): StorageAdapter {
  const spaces = new Map<string, Map<string, Uint8Array>>();
  const space = (ns: string) => {
    let s = spaces.get(ns);
    if (!s) spaces.set(ns, (s = new Map()));
    return s;
  };
  const usage = (ns: string) => [...space(ns)].reduce((n, [k, v]) => n + Buffer.byteLength(k) + v.byteLength, 0);
  return {
    get: (ns, key) => space(ns).get(key),
    set(ns, key, value, quotaBytes) {
      const s = space(ns);
      const before = s.has(key) ? Buffer.byteLength(key) + s.get(key)!.byteLength : 0;
      const after = Buffer.byteLength(key) + value.byteLength;
      if (after > before && usage(ns) - before + after > quotaBytes) return 'quota-exceeded';
      s.set(key, value.slice());
      return 'ok';
    },
    delete: (ns, key) => space(ns).delete(key),
    list: (ns, prefix) => [...space(ns).keys()].filter((k) => k.startsWith(prefix)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    usage,
    clear(ns) {
      const n = space(ns).size;
      spaces.delete(ns);
      return n;
    },
    namespaces: () => [...spaces].filter(([, s]) => s.size > 0).map(([ns]) => ns),
    close() {
      spaces.clear();
    },
  };
}

/**
 * The embedded storage adapter: one SQLite file in WAL mode under the host
 * home (`node:sqlite`). Writes are transactional, so a crash never leaves a
 * half-written value or a usage count that disagrees with the data.
 */
import { openDatabase, transaction, type DatabaseRole } from './database.js';
import type { StorageAdapter } from './adapter.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (ns, key)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS usage (ns TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
`;

/** `<home>/storage.db`, as its errors describe it. */
export const STORAGE_DB: DatabaseRole = { holds: "the plugins' stored data", lossIfReset: 'every plugin starts again with empty storage' };

export function openSqliteStorage(file: string): StorageAdapter {
  const db = openDatabase(file, { ...STORAGE_DB, synchronous: 'NORMAL', schema: SCHEMA });
  const q = {
    get: db.prepare('SELECT value FROM kv WHERE ns = ? AND key = ?'),
    size: db.prepare('SELECT length(CAST(key AS BLOB)) + length(value) AS n FROM kv WHERE ns = ? AND key = ?'),
    put: db.prepare('INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value'),
    del: db.prepare('DELETE FROM kv WHERE ns = ? AND key = ?'),
    list: db.prepare('SELECT key FROM kv WHERE ns = :ns AND key >= :prefix AND substr(key, 1, length(:prefix)) = :prefix ORDER BY key'),
    usage: db.prepare('SELECT bytes FROM usage WHERE ns = ?'),
    addUsage: db.prepare('INSERT INTO usage (ns, bytes) VALUES (:ns, :delta) ON CONFLICT (ns) DO UPDATE SET bytes = bytes + :delta'),
    clearKv: db.prepare('DELETE FROM kv WHERE ns = ?'),
    clearUsage: db.prepare('DELETE FROM usage WHERE ns = ?'),
    namespaces: db.prepare('SELECT DISTINCT ns FROM kv ORDER BY ns'),
  };
  let open = true;
  const usage = (ns: string) => (q.usage.get(ns)?.bytes as number | undefined) ?? 0;
  const sizeOf = (ns: string, key: string) => q.size.get(ns, key)?.n as number | undefined;

  const set = transaction(db, (ns: string, key: string, value: Uint8Array, quotaBytes: number): 'ok' | 'quota-exceeded' => {
    const before = sizeOf(ns, key) ?? 0;
    const after = Buffer.byteLength(key) + value.byteLength;
    if (after > before && usage(ns) - before + after > quotaBytes) return 'quota-exceeded';
    q.put.run(ns, key, value);
    q.addUsage.run({ ns, delta: after - before });
    return 'ok';
  });
  const del = transaction(db, (ns: string, key: string): boolean => {
    const before = sizeOf(ns, key);
    if (before === undefined) return false;
    q.del.run(ns, key);
    q.addUsage.run({ ns, delta: -before });
    return true;
  });

  // One transaction: a namespace is either whole or gone, with its usage count.
  const clear = transaction(db, (ns: string): number => {
    const n = Number(q.clearKv.run(ns).changes);
    q.clearUsage.run(ns);
    return n;
  });

  return {
    get: (ns, key) => q.get.get(ns, key)?.value as Uint8Array | undefined,
    set,
    delete: del,
    list: (ns, prefix) => q.list.all({ ns, prefix }).map((row) => row.key as string),
    usage,
    clear,
    namespaces: () => q.namespaces.all().map((row) => row.ns as string),
    close() {
      if (open) db.close();
      open = false;
    },
  };
}

/**
 * The embedded storage adapter: one SQLite file in WAL mode under the host
 * home. Writes are transactional, so a crash never leaves a half-written value
 * or a usage count that disagrees with the data.
 */
import Database from 'better-sqlite3';
import type { StorageAdapter } from './adapter.js';

export function openSqliteStorage(file: string): StorageAdapter {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(`
    CREATE TABLE IF NOT EXISTS kv (
      ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
      PRIMARY KEY (ns, key)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS usage (ns TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
  `);
  const q = {
    get: db.prepare<[string, string], { value: Buffer }>('SELECT value FROM kv WHERE ns = ? AND key = ?'),
    size: db.prepare<[string, string], { n: number }>('SELECT length(CAST(key AS BLOB)) + length(value) AS n FROM kv WHERE ns = ? AND key = ?'),
    put: db.prepare<[string, string, Buffer]>('INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value'),
    del: db.prepare<[string, string]>('DELETE FROM kv WHERE ns = ? AND key = ?'),
    list: db.prepare<[{ ns: string; prefix: string }], { key: string }>(
      'SELECT key FROM kv WHERE ns = @ns AND key >= @prefix AND substr(key, 1, length(@prefix)) = @prefix ORDER BY key',
    ),
    usage: db.prepare<[string], { bytes: number }>('SELECT bytes FROM usage WHERE ns = ?'),
    addUsage: db.prepare<[{ ns: string; delta: number }]>('INSERT INTO usage (ns, bytes) VALUES (@ns, @delta) ON CONFLICT (ns) DO UPDATE SET bytes = bytes + @delta'),
  };
  const usage = (ns: string) => q.usage.get(ns)?.bytes ?? 0;

  const set = db.transaction((ns: string, key: string, value: Uint8Array, quotaBytes: number): 'ok' | 'quota-exceeded' => {
    const before = q.size.get(ns, key)?.n ?? 0;
    const after = Buffer.byteLength(key) + value.byteLength;
    if (after > before && usage(ns) - before + after > quotaBytes) return 'quota-exceeded';
    q.put.run(ns, key, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    q.addUsage.run({ ns, delta: after - before });
    return 'ok';
  });
  const del = db.transaction((ns: string, key: string): boolean => {
    const before = q.size.get(ns, key)?.n;
    if (before === undefined) return false;
    q.del.run(ns, key);
    q.addUsage.run({ ns, delta: -before });
    return true;
  });

  return {
    get(ns, key) {
      const row = q.get.get(ns, key);
      return row ? new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength) : undefined;
    },
    set,
    delete: del,
    list: (ns, prefix) => q.list.all({ ns, prefix }).map((r) => r.key),
    usage,
    close() {
      db.close();
    },
  };
}

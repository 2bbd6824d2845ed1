/**
 * The audit log: an append-only record of what plugins did with their
 * capabilities, allowed or refused. One row per use: which plugin, during
 * which call, which capability, what (an origin and path, a file, a variable,
 * an auth plugin), the action, and the outcome.
 *
 * Kept in `<home>/audit.db` (SQLite, WAL), so every process on a home (a
 * server, the CLI) writes to and reads the same record. Rows are buffered
 * and written together at most 200 ms after they happen (a crash loses at
 * most that much); `close()` and every query write what is buffered first.
 * Bounded: past `maxRecords` rows, the oldest are deleted as new ones come.
 * Secrets never reach it: every text is masked first, and URLs lose their
 * query strings.
 */
import { join } from 'node:path';
import { openDatabase, transaction, type DatabaseRole, type DatabaseSync } from './storage/database.js';

export type AuditCapability = 'http' | 'filesystem' | 'env' | 'credentials' | 'storage' | 'events' | 'interfaces' | 'hooks';

/** One use of a capability. */
export interface AuditRecord {
  /** Increasing: the order records were written in. */
  seq: number;
  /** Epoch milliseconds. */
  at: number;
  plugin: string;
  /** The call it happened in (`tool add_note`, `provider.chat-stream`, `start`), when known. */
  call: string | undefined;
  capability: AuditCapability;
  /** `GET`, `POST`, `receive` (http); `read`, `write`, `create-directory`, `remove`, `rename` (filesystem); `expose` (env); `get-token`, `signed-in`, `inject` (credentials: `inject` is the host adding a bound credential to a request, its target the origin); `publish` (events); `set`, `delete` (storage: only writes refused by a quota); the hook point (`before-tool-call`…, hooks: a hook's verdict on a call). */
  action: string;
  /** What it was used on: `https://api.example.com/v1/items` (no query), a file path, a variable name, an auth plugin id, an event topic, a tool's qualified name or a provider id (hooks). */
  target: string;
  /** `rewritten`: a hook let the call go ahead with what it rewrote. */
  outcome: 'allowed' | 'refused' | 'rewritten';
  /** Why it was refused, or how an allowed use failed. */
  detail: string | undefined;
}

export type AuditEntry = Omit<AuditRecord, 'seq' | 'at'> & { at?: number };

export interface AuditQuery {
  plugin?: string;
  capability?: AuditCapability;
  outcome?: AuditRecord['outcome'];
  /** Epoch milliseconds, inclusive. */
  since?: number;
  until?: number;
  /** Most records returned, newest kept (default 1,000, at most 100,000). */
  limit?: number;
}

export interface AuditOptions {
  /** Rows kept; older ones are deleted as new ones come. Default 100,000. */
  maxRecords?: number;
}

export const AUDIT_DB: DatabaseRole = { holds: 'the audit log of capability use', lossIfReset: 'the audit history so far is lost' };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  plugin TEXT NOT NULL,
  call TEXT,
  capability TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_plugin_at ON audit (plugin, at);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
`;

const FLUSH_MS = 200;
const FLUSH_AT = 512;
/** Longest text kept in a field: a target or detail is a path or a reason, not a payload. */
const MAX_TEXT = 512;

const cut = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);

/** A URL as the audit log keeps it: no query string or fragment, which may carry keys. */
export function auditUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

export class AuditLog {
  readonly #db: DatabaseSync;
  readonly #scrub: (text: string) => string;
  readonly #warn: (message: string) => void;
  readonly #maxRecords: number;
  readonly #insert: ReturnType<DatabaseSync['prepare']>;
  readonly #trim: ReturnType<DatabaseSync['prepare']>;
  readonly #write: () => void;
  #buffer: AuditEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /** `scrub` masks known secrets; `warn` hears of records that could not be written (they are dropped: a plugin's call never fails for the log). */
  constructor(home: string, scrub: (text: string) => string, warn: (message: string) => void, options: AuditOptions = {}) {
    this.#db = openDatabase(join(home, 'audit.db'), { ...AUDIT_DB, synchronous: 'NORMAL', schema: SCHEMA });
    this.#scrub = scrub;
    this.#warn = warn;
    this.#maxRecords = Math.max(1, Math.floor(options.maxRecords ?? 100_000));
    this.#insert = this.#db.prepare('INSERT INTO audit (at, plugin, call, capability, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.#trim = this.#db.prepare('DELETE FROM audit WHERE seq <= (SELECT max(seq) FROM audit) - ?');
    this.#write = transaction(this.#db, () => {
      const rows = this.#buffer;
      this.#buffer = [];
      for (const r of rows) {
        this.#insert.run(r.at ?? Date.now(), r.plugin, r.call ?? null, r.capability, r.action, cut(this.#scrub(r.target)), r.outcome, r.detail === undefined ? null : cut(this.#scrub(r.detail)));
      }
      this.#trim.run(this.#maxRecords);
    });
  }

  /** Note one use; written within 200 ms. */
  record(entry: AuditEntry): void {
    if (this.#closed) return;
    this.#buffer.push(entry.at === undefined ? { ...entry, at: Date.now() } : entry);
    if (this.#buffer.length >= FLUSH_AT) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Write what is buffered now. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buffer.length === 0 || this.#closed) return;
    try {
      this.#write();
    } catch (err) {
      this.#buffer = [];
      this.#warn(`audit records could not be written to audit.db and were dropped: ${(err as Error).message}`);
    }
  }

  /** The records that match, oldest first (the newest `limit` of them). */
  query(q: AuditQuery = {}): AuditRecord[] {
    this.flush();
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.plugin !== undefined) (where.push('plugin = ?'), args.push(q.plugin));
    if (q.capability !== undefined) (where.push('capability = ?'), args.push(q.capability));
    if (q.outcome !== undefined) (where.push('outcome = ?'), args.push(q.outcome));
    if (q.since !== undefined) (where.push('at >= ?'), args.push(q.since));
    if (q.until !== undefined) (where.push('at <= ?'), args.push(q.until));
    const limit = Math.min(Math.max(1, Math.floor(q.limit ?? 1000)), 100_000);
    const rows = this.#db
      .prepare(`SELECT * FROM (SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?) ORDER BY seq`)
      .all(...args, limit) as unknown as (Omit<AuditRecord, 'call' | 'detail'> & { call: string | null; detail: string | null })[];
    return rows.map((r) => ({ ...r, call: r.call ?? undefined, detail: r.detail ?? undefined }));
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#db.close();
  }
}

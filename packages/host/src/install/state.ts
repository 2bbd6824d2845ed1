/**
 * What is installed, in SQLite next to the plugin data: one row per plugin
 * with its version, whether it is enabled, what the user granted, its
 * configuration, and the hashes recorded at install. Every change is one
 * transaction, so the row is the commit point of an install or update: a
 * crash before it leaves the old row, after it the new one. The file is synced
 * fully on commit: a lost commit would orphan the files it names.
 *
 * Who owns stored data is recorded here too (`data_owners`), so that the
 * installed row and the ownership of the data it uses change in one
 * transaction. A row names a storage namespace, the plugin id it was stored
 * under, and its owner: the package name and signing key id (null: unsigned)
 * of the package that wrote it; `kept_since` is null while the installed
 * plugin with that id is that package. A plugin id may have several rows
 * (data kept for a removed or replaced package, next to the data of the one
 * installed now); a package has at most one per id. The first row of an id
 * uses the id itself as its namespace (where host 0.1 stored it), later ones
 * `<id>~<random>`. Data is never moved or copied: handing it to another
 * package changes the owner of its row, and purging marks the rows
 * (`purging`) in the same transaction that removes the plugin, then deletes
 * the data, then the rows, so a purge cut short is finished at the next open.
 */
import type { StatementSync } from 'node:sqlite';
import { openDatabase, transaction, type DatabaseRole, type DatabaseSync } from '../storage/database.js';
import type { Grant } from '../capabilities/grant.js';
import type { PluginKind } from '../manifest.js';

/** The signature status recorded at install. */
export type SignatureRecord = { status: 'signed'; keyId: string } | { status: 'unsigned' } | { status: 'untrusted'; keyId: string };

export interface InstalledPlugin {
  id: string;
  name: string;
  version: string;
  kind: PluginKind;
  /** Where it was installed from, as given (`npm:@acme/weather@^1`, a path, a git URL). */
  source: string;
  enabled: boolean;
  grant: Grant;
  config: Record<string, unknown>;
  /** sha256 of the component, checked at every load. */
  componentSha256: string;
  /** sha256 of the canonical manifest (`name`, `version`, `airlock`). */
  manifestSha256: string;
  signature: SignatureRecord;
  /** Other plugins it requires, by id, with their version ranges. */
  requires: Record<string, string>;
  /**
   * A tool plugin's tools and their risk levels, as its trial listed them at
   * install or update, so `verify` can weigh them against the grant without
   * starting the plugin. Undefined for a plugin installed before they were
   * recorded (host 0.1) until it is updated.
   */
  tools?: { name: string; risk: string }[];
  installedAt: number;
  updatedAt: number;
}

/**
 * The package that owns stored data: its name and the id of the key that
 * signed it (null: unsigned). `package` is null for data stored before
 * owners were recorded (host 0.1), whose owner is unknown.
 */
export interface DataOwner {
  package: string | null;
  keyId: string | null;
}

/** One owner's data under one plugin id, as recorded (sizes live in the storage adapter). */
export interface DataSlot {
  /** The storage namespace that holds it. */
  namespace: string;
  /** The plugin id it was stored under. */
  id: string;
  owner: DataOwner;
  createdAt: number;
  /** When it stopped being used by an installed plugin; null while the installed plugin `id` owns it. */
  keptSince: number | null;
}

/** The owner of an installed plugin's data: its package name and signing key. */
export const ownerOfPlugin = (p: Pick<InstalledPlugin, 'name' | 'signature'>): DataOwner => ({ package: p.name, keyId: p.signature.status === 'unsigned' ? null : p.signature.keyId });

export const sameOwner = (a: DataOwner, b: DataOwner): boolean => a.package !== null && a.package === b.package && a.keyId === b.keyId;

interface SlotRow {
  namespace: string;
  id: string;
  package: string | null;
  key_id: string | null;
  created_at: number;
  kept_since: number | null;
  purging: number;
}

const toSlot = (r: SlotRow): DataSlot => ({
  namespace: r.namespace,
  id: r.id,
  owner: { package: r.package, keyId: r.key_id },
  createdAt: r.created_at,
  keptSince: r.kept_since,
});

interface Row {
  id: string;
  name: string;
  version: string;
  kind: string;
  source: string;
  enabled: number;
  grant_json: string;
  config_json: string;
  component_sha256: string;
  manifest_sha256: string;
  signature_json: string;
  requires_json: string;
  tools_json: string | null;
  installed_at: number;
  updated_at: number;
}

const toPlugin = (r: Row): InstalledPlugin => ({
  id: r.id,
  name: r.name,
  version: r.version,
  kind: r.kind as PluginKind,
  source: r.source,
  enabled: r.enabled === 1,
  grant: JSON.parse(r.grant_json) as Grant,
  config: JSON.parse(r.config_json) as Record<string, unknown>,
  componentSha256: r.component_sha256,
  manifestSha256: r.manifest_sha256,
  signature: JSON.parse(r.signature_json) as SignatureRecord,
  requires: JSON.parse(r.requires_json) as Record<string, string>,
  ...(r.tools_json === null ? {} : { tools: JSON.parse(r.tools_json) as { name: string; risk: string }[] }),
  installedAt: r.installed_at,
  updatedAt: r.updated_at,
});

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS installed (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    grant_json TEXT NOT NULL,
    config_json TEXT NOT NULL,
    component_sha256 TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    signature_json TEXT NOT NULL,
    requires_json TEXT NOT NULL,
    installed_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    tools_json TEXT
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS data_owners (
    namespace TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    package TEXT,
    key_id TEXT,
    created_at INTEGER NOT NULL,
    kept_since INTEGER,
    purging INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS data_owners_by_id ON data_owners (id);
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
`;

/** Set in `meta` once the owners of data stored before owners were recorded have been recorded. */
const OWNERS_RECORDED = 'owners-recorded';

/** `<home>/state.db`, as its errors describe it. */
export const STATE_DB: DatabaseRole = {
  holds: 'the list of installed plugins, their grants and configuration',
  lossIfReset:
    'installed plugins must be added again; their stored data stays in storage.db, but with no record of the packages that own it, a plugin gets it back only when added with --keep-data',
};

export class InstallState {
  readonly #db: DatabaseSync;
  #open = true;
  readonly #q: Record<'get' | 'all' | 'put' | 'delete', StatementSync>;
  readonly #o: Record<'all' | 'byId' | 'byOwner' | 'at' | 'insert' | 'owner' | 'kept' | 'remove' | 'purge' | 'purging' | 'flag' | 'setFlag', StatementSync>;

  constructor(file: string) {
    this.#db = openDatabase(file, { ...STATE_DB, synchronous: 'FULL', schema: SCHEMA });
    // Homes made before tools were recorded gain the column (NULL: not recorded); a host of that time still reads and writes them.
    const columns = this.#db.prepare('SELECT name FROM pragma_table_info(?)').all('installed') as { name: string }[];
    if (!columns.some((c) => c.name === 'tools_json')) this.#db.exec('ALTER TABLE installed ADD COLUMN tools_json TEXT');
    this.#q = {
      get: this.#db.prepare('SELECT * FROM installed WHERE id = ?'),
      all: this.#db.prepare('SELECT * FROM installed ORDER BY id'),
      put: this.#db.prepare(`
        INSERT INTO installed (id, name, version, kind, source, enabled, grant_json, config_json, component_sha256,
          manifest_sha256, signature_json, requires_json, installed_at, updated_at, tools_json)
        VALUES (:id, :name, :version, :kind, :source, :enabled, :grant_json, :config_json,
          :component_sha256, :manifest_sha256, :signature_json, :requires_json, :installed_at, :updated_at, :tools_json)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, kind = excluded.kind,
          source = excluded.source, enabled = excluded.enabled, grant_json = excluded.grant_json,
          config_json = excluded.config_json, component_sha256 = excluded.component_sha256,
          manifest_sha256 = excluded.manifest_sha256, signature_json = excluded.signature_json,
          requires_json = excluded.requires_json, updated_at = excluded.updated_at, tools_json = excluded.tools_json`),
      delete: this.#db.prepare('DELETE FROM installed WHERE id = ?'),
    };
    // In use first, then the most recently kept.
    const order = 'ORDER BY id, kept_since IS NOT NULL, kept_since DESC, created_at DESC, namespace';
    this.#o = {
      all: this.#db.prepare(`SELECT * FROM data_owners WHERE purging = 0 ${order}`),
      byId: this.#db.prepare(`SELECT * FROM data_owners WHERE purging = 0 AND id = ? ${order}`),
      byOwner: this.#db.prepare('SELECT * FROM data_owners WHERE purging = 0 AND id = :id AND package = :package AND key_id IS :key_id'),
      at: this.#db.prepare('SELECT * FROM data_owners WHERE namespace = ?'),
      insert: this.#db.prepare('INSERT INTO data_owners (namespace, id, package, key_id, created_at, kept_since) VALUES (:namespace, :id, :package, :key_id, :created_at, :kept_since)'),
      owner: this.#db.prepare('UPDATE data_owners SET package = :package, key_id = :key_id WHERE namespace = :namespace'),
      kept: this.#db.prepare('UPDATE data_owners SET kept_since = :kept_since WHERE namespace = :namespace'),
      remove: this.#db.prepare('DELETE FROM data_owners WHERE namespace = ?'),
      purge: this.#db.prepare('UPDATE data_owners SET purging = 1 WHERE id = :id AND purging = 0 AND namespace != :keep RETURNING *'),
      purging: this.#db.prepare('SELECT * FROM data_owners WHERE purging = 1 ORDER BY namespace'),
      flag: this.#db.prepare('SELECT value FROM meta WHERE key = ?'),
      setFlag: this.#db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** Run `fn` as one transaction: every change it makes is committed together, or none is. */
  atomic<T>(fn: () => T): T {
    return transaction(this.#db, fn)();
  }

  /** The recorded data of plugin `id` (or of every id), not being purged: in use first, then the most recently kept. */
  slots(id?: string): DataSlot[] {
    return ((id === undefined ? this.#o.all.all() : this.#o.byId.all(id)) as unknown as SlotRow[]).map(toSlot);
  }

  /** The data `owner` has under plugin `id`, if any. */
  slotOf(id: string, owner: DataOwner): DataSlot | undefined {
    if (owner.package === null) return undefined;
    const row = this.#o.byOwner.get({ id, package: owner.package, key_id: owner.keyId }) as SlotRow | undefined;
    return row ? toSlot(row) : undefined;
  }

  /** The row of a namespace, being purged or not: a namespace with a row is taken. */
  slotAt(namespace: string): (DataSlot & { purging: boolean }) | undefined {
    const row = this.#o.at.get(namespace) as SlotRow | undefined;
    return row ? { ...toSlot(row), purging: row.purging === 1 } : undefined;
  }

  addSlot(slot: DataSlot): void {
    this.#o.insert.run({ namespace: slot.namespace, id: slot.id, package: slot.owner.package, key_id: slot.owner.keyId, created_at: slot.createdAt, kept_since: slot.keptSince });
  }

  /** Hand the data in `namespace` to another owner. */
  setOwner(namespace: string, owner: DataOwner): void {
    this.#o.owner.run({ namespace, package: owner.package, key_id: owner.keyId });
  }

  /** Mark data in use (null) or kept since `at`. */
  setKeptSince(namespace: string, at: number | null): void {
    this.#o.kept.run({ namespace, kept_since: at });
  }

  deleteSlot(namespace: string): void {
    this.#o.remove.run(namespace);
  }

  /** Mark the rows of plugin `id` (but the one of namespace `keep`) as being purged: no load uses them from now on. The rows marked. */
  markPurging(id: string, keep?: string): DataSlot[] {
    return (this.#o.purge.all({ id, keep: keep ?? '' }) as unknown as SlotRow[]).map(toSlot);
  }

  /** Rows marked for purging whose data may not be deleted yet. */
  purging(): DataSlot[] {
    return (this.#o.purging.all() as unknown as SlotRow[]).map(toSlot);
  }

  /** Whether the owners of data stored before owners were recorded still need recording. */
  ownersUnrecorded(): boolean {
    return this.#o.flag.get(OWNERS_RECORDED) === undefined;
  }

  /**
   * Once per home: record an owner for every namespace that holds data and has
   * none. Data under an installed plugin's id belongs to that plugin; any other
   * (a plugin removed under host 0.1) to an unknown owner, so that no package
   * gets it without being handed it. `namespaces` are the ones the storage
   * adapter holds data in (empty when it cannot say).
   */
  recordOwners(namespaces: string[], now: number): void {
    this.atomic(() => {
      if (!this.ownersUnrecorded()) return;
      for (const p of this.list()) {
        if (!this.slotAt(p.id) && !this.slotOf(p.id, ownerOfPlugin(p))) this.addSlot({ namespace: p.id, id: p.id, owner: ownerOfPlugin(p), createdAt: now, keptSince: null });
      }
      for (const ns of namespaces) {
        if (!this.slotAt(ns)) this.addSlot({ namespace: ns, id: ns.split('~')[0]!, owner: { package: null, keyId: null }, createdAt: now, keptSince: now });
      }
      this.#o.setFlag.run(OWNERS_RECORDED, String(now));
    });
  }

  get(id: string): InstalledPlugin | undefined {
    const row = this.#q.get.get(id) as Row | undefined;
    return row ? toPlugin(row) : undefined;
  }

  list(): InstalledPlugin[] {
    return (this.#q.all.all() as unknown as Row[]).map(toPlugin);
  }

  /** Insert or replace a plugin's row (the commit point of an install or update). */
  put(p: InstalledPlugin): void {
    this.#q.put.run({
      id: p.id,
      name: p.name,
      version: p.version,
      kind: p.kind,
      source: p.source,
      enabled: p.enabled ? 1 : 0,
      grant_json: JSON.stringify(p.grant),
      config_json: JSON.stringify(p.config),
      component_sha256: p.componentSha256,
      manifest_sha256: p.manifestSha256,
      signature_json: JSON.stringify(p.signature),
      requires_json: JSON.stringify(p.requires),
      installed_at: p.installedAt,
      updated_at: p.updatedAt,
      tools_json: p.tools === undefined ? null : JSON.stringify(p.tools),
    });
  }

  /** Change some fields of an installed plugin. */
  update(id: string, change: Partial<Pick<InstalledPlugin, 'enabled' | 'grant' | 'config'>>): InstalledPlugin | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    const next = { ...current, ...change, updatedAt: Date.now() };
    this.put(next);
    return next;
  }

  delete(id: string): boolean {
    return Number(this.#q.delete.run(id).changes) > 0;
  }

  close(): void {
    if (this.#open) this.#db.close();
    this.#open = false;
  }
}

/**
 * What is installed, in SQLite next to the plugin data: one row per plugin
 * with its version, whether it is enabled, what the user granted, its
 * configuration, and the hashes recorded at install. Every change is one
 * transaction, so the row is the commit point of an install or update: a
 * crash before it leaves the old row, after it the new one. The file is synced
 * fully on commit: a lost commit would orphan the files it names.
 */
import type { StatementSync } from 'node:sqlite';
import { openDatabase, type DatabaseRole, type DatabaseSync } from '../storage/database.js';
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
  installedAt: number;
  updatedAt: number;
}

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
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

/** `<home>/state.db`, as its errors describe it. */
export const STATE_DB: DatabaseRole = {
  holds: 'the list of installed plugins, their grants and configuration',
  lossIfReset: 'installed plugins must be added again (their stored data stays in storage.db)',
};

export class InstallState {
  readonly #db: DatabaseSync;
  #open = true;
  readonly #q: Record<'get' | 'all' | 'put' | 'delete', StatementSync>;

  constructor(file: string) {
    this.#db = openDatabase(file, { ...STATE_DB, synchronous: 'FULL', schema: SCHEMA });
    this.#q = {
      get: this.#db.prepare('SELECT * FROM installed WHERE id = ?'),
      all: this.#db.prepare('SELECT * FROM installed ORDER BY id'),
      put: this.#db.prepare(`
        INSERT INTO installed VALUES (:id, :name, :version, :kind, :source, :enabled, :grant_json, :config_json,
          :component_sha256, :manifest_sha256, :signature_json, :requires_json, :installed_at, :updated_at)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, kind = excluded.kind,
          source = excluded.source, enabled = excluded.enabled, grant_json = excluded.grant_json,
          config_json = excluded.config_json, component_sha256 = excluded.component_sha256,
          manifest_sha256 = excluded.manifest_sha256, signature_json = excluded.signature_json,
          requires_json = excluded.requires_json, updated_at = excluded.updated_at`),
      delete: this.#db.prepare('DELETE FROM installed WHERE id = ?'),
    };
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

/**
 * Installed plugins: install from anywhere, update with consent and rollback,
 * enable, disable, remove, verify. Everything on disk follows one rule: a
 * plugin version is staged and checked in `<home>/staging`, moved whole into
 * `<home>/plugins/<id>/<version>-<hash>`, and only then committed by one
 * SQLite transaction. Opening the registry deletes whatever a crash left
 * outside that rule (staging leftovers, version folders no row names), so a
 * kill at any point leaves the old state or the new one.
 *
 * Stored data belongs to the package that wrote it (package name and signing
 * key), recorded in state.db by the same transaction (see state.ts): another
 * package under the same id starts with empty storage unless the data is
 * handed over (`keepData`), and a purge is recorded before data is deleted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import semver from 'semver';
import { capabilityDiff, diffItems, effectiveCapabilities, expandConfigTemplates, type CapabilityDiff, type Grant } from '../capabilities/grant.js';
import { AirlockError } from '../errors.js';
import { readManifest, type Manifest } from '../manifest.js';
import { sha256 } from '../component.js';
import { enforcePolicy, manifestDigest, verifyPackage, type Verification } from './signing.js';
import { fetchSource, parseSource, type Source } from './sources.js';
import { makePrivateDirectories, privatePackage } from '../home.js';
import { InstallState, ownerOfPlugin, sameOwner, type DataOwner, type InstalledPlugin, type SignatureRecord } from './state.js';
import type { StorageAdapter } from '../storage/adapter.js';
import type { TrialResult } from '../host-types.js';
import { understatedRisk } from '../policy.js';
import { HOST_VERSION } from '../version.js';

export { HOST_VERSION };

export type { InstalledPlugin, SignatureRecord, DataOwner };
export { capabilityDiff, type CapabilityDiff };

/** Which publishers' signatures the host trusts, and whether it runs only signed plugins. */
export interface TrustPolicy {
  /** Trusted ed25519 public keys (PEM). */
  keys?: string[];
  /** Refuse unsigned plugins and plugins signed by keys not in `keys`. Default false (they install with a warning). */
  requireSigned?: boolean;
}

/** Steps of an install or update, in order. `committed` is the point of no return. */
export type InstallStep = 'fetched' | 'verified' | 'staged' | 'committed';

export interface InstallOptions {
  /** What the user consented to; `'manifest'` accepts everything the manifest asks for. Default: nothing. */
  grant?: Grant | 'manifest';
  /** The plugin's configuration (validated against its configSchema). */
  config?: Record<string, unknown>;
  /** Progress lines for a person ("fetching @acme/weather@^1 with npm"). */
  onProgress?: (message: string) => void;
  /** Called after each step completes; for progress displays and crash tests. */
  onStep?: (step: InstallStep) => void | Promise<void>;
  /**
   * Stored data belongs to the package that wrote it (package name and
   * signing key). Data kept under this plugin's id for another package (one
   * removed, or one with another name or key) stays with that package, and
   * the plugin starts with empty storage, unless this is true, or a function
   * that returns true when shown the data: then that data (the most recently
   * kept) is handed to the new package. A package always gets back data of
   * its own; this only matters when it has none. Default false.
   */
  keepData?: boolean | ((offer: DataOffer) => boolean | Promise<boolean>);
}

/** Data stored under a plugin id by one owner, with its size. */
export interface StoredData {
  /** The plugin id it was stored under. */
  id: string;
  /** The storage namespace holding it (the id itself, or `<id>~<random>` when the id held another owner's data first). */
  namespace: string;
  /** The package that owns it. */
  owner: DataOwner;
  /** The installed plugin `id` is its owner and uses it. */
  inUse: boolean;
  /** Since when it is kept for its owner without being used by an installed plugin (ms since the epoch); null while in use. */
  keptSince: number | null;
  keys: number;
  /** Bytes of keys and values, as counted against a quota. */
  bytes: number;
}

/** What `keepData` is asked about: data kept for another package, and the package that would get it. */
export interface DataOffer {
  data: StoredData;
  to: DataOwner;
}

/** A fetched and checked update, waiting to be applied or cancelled. */
export interface UpdatePlan {
  id: string;
  from: string;
  to: string;
  /** What the new version asks for beyond the current grant; empty lists when nothing. */
  added: CapabilityDiff;
  /** Whether `apply` needs a grant covering `added`. */
  needsConsent: boolean;
  /** The owner of the installed version's data, and the owner the new version is (package name and signing key). */
  owner: { from: DataOwner; to: DataOwner };
  /** The new version is another package (another name or signing key): its data does not carry over unless `apply({ keepData: true })`. */
  ownerChanged: boolean;
  /** The data the installed version uses now, if it has any. */
  data: StoredData | undefined;
  /**
   * Apply it. Needs `grant` (or `'manifest'`) when `needsConsent`; rolls back
   * if the new version fails to start. When `ownerChanged`, the data stays
   * kept for the old owner and the new version starts with its own (empty
   * unless it had some), unless `keepData` hands it over.
   */
  apply(options?: { grant?: Grant | 'manifest'; keepData?: boolean }): Promise<InstalledPlugin>;
  /** Drop the staged files. */
  cancel(): Promise<void>;
}

/** The outcome of checking one installed plugin. */
export interface VerifyReport {
  id: string;
  version: string;
  /** The component still has the sha256 recorded at install. */
  componentIntact: boolean;
  /** The manifest still has the digest recorded at install. */
  manifestIntact: boolean;
  /**
   * The host's transpiled output of the recorded component (the code its
   * worker runs), in the component cache: `intact` (every file matches the
   * digest recorded when it was written), `absent` (not built yet; the next
   * load builds it from the component, after checking the component's hash),
   * or `tampered` (changed since it was written: a load discards and rebuilds
   * it, or refuses to start; see `cacheProblem`).
   */
  cache: 'intact' | 'absent' | 'tampered';
  /** False only when `cache` is `tampered`: absent output is built from the checked component, so it is no risk. */
  cacheIntact: boolean;
  /** What changed in the cached output, when `cacheIntact` is false. */
  cacheProblem?: string;
  signature: Verification;
  /**
   * A tool plugin whose tools all say `read-only` while its grant can change
   * things (network access, storage, a read-write directory), weighed from the
   * risk levels recorded at install: what is wrong, or undefined. It makes
   * `ok` false when the host's policy refuses such plugins
   * (`understatedRisk: 'refuse'`); under `allow` it is not reported.
   */
  understatedRisk?: string;
  ok: boolean;
}

/** What the registry needs of the host that owns it. */
export interface RegistryHost {
  /** Check a package as a load would (component readable, right kind and contract, config and grant valid), without keeping it; `host.trial`. */
  trial(dir: string, grant: Grant | 'manifest', config: Record<string, unknown>): Promise<Pick<TrialResult, 'sha256' | 'missingEnv' | 'tools' | 'warnings'>>;
  /** The host policy's rule for a tool plugin that understates its risk (`createHost({ policy })`). */
  understatedRisk: 'warn' | 'refuse' | 'allow';
  /** Whether plugin `id` is loaded now. */
  isLoaded(id: string): boolean;
  /** Replace a loaded plugin with the package in `dir`, storing in `namespace`; in-flight calls finish on the old instance. Rejects, leaving the old one, if the new one fails to start. */
  reload(id: string, dir: string, grant: Grant, config: Record<string, unknown>, expectedSha256: string, namespace: string): Promise<void>;
  /** Where plugin data lives. */
  storage: StorageAdapter;
  unload(id: string): Promise<void>;
  emit(event: RegistryEvent, plugin: InstalledPlugin): void;
  /** The state of the transpiled output of component `sha256` in the host's cache; `bytes`, the component, to compare an entry without a digest record with. */
  checkCache(sha256: string, bytes: Uint8Array | undefined): Promise<{ state: 'intact' | 'absent' } | { state: 'tampered'; problem: string }>;
}

export type RegistryEvent = 'plugin-installed' | 'plugin-updated' | 'plugin-removed' | 'plugin-enabled' | 'plugin-disabled' | 'plugin-rolled-back' | 'plugin-granted';


interface Checked {
  dir: string;
  manifest: Manifest;
  componentSha256: string;
  manifestSha256: string;
  signature: SignatureRecord;
  tools: { name: string; risk: string }[];
  /** What the user should hear about the package: an unsigned or untrusted signature, environment variables it needs that are not set. */
  warnings: string[];
}

/** The package.json of an installed plugin, or undefined when it is missing or not JSON (checked as changed). */
const installedPackage = (dir: string): Promise<Record<string, unknown> | undefined> =>
  readFile(join(dir, 'package.json'), 'utf8')
    .then((text) => JSON.parse(text) as Record<string, unknown>)
    .catch(() => undefined);


/** How an install, update or load gets its data: its own, another owner's (handed over), or a new namespace. */
type Binding =
  | { kind: 'use'; namespace: string }
  | { kind: 'handover'; namespace: string; from: DataOwner; drop: string | undefined }
  | { kind: 'create'; namespace: string };

const sameRecordedOwner = (a: DataOwner, b: DataOwner) => a.package === b.package && a.keyId === b.keyId;

/** The data of `id` changed between planning and committing (another process on the same home). */
const dataChanged = (id: string) =>
  new AirlockError('STORAGE_FAILED', `the stored data recorded for \`${id}\` changed while this was in progress; nothing was changed`, { plugin: id, hint: 'Try again.' });

export class PluginRegistry {
  readonly #home: string;
  readonly #state: InstallState;
  readonly #trust: Required<TrustPolicy>;
  readonly #host: RegistryHost;
  readonly #warn: (message: string, plugin: string) => void;

  /** @internal Use `host.registry`. */
  constructor(home: string, trust: TrustPolicy, host: RegistryHost, warn: (message: string, plugin: string) => void) {
    this.#home = home;
    this.#state = new InstallState(join(home, 'state.db'));
    this.#trust = { keys: trust.keys ?? [], requireSigned: trust.requireSigned ?? false };
    this.#host = host;
    this.#warn = warn;
  }

  /**
   * Delete what an interrupted install or update left behind, and finish a
   * purge that was cut short. The first time a home is opened by a host that
   * records data owners, record them for the data already stored. Run once when
   * the host opens.
   */
  async recover(): Promise<void> {
    if (this.#state.ownersUnrecorded()) this.#state.recordOwners((await this.#host.storage.namespaces?.()) ?? [], Date.now());
    await this.#finishPurges();
    await rm(join(this.#home, 'staging'), { recursive: true, force: true });
    const root = join(this.#home, 'plugins');
    const ids = await readdir(root).catch(() => [] as string[]);
    for (const id of ids) {
      const row = this.#state.get(id);
      const keep = row ? versionDir(row) : undefined;
      for (const version of await readdir(join(root, id)).catch(() => [] as string[])) {
        if (version !== keep) await rm(join(root, id, version), { recursive: true, force: true });
      }
      if (!row) await rm(join(root, id), { recursive: true, force: true });
    }
  }

  /** Every installed plugin, by id. */
  list(): InstalledPlugin[] {
    return this.#state.list();
  }

  get(id: string): InstalledPlugin | undefined {
    return this.#state.get(id);
  }

  /** The directory an installed plugin lives in. */
  dir(plugin: InstalledPlugin): string {
    return join(this.#home, 'plugins', plugin.id, versionDir(plugin));
  }

  #require(id: string): InstalledPlugin {
    const p = this.#state.get(id);
    if (!p) {
      const known = this.#state.list().map((i) => i.id);
      throw new AirlockError('PLUGIN_NOT_INSTALLED', `no plugin \`${id}\` is installed`, { plugin: id, hint: known.length ? `Installed: ${known.join(', ')}.` : 'Install one with `airlock plugin add <source>`.' });
    }
    return p;
  }

  /**
   * Install a plugin from `source` (a directory, a .tgz, `npm:<spec>`, or a git
   * URL with `#ref`). Nothing is recorded unless every check passes.
   */
  async install(source: string, options: InstallOptions = {}): Promise<InstalledPlugin> {
    const parsed = await parseSource(source);
    return this.#staged(async (staging) => {
      const dir = await fetchSource(parsed, staging, options.onProgress);
      await options.onStep?.('fetched');
      const checked = await this.#check(dir, options.grant ?? {}, options.config ?? {});
      const existing = this.#state.get(checked.manifest.id);
      if (existing) throw alreadyInstalled(existing, source);
      await options.onStep?.('verified');
      const now = Date.now();
      const plugin: InstalledPlugin = {
        ...this.#record(checked, recordedSource(parsed), consentOf(checked.manifest, options.grant ?? {}, options.config ?? {}), options.config ?? {}),
        enabled: true,
        installedAt: now,
        updatedAt: now,
      };
      const owner = ownerOfPlugin(plugin);
      const binding = await this.#bind(plugin.id, owner, options.keepData ?? false);
      await this.#place(dir, plugin);
      await options.onStep?.('staged');
      try {
        // The plugin's row and the record of whose data it uses commit together.
        this.#state.atomic(() => {
          if (this.#state.get(plugin.id)) throw alreadyInstalled(this.#state.get(plugin.id)!, source);
          this.#state.put(plugin);
          this.#commitBinding(binding, plugin.id, owner, now, true);
        });
      } catch (err) {
        await rm(this.dir(plugin), { recursive: true, force: true });
        throw err;
      }
      await options.onStep?.('committed');
      for (const warning of checked.warnings) this.#warn(warning, plugin.id);
      this.#host.emit('plugin-installed', plugin);
      return plugin;
    });
  }

  /**
   * Fetch and check a new version of `id` (from `source`, or where it was
   * installed from). The plan says what the new version asks for beyond the
   * current grant; nothing changes until `apply`.
   */
  async update(id: string, source?: string, options: Pick<InstallOptions, 'onProgress' | 'onStep'> = {}): Promise<UpdatePlan> {
    const current = this.#require(id);
    const parsed = await parseSource(source ?? current.source);
    const staging = await this.#newStaging();
    const discard = () => rm(staging, { recursive: true, force: true });
    try {
      const dir = await fetchSource(parsed, staging, options.onProgress);
      await options.onStep?.('fetched');
      // Checked against everything it asks for; consent is settled in apply().
      const checked = await this.#check(dir, 'manifest', current.config);
      if (checked.manifest.id !== id) {
        throw new AirlockError('SOURCE_INVALID', `\`${parsed.given}\` holds plugin \`${checked.manifest.id}\`, not \`${id}\``, { plugin: id });
      }
      const asked = expandConfigTemplates(checked.manifest, current.config).capabilities;
      const added = capabilityDiff(asked, current.grant);
      const needsConsent = !isEmptyDiff(added);
      const owner = { from: ownerOfPlugin(current), to: ownerOfPlugin({ name: checked.manifest.name, signature: checked.signature }) };
      const data = (await this.storedData(id)).find((d) => d.inUse);
      await options.onStep?.('verified');
      let settled = false;
      return {
        id,
        from: current.version,
        to: checked.manifest.version,
        added,
        needsConsent,
        owner,
        ownerChanged: !sameOwner(owner.from, owner.to),
        data,
        cancel: async () => {
          settled = true;
          await discard();
        },
        apply: async ({ grant, keepData } = {}) => {
          if (settled) throw new AirlockError('UPDATE_FAILED', `this update of \`${id}\` was already applied or cancelled`, { plugin: id });
          if (needsConsent && grant === undefined) {
            throw new AirlockError('CONSENT_REQUIRED', `${id} ${checked.manifest.version} asks for more than was granted: ${describeDiff(added)}`, {
              plugin: id,
              hint: 'Show the user the difference and apply with their grant (`--yes` on the CLI), or cancel.',
            });
          }
          settled = true;
          try {
            return await this.#applyUpdate(current, recordedSource(parsed), checked, grant, keepData ?? false, options);
          } finally {
            await discard();
          }
        },
      };
    } catch (err) {
      await discard();
      throw err;
    }
  }

  async #applyUpdate(
    current: InstalledPlugin,
    source: string,
    checked: Checked,
    grant: Grant | 'manifest' | undefined,
    keepData: boolean,
    options: Pick<InstallOptions, 'onStep'>,
  ): Promise<InstalledPlugin> {
    const consent = grant === undefined ? current.grant : consentOf(checked.manifest, grant, current.config);
    const now = Date.now();
    const next: InstalledPlugin = { ...this.#record(checked, source, consent, current.config), enabled: current.enabled, installedAt: current.installedAt, updatedAt: now };
    const oldDir = this.dir(current);
    const newDir = this.dir(next);
    if (newDir === oldDir) throw new AirlockError('UPDATE_FAILED', `\`${current.id}\` ${current.version} is already installed with this exact content`, { plugin: current.id });
    const { binding, retire } = await this.#bindUpdate(current, next, keepData);
    await this.#place(checked.dir, next);
    await options.onStep?.('staged');
    try {
      if (this.#host.isLoaded(current.id)) await this.#host.reload(current.id, newDir, next.grant, next.config, next.componentSha256, binding.namespace);
      else await this.#host.trial(newDir, next.grant, next.config);
    } catch (err) {
      // Roll back: the old version stays recorded, loaded and on disk.
      await rm(newDir, { recursive: true, force: true });
      this.#host.emit('plugin-rolled-back', current);
      throw new AirlockError('UPDATE_FAILED', `\`${current.id}\` ${next.version} failed to start, so ${current.version} stays installed: ${(err as Error).message}`, { plugin: current.id, cause: err });
    }
    // The new row, and whose data it uses (the old owner's kept for it when the owner changed), commit together.
    this.#state.atomic(() => {
      this.#state.put(next);
      this.#commitBinding(binding, next.id, ownerOfPlugin(next), now, true);
      if (retire !== undefined && retire !== binding.namespace) this.#state.setKeptSince(retire, now);
    });
    await options.onStep?.('committed');
    await rm(oldDir, { recursive: true, force: true });
    for (const warning of checked.warnings) this.#warn(warning, next.id);
    this.#host.emit('plugin-updated', next);
    return next;
  }

  /**
   * Remove a plugin. Refused while other installed plugins require it, unless
   * `force`. Its stored data is kept for its package (adding the same package
   * again finds it; another package with the same id does not get it), unless
   * `purge`: then everything stored under `id` is deleted, the plugin's own
   * data and any kept for other packages.
   */
  async remove(id: string, options: { force?: boolean; purge?: boolean } = {}): Promise<InstalledPlugin> {
    const plugin = this.#require(id);
    this.#refuseIfRequired(plugin, 'remove', options.force, () => true);
    if (this.#host.isLoaded(id)) await this.#host.unload(id);
    const now = Date.now();
    this.#state.atomic(() => {
      this.#state.delete(id);
      const own = this.#state.slotOf(id, ownerOfPlugin(plugin));
      if (options.purge) this.#state.markPurging(id);
      else if (own) this.#state.setKeptSince(own.namespace, now);
    });
    await rm(join(this.#home, 'plugins', id), { recursive: true, force: true });
    // The scratch directory is not data the plugin keeps: it goes with the plugin.
    await rm(join(this.#home, 'scratch', id), { recursive: true, force: true });
    if (options.purge) await this.#finishPurges();
    this.#host.emit('plugin-removed', plugin);
    return plugin;
  }

  /**
   * Delete the data kept under plugin `id` for packages that are not installed
   * (a plugin removed without purging, or one replaced by another package).
   * The data of the installed plugin `id`, if any, is untouched: remove it with
   * `remove(id, { purge: true })`. Returns what was deleted (empty when nothing was kept).
   */
  async purge(id: string): Promise<StoredData[]> {
    const kept = (await this.storedData(id)).filter((d) => !d.inUse);
    this.#state.atomic(() => {
      const installed = this.#state.get(id);
      this.#state.markPurging(id, installed ? this.#state.slotOf(id, ownerOfPlugin(installed))?.namespace : undefined);
    });
    await this.#finishPurges();
    return kept;
  }

  /**
   * The data stored under plugin `id` (or every id), by owner: first the data
   * the installed plugin uses (`inUse`, listed even when empty), then data kept
   * for other packages (removed, replaced by another package, or loaded from a
   * directory), most recently kept first; kept entries without keys are left out.
   */
  async storedData(id?: string): Promise<StoredData[]> {
    const users = new Map(this.#state.list().map((p) => [p.id, ownerOfPlugin(p)]));
    const found: StoredData[] = [];
    for (const slot of this.#state.slots(id)) {
      const user = users.get(slot.id);
      const inUse = user !== undefined && sameOwner(user, slot.owner);
      const keys = (await this.#host.storage.list(slot.namespace, '')).length;
      if (!inUse && keys === 0) continue;
      const bytes = await this.#host.storage.usage(slot.namespace);
      found.push({ id: slot.id, namespace: slot.namespace, owner: slot.owner, inUse, keptSince: inUse ? null : (slot.keptSince ?? slot.createdAt), keys, bytes });
    }
    return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : Number(b.inUse) - Number(a.inUse) || (b.keptSince ?? 0) - (a.keptSince ?? 0)));
  }

  /** @internal The namespace an installed plugin stores in, recorded when missing. */
  async namespaceOf(plugin: InstalledPlugin): Promise<string> {
    const owner = ownerOfPlugin(plugin);
    const own = this.#state.slotOf(plugin.id, owner);
    if (own) return own.namespace;
    await this.#recordUnowned(plugin.id);
    const binding = this.#newSlot(plugin.id);
    this.#state.atomic(() => this.#commitBinding(binding, plugin.id, owner, Date.now(), true));
    return binding.namespace;
  }

  /**
   * @internal The namespace a plugin loaded from a directory (`host.load(dir)`)
   * stores in: its package's own under that id, recorded on first use. The id
   * itself when nothing is recorded under it yet (so data the integrator seeds
   * through `storageOf` before the first load is found); a new namespace when
   * the id's data belongs to another package.
   */
  async namespaceForDirectory(dir: string, manifest: Manifest): Promise<string> {
    const v = await verifyPackage(dir, this.#trust.keys);
    const owner: DataOwner = { package: manifest.name, keyId: v.status === 'signed' || v.status === 'untrusted' ? v.keyId : null };
    return this.#state.atomic(() => {
      const own = this.#state.slotOf(manifest.id, owner);
      if (own) return own.namespace;
      const namespace = this.#state.slotAt(manifest.id) ? this.#freshNamespace(manifest.id) : manifest.id;
      const now = Date.now();
      this.#state.addSlot({ namespace, id: manifest.id, owner, createdAt: now, keptSince: now });
      return namespace;
    });
  }

  /** @internal The namespace `host.storageOf(id)` shows when `id` is not loaded: the installed plugin's, else the most recently kept, else the id. */
  namespaceFor(id: string): string {
    const installed = this.#state.get(id);
    const slot = installed ? this.#state.slotOf(id, ownerOfPlugin(installed)) : this.#state.slots(id)[0];
    return slot?.namespace ?? id;
  }

  /** The binding of an install: the package's own data; else, when `keepData` says so, the most recently kept data of another owner; else a new namespace. */
  async #bind(id: string, owner: DataOwner, keepData: NonNullable<InstallOptions['keepData']>): Promise<Binding> {
    await this.#recordUnowned(id);
    const own = this.#state.slotOf(id, owner);
    if (keepData !== false && (own === undefined || (await this.#host.storage.list(own.namespace, '')).length === 0)) {
      const offer = (await this.storedData(id)).find((d) => !d.inUse && !sameRecordedOwner(d.owner, owner));
      if (offer && (keepData === true || (await keepData({ data: offer, to: owner })))) return { kind: 'handover', namespace: offer.namespace, from: offer.owner, drop: own?.namespace };
    }
    return own ? { kind: 'use', namespace: own.namespace } : this.#newSlot(id);
  }

  /** The binding of an update, and the namespace to mark kept (the old owner's, when the owner changes). */
  async #bindUpdate(current: InstalledPlugin, next: InstalledPlugin, keepData: boolean): Promise<{ binding: Binding; retire?: string }> {
    const from = ownerOfPlugin(current);
    const to = ownerOfPlugin(next);
    const slot = this.#state.slotOf(current.id, from);
    if (sameOwner(from, to)) return { binding: slot ? { kind: 'use', namespace: slot.namespace } : await this.#bind(current.id, to, false) };
    if (keepData && slot) {
      const own = this.#state.slotOf(current.id, to);
      if (own && (await this.#host.storage.list(own.namespace, '')).length > 0) {
        throw new AirlockError('UPDATE_FAILED', `${to.package} already has stored data of its own under \`${current.id}\`, so it cannot also be handed the data of ${from.package}; nothing was changed`, {
          plugin: current.id,
          hint: `Update without keeping the data (${to.package} gets its own back, and the data of ${from.package} stays kept for it), or delete the data kept for ${to.package} first.`,
        });
      }
      return { binding: { kind: 'handover', namespace: slot.namespace, from, drop: own?.namespace } };
    }
    return { binding: await this.#bind(current.id, to, false), ...(slot ? { retire: slot.namespace } : {}) };
  }

  /** A namespace for a new owner of `id`: the id itself when no record names it, else `<id>~<random>`. */
  #newSlot(id: string): Binding {
    return { kind: 'create', namespace: this.#state.slotAt(id) ? this.#freshNamespace(id) : id };
  }

  /**
   * Record data under the id itself that no record names as kept for an
   * unknown owner, so that no installed package gets it unless handed it.
   * Such data was stored by host 0.1 through a storage adapter that cannot
   * list its namespaces, or seeded through `storageOf` before any package was
   * recorded under the id.
   */
  async #recordUnowned(id: string): Promise<void> {
    if (this.#state.slotAt(id) || (await this.#host.storage.list(id, '')).length === 0) return;
    const now = Date.now();
    this.#state.atomic(() => {
      if (!this.#state.slotAt(id)) this.#state.addSlot({ namespace: id, id, owner: { package: null, keyId: null }, createdAt: now, keptSince: now });
    });
  }

  #freshNamespace(id: string): string {
    for (;;) {
      const namespace = `${id}~${randomBytes(6).toString('hex')}`;
      if (!this.#state.slotAt(namespace)) return namespace;
    }
  }

  /** Record a binding; inside the transaction that records the plugin. Throws (rolling it back) when the data changed since it was planned. */
  #commitBinding(binding: Binding, id: string, owner: DataOwner, now: number, inUse: boolean): void {
    const row = this.#state.slotAt(binding.namespace);
    switch (binding.kind) {
      case 'use':
        if (!row || row.purging) throw dataChanged(id);
        this.#state.setKeptSince(binding.namespace, inUse ? null : now);
        return;
      case 'handover':
        if (!row || row.purging || row.id !== id || !sameRecordedOwner(row.owner, binding.from)) throw dataChanged(id);
        if (binding.drop !== undefined) this.#state.deleteSlot(binding.drop);
        this.#state.setOwner(binding.namespace, owner);
        this.#state.setKeptSince(binding.namespace, inUse ? null : now);
        return;
      case 'create':
        if (row || this.#state.slotOf(id, owner)) throw dataChanged(id);
        this.#state.addSlot({ namespace: binding.namespace, id, owner, createdAt: now, keptSince: inUse ? null : now });
    }
  }

  /** Delete the data of rows marked for purging, then the rows. */
  async #finishPurges(): Promise<void> {
    const storage = this.#host.storage;
    for (const slot of this.#state.purging()) {
      if (storage.clear) await storage.clear(slot.namespace);
      else for (const key of await storage.list(slot.namespace, '')) await storage.delete(slot.namespace, key);
      this.#state.deleteSlot(slot.namespace);
    }
  }

  async enable(id: string): Promise<InstalledPlugin> {
    const plugin = this.#require(id);
    for (const [dep, range] of Object.entries(plugin.requires)) {
      const found = this.#state.get(dep);
      if (!found?.enabled || !semver.satisfies(found.version, range)) {
        throw new AirlockError('DEPENDENCY_MISSING', `\`${id}\` requires ${dep} ${range}, which is ${found ? (found.enabled ? `at ${found.version}` : 'disabled') : 'not installed'}`, { plugin: id, hint: `Install or enable ${dep} first.` });
      }
    }
    const next = this.#state.update(id, { enabled: true })!;
    this.#host.emit('plugin-enabled', next);
    return next;
  }

  /** Disable a plugin (and unload it). Refused while enabled plugins require it, unless `force`. */
  async disable(id: string, options: { force?: boolean } = {}): Promise<InstalledPlugin> {
    const plugin = this.#require(id);
    this.#refuseIfRequired(plugin, 'disable', options.force, (p) => p.enabled);
    if (this.#host.isLoaded(id)) await this.#host.unload(id);
    const next = this.#state.update(id, { enabled: false })!;
    this.#host.emit('plugin-disabled', next);
    return next;
  }

  /** Record a new grant (what the user consents to) or configuration; takes effect at the next load. */
  setGrant(id: string, grant: Grant): InstalledPlugin {
    this.#require(id);
    const next = this.#state.update(id, { grant })!;
    this.#host.emit('plugin-granted', next);
    return next;
  }

  setConfig(id: string, config: Record<string, unknown>): InstalledPlugin {
    this.#require(id);
    return this.#state.update(id, { config })!;
  }

  /** Check installed plugins against what was recorded at install, and their signatures against the trusted keys. */
  async verify(id?: string): Promise<VerifyReport[]> {
    const plugins = id === undefined ? this.#state.list() : [this.#require(id)];
    return Promise.all(
      plugins.map(async (p) => {
        const dir = this.dir(p);
        const manifest = await readManifest(dir).catch(() => undefined);
        const pkg = await installedPackage(dir);
        const component = manifest ? await readFile(join(dir, manifest.component)).catch(() => undefined) : undefined;
        const componentIntact = component !== undefined && sha256(component) === p.componentSha256;
        const manifestIntact = pkg !== undefined && manifestDigest(pkg) === p.manifestSha256;
        const signature = await verifyPackage(dir, this.#trust.keys);
        const signatureOk = signature.status === 'signed' || (!this.#trust.requireSigned && signature.status !== 'invalid');
        // What runs is the transpiled output of the recorded component: a changed cache entry changes it as much as a changed component.
        const cache = await this.#host.checkCache(p.componentSha256, componentIntact ? component : undefined);
        const cacheIntact = cache.state !== 'tampered';
        const rule = this.#host.understatedRisk;
        const understated = manifest && p.tools && rule !== 'allow' ? this.#understated(manifest, p) : undefined;
        return {
          id: p.id,
          version: p.version,
          componentIntact,
          manifestIntact,
          cache: cache.state,
          cacheIntact,
          ...(cache.state === 'tampered' ? { cacheProblem: cache.problem } : {}),
          signature,
          ...(understated ? { understatedRisk: understated } : {}),
          ok: componentIntact && manifestIntact && cacheIntact && signatureOk && !(understated && rule === 'refuse'),
        };
      }),
    );
  }

  /** What is wrong with the risk levels of `plugin`'s tools, given what it is granted now; undefined when nothing, or when its grant no longer applies (a load says why). */
  #understated(manifest: Manifest, plugin: InstalledPlugin): string | undefined {
    try {
      const granted = effectiveCapabilities(expandConfigTemplates(manifest, plugin.config), plugin.grant);
      return understatedRisk(manifest, granted, plugin.tools!.map((t) => t.risk));
    } catch {
      return undefined;
    }
  }

  /** Check the installed files of `plugin` before a load: the recorded hashes and, under `requireSigned`, the signature. */
  async checkIntegrity(plugin: InstalledPlugin): Promise<void> {
    const dir = this.dir(plugin);
    const pkg = await installedPackage(dir);
    if (pkg === undefined || manifestDigest(pkg) !== plugin.manifestSha256) {
      throw new AirlockError('INTEGRITY_FAILED', `the installed manifest of \`${plugin.id}\` changed since it was installed`, {
        plugin: plugin.id,
        hint: `Reinstall it (\`airlock plugin remove ${plugin.id}\`, then add it again) if the change is not yours.`,
      });
    }
    if (this.#trust.requireSigned) enforcePolicy(await verifyPackage(dir, this.#trust.keys), this.#trust, plugin.id);
  }

  close(): void {
    this.#state.close();
  }

  /** Run `work` with a fresh staging directory, deleted afterwards whatever happens. */
  async #staged<T>(work: (staging: string) => Promise<T>): Promise<T> {
    const staging = await this.#newStaging();
    try {
      return await work(staging);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async #newStaging(): Promise<string> {
    await makePrivateDirectories(join(this.#home, 'staging'));
    return mkdtemp(join(this.#home, 'staging', 'x-'));
  }

  /** Move a checked package into its version folder (not yet committed). */
  async #place(dir: string, plugin: InstalledPlugin): Promise<void> {
    const target = this.dir(plugin);
    await makePrivateDirectories(dirname(target));
    await privatePackage(dir);
    await rm(target, { recursive: true, force: true });
    await rename(dir, target);
  }

  #record(c: Checked, source: string, grant: Grant, config: Record<string, unknown>): Omit<InstalledPlugin, 'enabled' | 'installedAt' | 'updatedAt'> {
    return {
      id: c.manifest.id,
      name: c.manifest.name,
      version: c.manifest.version,
      kind: c.manifest.kind,
      source,
      grant,
      config,
      componentSha256: c.componentSha256,
      manifestSha256: c.manifestSha256,
      signature: c.signature,
      requires: c.manifest.requires,
      ...(c.manifest.kind === 'tool' ? { tools: c.tools } : {}),
    };
  }

  /** Every check a package must pass before it is placed. */
  async #check(dir: string, grant: Grant | 'manifest', config: Record<string, unknown>): Promise<Checked> {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown> & { engines?: { airlock?: unknown } };
    const manifest = await readManifest(dir);
    const wanted = pkg.engines?.airlock;
    if (wanted !== undefined && (typeof wanted !== 'string' || !semver.validRange(wanted) || !semver.satisfies(HOST_VERSION, wanted))) {
      throw new AirlockError('PLUGIN_INCOMPATIBLE', `\`${manifest.id}\` ${manifest.version} needs an Airlock host ${String(wanted)}, and this host is ${HOST_VERSION}`, {
        plugin: manifest.id,
        hint: 'Install a version of the plugin made for this host, or upgrade the host.',
      });
    }
    for (const [dep, range] of Object.entries(manifest.requires)) {
      const found = this.#state.get(dep);
      if (!found || !semver.satisfies(found.version, range)) {
        throw new AirlockError('DEPENDENCY_MISSING', `\`${manifest.id}\` requires ${dep} ${range}, but ${found ? `${dep} ${found.version} is installed` : `${dep} is not installed`}`, {
          plugin: manifest.id,
          hint: found ? `Update ${dep} to a version in ${range} first.` : `Install ${dep} first.`,
        });
      }
    }
    const verification = await verifyPackage(dir, this.#trust.keys);
    const { warning } = enforcePolicy(verification, this.#trust, manifest.id);
    // Component present, of the manifest's kind and a served contract; config and grant valid. The hash is of the component that started.
    const { sha256: componentSha256, missingEnv, tools, warnings: started } = await this.#host.trial(dir, grant, config);
    const signature: SignatureRecord =
      verification.status === 'signed' ? { status: 'signed', keyId: verification.keyId } : verification.status === 'untrusted' ? { status: 'untrusted', keyId: verification.keyId } : { status: 'unsigned' };
    const warnings = [
      ...(warning ? [warning] : []),
      // Installed all the same: the variable may be set where the host runs, which need not be this shell.
      ...(missingEnv.length > 0 ? [`\`${manifest.id}\` needs ${missingEnv.join(', ')} set in the environment the host runs in; it will not load until ${missingEnv.length > 1 ? 'they are' : 'it is'}`] : []),
      ...started,
    ];
    return { dir, manifest, componentSha256, manifestSha256: manifestDigest(pkg), signature, tools, warnings };
  }

  #refuseIfRequired(plugin: InstalledPlugin, action: string, force: boolean | undefined, counts: (p: InstalledPlugin) => boolean): void {
    const dependents = this.#state.list().filter((p) => p.id !== plugin.id && plugin.id in p.requires && counts(p));
    if (dependents.length && !force) {
      throw new AirlockError('DEPENDENTS_EXIST', `cannot ${action} \`${plugin.id}\`: ${dependents.map((d) => d.id).join(', ')} ${dependents.length > 1 ? 'require' : 'requires'} it`, {
        plugin: plugin.id,
        hint: `${action === 'remove' ? 'Remove' : 'Disable'} ${dependents.length > 1 ? 'them' : 'it'} first, or pass --force.`,
      });
    }
  }
}

const alreadyInstalled = (existing: InstalledPlugin, source: string) =>
  new AirlockError('PLUGIN_ALREADY_INSTALLED', `plugin \`${existing.id}\` ${existing.version} is already installed`, {
    plugin: existing.id,
    hint: `Update it with \`airlock plugin update ${existing.id} ${source}\`.`,
  });

/** The source to record: paths absolute, so a later `update` without a source finds them from anywhere. */
const recordedSource = (s: Source) => (s.kind === 'directory' || s.kind === 'tarball' ? s.location : s.given);

/** `<version>-<first 12 hex of the component hash>`: every distinct build gets its own folder. */
const versionDir = (p: Pick<InstalledPlugin, 'version' | 'componentSha256'>) => `${p.version}-${p.componentSha256.slice(0, 12)}`;

/** The grant to record: what the user gave, or the manifest's (concrete) asks for `'manifest'`. */
function consentOf(manifest: Manifest, grant: Grant | 'manifest', config: Record<string, unknown>): Grant {
  const expanded = expandConfigTemplates(manifest, config);
  effectiveCapabilities(expanded, grant);
  return grant === 'manifest' ? structuredClone(expanded.capabilities) : grant;
}

export const isEmptyDiff = (d: CapabilityDiff) => diffItems(d).length === 0;

export const describeDiff = (d: CapabilityDiff): string => diffItems(d).join(', ');

/** Installed plugins ordered so that every plugin comes after the ones it requires. */
export function dependencyOrder(plugins: InstalledPlugin[]): InstalledPlugin[] {
  const byId = new Map(plugins.map((p) => [p.id, p]));
  const ordered: InstalledPlugin[] = [];
  const seen = new Set<string>();
  const visit = (p: InstalledPlugin, path: Set<string>) => {
    if (seen.has(p.id) || path.has(p.id)) return;
    path.add(p.id);
    for (const dep of Object.keys(p.requires)) {
      const d = byId.get(dep);
      if (d) visit(d, path);
    }
    seen.add(p.id);
    ordered.push(p);
  };
  for (const p of plugins) visit(p, new Set());
  return ordered;
}

/**
 * Installed plugins: install from anywhere, update with consent and rollback,
 * enable, disable, remove, verify. Everything on disk follows one rule: a
 * plugin version is staged and checked in `<home>/staging`, moved whole into
 * `<home>/plugins/<id>/<version>-<hash>`, and only then committed by one
 * SQLite transaction. Opening the registry deletes whatever a crash left
 * outside that rule (staging leftovers, version folders no row names), so a
 * kill at any point leaves the old state or the new one.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { capabilityDiff, diffItems, effectiveCapabilities, expandConfigTemplates, type CapabilityDiff, type Grant } from '../capabilities/grant.js';
import { AirlockError } from '../errors.js';
import { readManifest, type Manifest } from '../manifest.js';
import { enforcePolicy, manifestDigest, verifyPackage, type Verification } from './signing.js';
import { fetchSource, parseSource, type Source } from './sources.js';
import { InstallState, type InstalledPlugin, type SignatureRecord } from './state.js';

export type { InstalledPlugin, SignatureRecord };
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
  /** Apply it. Needs `grant` (or `'manifest'`) when `needsConsent`; rolls back if the new version fails to start. */
  apply(options?: { grant?: Grant | 'manifest' }): Promise<InstalledPlugin>;
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
  signature: Verification;
  ok: boolean;
}

/** What the registry needs of the host that owns it. */
export interface RegistryHost {
  /** Check a package as a load would (component readable, right kind and contract, config and grant valid), without keeping it. */
  trial(dir: string, grant: Grant | 'manifest', config: Record<string, unknown>): Promise<void>;
  /** Whether plugin `id` is loaded now. */
  isLoaded(id: string): boolean;
  /** Replace a loaded plugin with the package in `dir`; in-flight calls finish on the old instance. Rejects, leaving the old one, if the new one fails to start. */
  reload(id: string, dir: string, grant: Grant, config: Record<string, unknown>, expectedSha256: string): Promise<void>;
  unload(id: string): Promise<void>;
  emit(event: RegistryEvent, plugin: InstalledPlugin): void;
}

export type RegistryEvent = 'plugin-installed' | 'plugin-updated' | 'plugin-removed' | 'plugin-enabled' | 'plugin-disabled' | 'plugin-rolled-back' | 'plugin-granted';

/** The version of this host package, for `engines.airlock` ranges. */
export const HOST_VERSION: string = (() => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@airlock/host' && pkg.version) return pkg.version;
    } catch {
      // keep walking up
    }
  }
  return '0.0.0';
})();

interface Checked {
  dir: string;
  manifest: Manifest;
  componentSha256: string;
  manifestSha256: string;
  signature: SignatureRecord;
  warning: string | undefined;
}

/** The package.json of an installed plugin, or undefined when it is missing or not JSON (checked as changed). */
const installedPackage = (dir: string): Promise<Record<string, unknown> | undefined> =>
  readFile(join(dir, 'package.json'), 'utf8')
    .then((text) => JSON.parse(text) as Record<string, unknown>)
    .catch(() => undefined);

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

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

  /** Delete what an interrupted install or update left behind. Run once when the host opens. */
  async recover(): Promise<void> {
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
      if (existing) {
        throw new AirlockError('PLUGIN_ALREADY_INSTALLED', `plugin \`${existing.id}\` ${existing.version} is already installed`, {
          plugin: existing.id,
          hint: `Update it with \`airlock plugin update ${existing.id} ${source}\`.`,
        });
      }
      await options.onStep?.('verified');
      const now = Date.now();
      const plugin: InstalledPlugin = {
        ...this.#record(checked, recordedSource(parsed), consentOf(checked.manifest, options.grant ?? {}, options.config ?? {}), options.config ?? {}),
        enabled: true,
        installedAt: now,
        updatedAt: now,
      };
      await this.#place(dir, plugin);
      await options.onStep?.('staged');
      this.#state.put(plugin);
      await options.onStep?.('committed');
      if (checked.warning) this.#warn(checked.warning, plugin.id);
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
      await options.onStep?.('verified');
      let settled = false;
      return {
        id,
        from: current.version,
        to: checked.manifest.version,
        added,
        needsConsent,
        cancel: async () => {
          settled = true;
          await discard();
        },
        apply: async ({ grant } = {}) => {
          if (settled) throw new AirlockError('UPDATE_FAILED', `this update of \`${id}\` was already applied or cancelled`, { plugin: id });
          if (needsConsent && grant === undefined) {
            throw new AirlockError('CONSENT_REQUIRED', `${id} ${checked.manifest.version} asks for more than was granted: ${describeDiff(added)}`, {
              plugin: id,
              hint: 'Show the user the difference and apply with their grant (`--yes` on the CLI), or cancel.',
            });
          }
          settled = true;
          try {
            return await this.#applyUpdate(current, recordedSource(parsed), checked, grant, options);
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

  async #applyUpdate(current: InstalledPlugin, source: string, checked: Checked, grant: Grant | 'manifest' | undefined, options: Pick<InstallOptions, 'onStep'>): Promise<InstalledPlugin> {
    const consent = grant === undefined ? current.grant : consentOf(checked.manifest, grant, current.config);
    const next: InstalledPlugin = { ...this.#record(checked, source, consent, current.config), enabled: current.enabled, installedAt: current.installedAt, updatedAt: Date.now() };
    const oldDir = this.dir(current);
    const newDir = this.dir(next);
    if (newDir === oldDir) throw new AirlockError('UPDATE_FAILED', `\`${current.id}\` ${current.version} is already installed with this exact content`, { plugin: current.id });
    await this.#place(checked.dir, next);
    await options.onStep?.('staged');
    try {
      if (this.#host.isLoaded(current.id)) await this.#host.reload(current.id, newDir, next.grant, next.config, next.componentSha256);
      else await this.#host.trial(newDir, next.grant, next.config);
    } catch (err) {
      // Roll back: the old version stays recorded, loaded and on disk.
      await rm(newDir, { recursive: true, force: true });
      this.#host.emit('plugin-rolled-back', current);
      throw new AirlockError('UPDATE_FAILED', `\`${current.id}\` ${next.version} failed to start, so ${current.version} stays installed: ${(err as Error).message}`, { plugin: current.id, cause: err });
    }
    this.#state.put(next);
    await options.onStep?.('committed');
    await rm(oldDir, { recursive: true, force: true });
    if (checked.warning) this.#warn(checked.warning, next.id);
    this.#host.emit('plugin-updated', next);
    return next;
  }

  /** Remove a plugin. Refused while other installed plugins require it, unless `force`. Its stored data is kept. */
  async remove(id: string, options: { force?: boolean } = {}): Promise<InstalledPlugin> {
    const plugin = this.#require(id);
    this.#refuseIfRequired(plugin, 'remove', options.force, () => true);
    if (this.#host.isLoaded(id)) await this.#host.unload(id);
    this.#state.delete(id);
    await rm(join(this.#home, 'plugins', id), { recursive: true, force: true });
    this.#host.emit('plugin-removed', plugin);
    return plugin;
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
        return { id: p.id, version: p.version, componentIntact, manifestIntact, signature, ok: componentIntact && manifestIntact && signatureOk };
      }),
    );
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
    await mkdir(join(this.#home, 'staging'), { recursive: true });
    return mkdtemp(join(this.#home, 'staging', 'x-'));
  }

  /** Move a checked package into its version folder (not yet committed). */
  async #place(dir: string, plugin: InstalledPlugin): Promise<void> {
    const target = this.dir(plugin);
    await mkdir(dirname(target), { recursive: true });
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
    // Component present, of the manifest's kind and a served contract; config and grant valid.
    await this.#host.trial(dir, grant, config);
    const component = await readFile(join(dir, manifest.component));
    const signature: SignatureRecord =
      verification.status === 'signed' ? { status: 'signed', keyId: verification.keyId } : verification.status === 'untrusted' ? { status: 'untrusted', keyId: verification.keyId } : { status: 'unsigned' };
    return { dir, manifest, componentSha256: sha256(component), manifestSha256: manifestDigest(pkg), signature, warning };
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

/**
 * `airlock plugin list|info|add|update|remove|enable|disable|verify` and
 * `airlock grant|revoke`: the installed plugins under --home.
 */
import {
  AirlockError,
  capabilityDiff,
  describeDiff,
  parseSource,
  readManifest,
  type CapabilityDiff,
  type Grant,
  type Host,
  type InstallStep,
  type InstalledPlugin,
  type SignatureRecord,
  type Verification,
} from '@airlock/host';
import { parseConfigs } from './args.js';
import { addToGrant, askedCapabilities, capabilityItems, capabilityLines, describeItem, parseGrantItem, removeFromGrant, type GrantItem } from './capabilities.js';
import { CliError, UsageError, startSpinner, table, type Ui } from './output.js';

/** The one `<id>` argument of a plugin command, checked before the host opens. */
export function pluginTarget(command: string, rest: string[], optional = false): string | undefined {
  const [id, ...extra] = rest;
  if (id === undefined && !optional) throw new UsageError(`name the plugin: airlock ${command} <id>`);
  if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\``);
  return id;
}

/** An installed plugin, or PLUGIN_NOT_INSTALLED naming the ones that are. */
function installed(host: Host, id: string): InstalledPlugin {
  const plugin = host.registry.get(id);
  if (plugin) return plugin;
  const known = host.registry.list().map((p) => p.id);
  throw new CliError('PLUGIN_NOT_INSTALLED', `no plugin \`${id}\` is installed`, known.length ? `Installed: ${known.join(', ')}.` : 'Install one with `airlock plugin add <source>`.');
}

/** The record as `--json` prints it: with the directory it is installed in. */
const withDir = (host: Host, plugin: InstalledPlugin) => ({ ...plugin, dir: host.registry.dir(plugin) });

export function signatureText(s: SignatureRecord | Verification): string {
  switch (s.status) {
    case 'signed':
      return `signed by ${s.keyId}`;
    case 'untrusted':
      return 'untrusted';
    case 'unsigned':
      return 'unsigned';
    case 'invalid':
      return `INVALID: ${s.reason}`;
  }
}

// ─── list, info ────────────────────────────────────────────────────────────

export function listPlugins(host: Host, ui: Ui): number {
  const plugins = host.registry.list();
  if (ui.json) {
    ui.print(`${JSON.stringify(plugins.map((p) => withDir(host, p)))}\n`);
    return 0;
  }
  const rows = plugins.map((p) => [p.id, p.version, p.kind, p.enabled ? 'enabled' : 'disabled', signatureText(p.signature), p.source]);
  ui.print(
    table(['ID', 'VERSION', 'KIND', 'STATUS', 'SIGNATURE', 'SOURCE'], rows, (cell, row, column) => {
      const p = plugins[row]!;
      if (column === 3) return p.enabled ? ui.out.green(cell) : ui.out.dim(cell);
      if (column === 4 && p.signature.status !== 'signed') return p.signature.status === 'untrusted' ? ui.out.red(cell) : ui.out.yellow(cell);
      return cell;
    }),
  );
  if (plugins.length === 0) ui.log(ui.err.dim('No plugins installed. Add one with `airlock plugin add <source>`.'));
  return 0;
}

export async function pluginInfo(host: Host, ui: Ui, id: string): Promise<number> {
  const p = installed(host, id);
  if (ui.json) {
    ui.print(`${JSON.stringify(withDir(host, p))}\n`);
    return 0;
  }
  const requires = Object.entries(p.requires).map(([dep, range]) => `${dep} ${range}`);
  const details: [string, string][] = [
    ['name', p.name],
    ['kind', p.kind],
    ['status', p.enabled ? ui.out.green('enabled') : ui.out.dim('disabled')],
    ['source', p.source],
    ['signature', signatureText(p.signature)],
    ['component', `sha256 ${p.componentSha256}`],
    ['manifest', `sha256 ${p.manifestSha256}`],
    ['requires', requires.length ? requires.join(', ') : '(nothing)'],
    ['config', JSON.stringify(p.config)],
    ['installed', new Date(p.installedAt).toISOString()],
    ['updated', new Date(p.updatedAt).toISOString()],
    ['directory', host.registry.dir(p)],
  ];
  const lines = details.map(([label, value]) => `  ${label.padEnd(9)}  ${value}\n`);
  ui.print(`${ui.out.bold(p.id)} ${p.version}\n${lines.join('')}Granted\n${capabilityLines(ui.out, capabilityItems(p.grant))}`);
  await warnIfUncovered(host, ui, p);
  return 0;
}

/** Say so when the recorded grant no longer covers what the installed manifest asks for: the plugin will not load. */
async function warnIfUncovered(host: Host, ui: Ui, p: InstalledPlugin): Promise<void> {
  const manifest = await readManifest(host.registry.dir(p)).catch(() => undefined);
  if (!manifest) return;
  const missing = capabilityDiff(askedCapabilities(manifest, p.config), p.grant);
  const text = describeDiff(missing);
  if (text) ui.log(`${ui.err.yellow('warning:')} ${p.id} asks for ${text}, which is not granted: it will not load until it is (\`airlock grant ${p.id} …\`)`);
}

// ─── add, update ───────────────────────────────────────────────────────────

/** Progress of an install or update on stderr: one updating status line on a terminal, else a plain line per step. */
class Progress {
  readonly #ui: Ui;
  readonly #title: string;
  #text = 'starting';
  #stop: (() => void) | undefined;

  constructor(ui: Ui, title: string) {
    this.#ui = ui;
    this.#title = title;
  }

  start(): void {
    this.#stop ??= startSpinner(this.#ui, () => `${this.#title} › ${this.#text}`);
  }

  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
  }

  readonly onProgress = (message: string): void => this.#show(message);
  readonly onStep = (step: InstallStep): void => this.#show(step);

  #show(text: string): void {
    this.#text = text;
    if (!this.#ui.io.stderrIsTTY) this.#ui.log(this.#ui.err.dim(`› ${text}`));
  }
}

/**
 * Ask the user to consent (a terminal), or take `--yes`. Without either,
 * fail with CONSENT_REQUIRED; a "no" fails with CONSENT_DECLINED. `what`
 * completes "… asks for <what>".
 */
async function consent(ui: Ui, yes: boolean, what: { subject: string; asked: string; outcome: string }): Promise<void> {
  if (yes) return;
  const { prompt } = ui.io;
  if (!ui.io.stdinIsTTY || !prompt) {
    throw new CliError('CONSENT_REQUIRED', `${what.subject} asks for ${what.asked}; ${what.outcome}`, 'Pass --yes to grant it (stdin is not a terminal, so airlock cannot ask).');
  }
  ui.status(undefined);
  const answer = await prompt('Grant these? [y/N] ');
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('CONSENT_DECLINED', `not granted; ${what.outcome}`);
}

export interface AddOptions {
  source: string;
  yes: boolean;
  /** `--config` flags: all for the plugin being added. */
  config: Map<string, Record<string, unknown>>;
}

/** `<source>` and its `--config`, checked before the host opens. */
export function addTarget(rest: string[], configFlags: readonly string[]): Omit<AddOptions, 'yes'> {
  const [source, ...extra] = rest;
  if (!source) throw new UsageError('name what to install: airlock plugin add <source> (a directory, a .tgz, npm:<spec> or a git URL)');
  if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\``);
  const config = parseConfigs(configFlags);
  if (config.size > 1) throw new UsageError(`\`--config\` names several plugins (${[...config.keys()].join(', ')}); \`plugin add\` installs one`);
  return { source, config };
}

export async function addPlugin(host: Host, ui: Ui, options: AddOptions): Promise<number> {
  const { source, yes } = options;
  const [configId, config = {}] = [...options.config.entries()][0] ?? [];
  let grant: Grant | 'manifest' = yes ? 'manifest' : {};
  const parsed = await parseSource(source);
  if (parsed.kind === 'directory') {
    // A directory can be read before it is fetched: show what it asks for, and ask.
    const manifest = await readManifest(parsed.location);
    checkConfigTarget(configId, manifest.id);
    const items = capabilityItems(askedCapabilities(manifest, config));
    if (items.length && !yes) {
      ui.log(`${ui.err.bold(manifest.id)} ${manifest.version} asks for:`);
      ui.io.stderr(capabilityLines(ui.err, items));
      await consent(ui, yes, { subject: `${manifest.id} ${manifest.version}`, asked: items.map((i) => `${i.capability} ${i.value}`).join(', '), outcome: 'nothing was installed' });
      grant = 'manifest';
    }
  }
  const progress = new Progress(ui, `Installing ${source}`);
  progress.start();
  let plugin: InstalledPlugin;
  try {
    plugin = await host.registry.install(source, { grant, config, onProgress: progress.onProgress, onStep: progress.onStep });
  } catch (err) {
    progress.stop();
    // Another kind of source is read only when fetched: it asked for something, and nothing was granted.
    if (AirlockError.isInstance(err) && err.code === 'CAPABILITY_NOT_GRANTED') {
      throw new CliError('CONSENT_REQUIRED', `${err.message}; nothing was installed`, `Run \`airlock plugin add ${source} --yes\` to grant what it asks for.`);
    }
    throw err;
  } finally {
    progress.stop();
  }
  if (configId !== undefined && configId !== plugin.id) {
    await host.registry.remove(plugin.id, { force: true });
    checkConfigTarget(configId, plugin.id);
  }
  if (ui.json) ui.print(`${JSON.stringify(withDir(host, plugin))}\n`);
  else ui.print(`${ui.out.green('✔')} Installed ${ui.out.bold(plugin.id)} ${plugin.version}\n${yes ? `Granted\n${capabilityLines(ui.out, capabilityItems(plugin.grant))}` : ''}`);
  return 0;
}

function checkConfigTarget(configId: string | undefined, id: string): void {
  if (configId !== undefined && configId !== id) throw new UsageError(`\`--config\` names plugin \`${configId}\`, but the source holds \`${id}\`; nothing was installed`);
}

export async function updatePlugin(host: Host, ui: Ui, id: string, source: string | undefined, yes: boolean): Promise<number> {
  installed(host, id);
  const progress = new Progress(ui, `Updating ${id}`);
  progress.start();
  const plan = await host.registry.update(id, source, { onProgress: progress.onProgress, onStep: progress.onStep }).finally(() => progress.stop());
  let added: CapabilityDiff | undefined;
  try {
    if (plan.needsConsent) {
      added = plan.added;
      ui.log(`${ui.err.bold(id)} ${plan.from} → ${plan.to} asks for more than ${plan.from} was granted:`);
      ui.io.stderr(capabilityLines(ui.err, capabilityItems(plan.added)));
      await consent(ui, yes, { subject: `${id} ${plan.to}`, asked: `more than ${id} ${plan.from} was granted: ${describeDiff(plan.added)}`, outcome: 'nothing was changed' });
    }
  } catch (err) {
    await plan.cancel();
    throw err;
  }
  progress.start();
  const updated = await (added ? plan.apply({ grant: 'manifest' }) : plan.apply()).finally(() => progress.stop());
  if (ui.json) ui.print(`${JSON.stringify({ from: plan.from, to: plan.to, added: plan.added, plugin: withDir(host, updated) })}\n`);
  else ui.print(`${ui.out.green('✔')} Updated ${ui.out.bold(id)} ${plan.from} → ${plan.to}\n`);
  return 0;
}

// ─── remove, enable, disable ───────────────────────────────────────────────

export async function removePlugin(host: Host, ui: Ui, id: string, force: boolean): Promise<number> {
  installed(host, id);
  const removed = await host.registry.remove(id, { force });
  if (ui.json) ui.print(`${JSON.stringify(removed)}\n`);
  else ui.print(`${ui.out.green('✔')} Removed ${ui.out.bold(id)} ${removed.version} ${ui.out.dim('(its stored data is kept)')}\n`);
  return 0;
}

export async function setEnabled(host: Host, ui: Ui, id: string, enabled: boolean, force: boolean): Promise<number> {
  installed(host, id);
  const plugin = enabled ? await host.registry.enable(id) : await host.registry.disable(id, { force });
  if (ui.json) ui.print(`${JSON.stringify(withDir(host, plugin))}\n`);
  else ui.print(`${ui.out.green('✔')} ${enabled ? 'Enabled' : 'Disabled'} ${ui.out.bold(id)} ${plugin.version}\n`);
  return 0;
}

// ─── verify ────────────────────────────────────────────────────────────────

export async function verifyPlugins(host: Host, ui: Ui, id: string | undefined): Promise<number> {
  if (id !== undefined) installed(host, id);
  const reports = await host.registry.verify(id);
  const failed = reports.filter((r) => !r.ok);
  if (ui.json) {
    ui.print(`${JSON.stringify(reports)}\n`);
  } else {
    const intact = (ok: boolean) => (ok ? 'ok' : 'CHANGED');
    const rows = reports.map((r) => [r.id, r.version, intact(r.componentIntact), intact(r.manifestIntact), signatureText(r.signature)]);
    ui.print(
      table(['ID', 'VERSION', 'COMPONENT', 'MANIFEST', 'SIGNATURE'], rows, (cell, row, column) => {
        const r = reports[row]!;
        const bad = (column === 2 && !r.componentIntact) || (column === 3 && !r.manifestIntact) || (column === 4 && !r.ok && r.signature.status !== 'signed');
        return bad ? ui.out.red(cell) : column >= 2 && column <= 3 ? ui.out.green(cell) : cell;
      }),
    );
    if (reports.length === 0) ui.log(ui.err.dim('No plugins installed.'));
  }
  if (failed.length === 0) return 0;
  const names = failed.map((r) => r.id).join(', ');
  ui.log(`${ui.err.red('error')}: ${failed.length === 1 ? '1 plugin fails' : `${failed.length} plugins fail`} verification: ${names}`);
  ui.log(`${ui.err.dim('hint:')} Do not run ${failed.length === 1 ? 'it' : 'them'}. Reinstall from a source you trust (\`airlock plugin remove <id>\`, then \`airlock plugin add <source>\`).`);
  return 1;
}

// ─── grant, revoke ─────────────────────────────────────────────────────────

export interface GrantChange {
  id: string;
  item: GrantItem;
  /** For revoke: `<path>:read-write` was given, so read-write becomes read-only instead of removing the path. */
  explicitReadWrite: boolean;
}

/** `<id> <capability> [value]`, checked before the host opens. */
export function grantTarget(command: 'grant' | 'revoke', rest: string[]): GrantChange {
  const [id, capability, value, ...extra] = rest;
  if (!id) throw new UsageError(`name the plugin: airlock ${command} <id> <capability> [value]`);
  if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\``);
  const item = parseGrantItem(command, capability, value);
  return { id, item, explicitReadWrite: value?.endsWith(':read-write') ?? false };
}

export async function changeGrant(host: Host, ui: Ui, command: 'grant' | 'revoke', change: GrantChange): Promise<number> {
  const p = installed(host, change.id);
  const { grant, changed } = command === 'grant' ? addToGrant(p.grant, change.item) : removeFromGrant(p.grant, change.item, change.explicitReadWrite);
  const next = changed ? host.registry.setGrant(p.id, grant) : p;
  if (ui.json) {
    ui.print(`${JSON.stringify({ id: p.id, changed, grant: next.grant })}\n`);
  } else {
    const what = describeItem(change.item);
    const head = !changed
      ? `${ui.out.dim('=')} ${p.id}: ${command === 'grant' ? `${what} was already granted` : `${what} was not granted`}; nothing changed`
      : `${ui.out.green('✔')} ${command === 'grant' ? `Granted ${what} to` : `Revoked ${what} from`} ${ui.out.bold(p.id)}`;
    ui.print(`${head}\n${p.id} may now use\n${capabilityLines(ui.out, capabilityItems(next.grant))}`);
    if (changed) ui.log(ui.err.dim('It takes effect the next time the plugin loads.'));
  }
  await warnIfUncovered(host, ui, next);
  return 0;
}

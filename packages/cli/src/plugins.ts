/**
 * `airlock plugin list|info|add|update|remove|enable|disable|verify` and
 * `airlock grant|revoke`: the installed plugins under --home.
 */
import {
  AirlockError,
  addToGrant,
  grantItemAsAsked,
  capabilityDiff,
  capabilityItems,
  describeDiff,
  describeGrantItem,
  formatBytes,
  removeFromGrant,
  parseSource,
  readManifest,
  type CapabilityDiff,
  type DataOffer,
  type DataOwner,
  type Grant,
  type GrantItem,
  type Host,
  type InstallStep,
  type InstalledPlugin,
  type PluginMetrics,
  type SignatureRecord,
  type StoredData,
  type Verification,
} from '@airlock/host';
import { parseConfigs } from './args.js';
import { askedCapabilities, capabilityLines, grantItemOf } from './capabilities.js';
import { CliError, UsageError, startSpinner, table, type Ui } from './output.js';
import { ms, readMetrics, type MetricsSource } from './top.js';

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

// ─── stored data ───────────────────────────────────────────────────────────

/** "@airlock/example-notes (unsigned)", "@acme/notes (key 3f9c0a1b2c3d4e5f)": whose data it is. */
export function ownerText(owner: DataOwner): string {
  if (owner.package === null) return 'an unknown package (stored before Airlock recorded owners)';
  return `${owner.package} (${owner.keyId === null ? 'unsigned' : `key ${owner.keyId}`})`;
}

/** "287 B", "1.2 KiB", "3.4 MiB". */
export function approxBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/** "3 keys (1.2 KiB)". */
export const sizeText = (d: Pick<StoredData, 'keys' | 'bytes'>): string => `${d.keys} ${d.keys === 1 ? 'key' : 'keys'} (${approxBytes(d.bytes)})`;

/** One line on data kept under an id: whose it is, and how to delete it. */
function keptLine(d: StoredData, installed: boolean): string {
  const purge = `\`airlock plugin remove ${d.id} --purge\` deletes it`;
  return installed
    ? `${d.id}: ${sizeText(d)} kept for ${ownerText(d.owner)}, not the installed package — ${purge} (and removes ${d.id})`
    : `${d.id}: not installed, ${sizeText(d)} kept for ${ownerText(d.owner)} — ${purge}`;
}

/** Stored data by plugin id. */
function byId(data: StoredData[]): Map<string, StoredData[]> {
  const map = new Map<string, StoredData[]>();
  for (const d of data) map.set(d.id, [...(map.get(d.id) ?? []), d]);
  return map;
}

// ─── list, info ────────────────────────────────────────────────────────────

/** The figures of the plugins a running server has loaded, by id, when `--url` names one. */
async function runningIn(live: MetricsSource | undefined): Promise<Map<string, PluginMetrics> | undefined> {
  return live && new Map((await readMetrics(live)).map((m) => [m.id, m]));
}

/** A plugin's status: its state in the server when the server has it loaded, else whether it is enabled. */
const statusText = (p: InstalledPlugin, running: PluginMetrics | undefined) => running?.state ?? (p.enabled ? 'enabled' : 'disabled');

/** `text` in the colour of that status. */
function paintStatus(ui: Ui, p: InstalledPlugin, running: PluginMetrics | undefined, text = statusText(p, running)): string {
  const status = statusText(p, running);
  return status === 'active' || status === 'enabled' ? ui.out.green(text) : status === 'disabled' ? ui.out.dim(text) : status === 'failed' ? ui.out.red(text) : ui.out.yellow(text);
}

const errorCount = (m: PluginMetrics) => Object.values(m.errors).reduce((a, b) => a + b, 0);

export async function listPlugins(host: Host, ui: Ui, live?: MetricsSource): Promise<number> {
  const plugins = host.registry.list();
  const [data, running] = await Promise.all([host.registry.storedData(), runningIn(live)]);
  const installedIds = new Set(plugins.map((p) => p.id));
  if (ui.json) {
    // Installed plugins, and ids that only have data kept (`installed: false`), by id.
    const grouped = byId(data);
    const runtime = (id: string) => (running?.has(id) ? { runtime: running.get(id) } : {});
    const entries = [
      ...plugins.map((p) => ({ ...withDir(host, p), installed: true, storedData: grouped.get(p.id) ?? [], ...runtime(p.id) })),
      ...[...grouped].filter(([id]) => !installedIds.has(id)).map(([id, stored]) => ({ id, installed: false, storedData: stored })),
    ].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    ui.print(`${JSON.stringify(entries)}\n`);
    return 0;
  }
  // With a server: its state for the plugins it has loaded, and their calls, errors and p99.
  const figures = (p: InstalledPlugin) => {
    const m = running?.get(p.id);
    return !running ? [] : m ? [String(m.calls), String(errorCount(m)), m.latency.count ? ms(m.latency.p99Ms) : '-'] : ['-', '-', '-'];
  };
  const rows = plugins.map((p) => [p.id, p.version, p.kind, statusText(p, running?.get(p.id)), signatureText(p.signature), ...figures(p), p.source]);
  const header = ['ID', 'VERSION', 'KIND', 'STATUS', 'SIGNATURE', ...(running ? ['CALLS', 'ERRORS', 'P99'] : []), 'SOURCE'];
  ui.print(
    table(header, rows, (cell, row, column) => {
      const p = plugins[row]!;
      if (column === 3) return paintStatus(ui, p, running?.get(p.id), cell);
      if (column === 4 && p.signature.status !== 'signed') return p.signature.status === 'untrusted' ? ui.out.red(cell) : ui.out.yellow(cell);
      return cell;
    }),
  );
  const kept = data.filter((d) => !d.inUse);
  if (kept.length) ui.print(`\nKept stored data\n${kept.map((d) => `  ${keptLine(d, installedIds.has(d.id))}\n`).join('')}`);
  if (plugins.length === 0) ui.log(ui.err.dim('No plugins installed. Add one with `airlock plugin add <source>`.'));
  return 0;
}

export async function pluginInfo(host: Host, ui: Ui, id: string, live?: MetricsSource): Promise<number> {
  const data = await host.registry.storedData(id);
  if (!host.registry.get(id) && data.length > 0) return keptInfo(ui, id, data);
  const p = installed(host, id);
  const running = (await runningIn(live))?.get(id);
  if (ui.json) {
    ui.print(`${JSON.stringify({ ...withDir(host, p), storedData: data, ...(running ? { runtime: running } : {}) })}\n`);
    return 0;
  }
  const own = data.find((d) => d.inUse);
  const requires = Object.entries(p.requires).map(([dep, range]) => `${dep} ${range}`);
  const details: [string, string][] = [
    ['name', p.name],
    ['kind', p.kind],
    ['status', `${paintStatus(ui, p, running)}${running ? '' : live ? ui.out.dim(', not loaded in the server') : ''}`],
    ...(running ? runtimeLines(ui, running) : []),
    ['source', p.source],
    ['signature', signatureText(p.signature)],
    ['component', `sha256 ${p.componentSha256}`],
    ['manifest', `sha256 ${p.manifestSha256}`],
    ['requires', requires.length ? requires.join(', ') : '(nothing)'],
    ['config', JSON.stringify(p.config)],
    ['installed', new Date(p.installedAt).toISOString()],
    ['updated', new Date(p.updatedAt).toISOString()],
    ['directory', host.registry.dir(p)],
    ['data', own && own.keys > 0 ? `${sizeText(own)}, of ${ownerText(own.owner)}` : '(none stored)'],
    ...data.filter((d) => !d.inUse).map((d): [string, string] => ['kept', `${sizeText(d)} for ${ownerText(d.owner)}, not this package, since ${new Date(d.keptSince!).toISOString()}`]),
  ];
  const lines = details.map(([label, value]) => `  ${label.padEnd(9)}  ${value}\n`);
  ui.print(`${ui.out.bold(p.id)} ${p.version}\n${lines.join('')}Granted\n${capabilityLines(ui.out, capabilityItems(p.grant))}`);
  await warnIfUncovered(host, ui, p);
  return 0;
}

/** What a running server says of a plugin it has loaded: since when in its state, its calls, latency and memory. */
function runtimeLines(ui: Ui, m: PluginMetrics): [string, string][] {
  const errors = Object.entries(m.errors).map(([code, n]) => `${code} ${n}`);
  const at = (epochMs: number) => new Date(epochMs).toISOString();
  return [
    ['since', `${at(m.since)}${m.retryAt ? `, calls refused until ${at(m.retryAt)}` : ''}`],
    ['calls', `${m.calls}, ${errors.length ? `${errorCount(m)} failed (${errors.join(', ')})` : 'none failed'}; ${m.inFlight} running, ${m.queued} waiting`],
    ...(m.latency.count ? [['latency', `p50 ${ms(m.latency.p50Ms)}, p90 ${ms(m.latency.p90Ms)}, p99 ${ms(m.latency.p99Ms)}`] as [string, string]] : []),
    ['restarts', String(m.restarts)],
    ['memory', `${formatBytes(m.memoryHighWaterBytes)} at most`],
    ...(m.lastError ? [['error', `the last: ${ui.out.red(m.lastError.code)} ${m.lastError.message} (${at(m.lastError.at)})`] as [string, string]] : []),
  ];
}

/** `plugin info <id>` for an id that is not installed but has data kept. */
function keptInfo(ui: Ui, id: string, data: StoredData[]): number {
  if (ui.json) {
    ui.print(`${JSON.stringify({ id, installed: false, storedData: data })}\n`);
    return 0;
  }
  const lines = data.map((d) => `  kept       ${sizeText(d)} for ${ownerText(d.owner)}, since ${new Date(d.keptSince!).toISOString()}\n`);
  ui.print(
    `${ui.out.bold(id)}: not installed\n${lines.join('')}` +
      `Adding the same package (name and signing key) again finds its data; another package added as ${id} starts with empty storage unless added with --keep-data.\n` +
      `\`airlock plugin remove ${id} --purge\` deletes it.\n`,
  );
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
  /** `--keep-data`: hand data kept under the plugin's id for another package to this one. */
  keepData: boolean;
  /** `--config` flags: all for the plugin being added. */
  config: Map<string, Record<string, unknown>>;
}

/** `<source>` and its `--config`, checked before the host opens. */
export function addTarget(rest: string[], configFlags: readonly string[]): Omit<AddOptions, 'yes' | 'keepData'> {
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
  let handedOver: StoredData | undefined;
  // Asked only when there is data of another package to hand over, and this one has none of its own.
  const keepData = async (offer: DataOffer): Promise<boolean> => {
    progress.stop();
    const yesToIt = await handOver(ui, yes, offer.data, offer.to);
    if (yesToIt) handedOver = offer.data;
    progress.start();
    return yesToIt;
  };
  try {
    plugin = await host.registry.install(source, { grant, config, onProgress: progress.onProgress, onStep: progress.onStep, keepData: options.keepData ? keepData : false });
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
  const data = await host.registry.storedData(plugin.id);
  if (ui.json) {
    ui.print(`${JSON.stringify({ ...withDir(host, plugin), storedData: data })}\n`);
    return 0;
  }
  const own = data.find((d) => d.inUse);
  const found = handedOver
    ? `It was handed the data kept for ${ownerText(handedOver.owner)}: ${sizeText(handedOver)}\n`
    : own && own.keys > 0
      ? `Its stored data was found: ${sizeText(own)}\n`
      : '';
  ui.print(`${ui.out.green('✔')} Installed ${ui.out.bold(plugin.id)} ${plugin.version}\n${found}${yes ? `Granted\n${capabilityLines(ui.out, capabilityItems(plugin.grant))}` : ''}`);
  const kept = data.filter((d) => !d.inUse);
  if (kept.length === 0) return 0;
  const mine = ownerText({ package: plugin.name, keyId: plugin.signature.status === 'unsigned' ? null : plugin.signature.keyId });
  const start = own && own.keys > 0 ? `${plugin.id} uses its own stored data` : `${plugin.id} starts with empty storage`;
  for (const d of kept) ui.log(`${ui.err.yellow('note:')} ${start}: ${sizeText(d)} stored under \`${plugin.id}\` belong to ${ownerText(d.owner)}, not to ${mine}, and stay kept for it.`);
  ui.log(
    `${ui.err.dim('hint:')} Adding that package again finds them. To hand them to this one: \`airlock plugin remove ${plugin.id}\`, then add it again with --keep-data. \`airlock plugin remove ${plugin.id} --purge\` deletes them.`,
  );
  return 0;
}

/**
 * `--keep-data`: say whose data would be handed to whom and, on a terminal
 * (without --yes), ask. Off a terminal, --keep-data is the answer.
 */
async function handOver(ui: Ui, yes: boolean, data: StoredData, to: DataOwner): Promise<boolean> {
  ui.log(`${ui.err.bold(data.id)}: ${sizeText(data)} stored under this id belong to ${ownerText(data.owner)}; --keep-data hands them to ${ownerText(to)}.`);
  const { prompt } = ui.io;
  if (yes || !ui.io.stdinIsTTY || !prompt) return true;
  ui.status(undefined);
  const handed = /^y(es)?$/i.test((await prompt('Hand them over? [y/N] ')).trim());
  if (!handed) ui.log(ui.err.dim(`Not handed over; ${to.package} starts with empty storage, and the data stays kept for ${ownerText(data.owner)}.`));
  return handed;
}

function checkConfigTarget(configId: string | undefined, id: string): void {
  if (configId !== undefined && configId !== id) throw new UsageError(`\`--config\` names plugin \`${configId}\`, but the source holds \`${id}\`; nothing was installed`);
}

export async function updatePlugin(host: Host, ui: Ui, id: string, source: string | undefined, yes: boolean, keepData = false): Promise<number> {
  installed(host, id);
  const progress = new Progress(ui, `Updating ${id}`);
  progress.start();
  const plan = await host.registry.update(id, source, { onProgress: progress.onProgress, onStep: progress.onStep }).finally(() => progress.stop());
  let added: CapabilityDiff | undefined;
  let handed = false;
  try {
    if (plan.needsConsent) {
      added = plan.added;
      ui.log(`${ui.err.bold(id)} ${plan.from} → ${plan.to} asks for more than ${plan.from} was granted:`);
      ui.io.stderr(capabilityLines(ui.err, capabilityItems(plan.added)));
      await consent(ui, yes, { subject: `${id} ${plan.to}`, asked: `more than ${id} ${plan.from} was granted: ${describeDiff(plan.added)}`, outcome: 'nothing was changed' });
    }
    // Another package (name or signing key) under the same id: the data stays with its owner unless handed over.
    if (plan.ownerChanged) {
      ui.log(`${ui.err.yellow('warning:')} ${id} ${plan.to} is another package than ${plan.from}: ${ownerText(plan.owner.from)} → ${ownerText(plan.owner.to)}`);
      if (plan.data && plan.data.keys > 0) {
        if (keepData) handed = await handOver(ui, yes, plan.data, plan.owner.to);
        else {
          ui.log(`${ui.err.yellow('note:')} its stored data (${sizeText(plan.data)}) stays kept for ${ownerText(plan.owner.from)}; ${id} ${plan.to} does not get it.`);
          ui.log(`${ui.err.dim('hint:')} Pass --keep-data to hand it over; \`airlock plugin remove ${id} --purge\` deletes it.`);
        }
      }
    }
  } catch (err) {
    await plan.cancel();
    throw err;
  }
  progress.start();
  const updated = await plan.apply({ ...(added ? { grant: 'manifest' as const } : {}), keepData: handed }).finally(() => progress.stop());
  if (ui.json) {
    ui.print(`${JSON.stringify({ from: plan.from, to: plan.to, added: plan.added, ownerChanged: plan.ownerChanged, dataHandedOver: handed, plugin: withDir(host, updated) })}\n`);
  } else {
    ui.print(`${ui.out.green('✔')} Updated ${ui.out.bold(id)} ${plan.from} → ${plan.to}\n${handed && plan.data ? `It was handed the data kept for ${ownerText(plan.owner.from)}: ${sizeText(plan.data)}\n` : ''}`);
  }
  return 0;
}

// ─── remove, enable, disable ───────────────────────────────────────────────

/**
 * `plugin remove <id> [--purge]`. Without --purge the data stays kept for its
 * package; with it, everything stored under `id` is deleted. An id that is not
 * installed but has data kept can be purged.
 */
export async function removePlugin(host: Host, ui: Ui, id: string, force: boolean, purge = false): Promise<number> {
  const before = await host.registry.storedData(id);
  if (!host.registry.get(id)) {
    if (before.length === 0) installed(host, id);
    if (!purge) {
      throw new CliError('PLUGIN_NOT_INSTALLED', `no plugin \`${id}\` is installed, but data is kept for it: ${before.map((d) => `${sizeText(d)} of ${ownerText(d.owner)}`).join('; ')}`, `\`airlock plugin remove ${id} --purge\` deletes it.`);
    }
    const purged = await host.registry.purge(id);
    if (ui.json) ui.print(`${JSON.stringify({ id, installed: false, purged })}\n`);
    else ui.print(`${ui.out.green('✔')} Deleted the data kept under ${ui.out.bold(id)}: ${purged.map((d) => `${sizeText(d)} of ${ownerText(d.owner)}`).join('; ')}\n`);
    return 0;
  }
  const removed = await host.registry.remove(id, { force, purge });
  const kept = purge ? [] : await host.registry.storedData(id);
  if (ui.json) {
    ui.print(`${JSON.stringify({ ...removed, purged: purge ? before : [], kept })}\n`);
    return 0;
  }
  const own = before.find((d) => d.inUse && d.keys > 0);
  const others = before.filter((d) => !d.inUse);
  let outcome: string;
  if (purge) {
    const deleted = [...(own ? [`its stored data (${sizeText(own)})`] : []), ...others.map((d) => `the data kept for ${ownerText(d.owner)} (${sizeText(d)})`)];
    outcome = deleted.length ? ` and deleted ${deleted.join(' and ')}` : ' (it had no stored data)';
  } else {
    outcome = own ? `; its stored data is kept for ${ownerText(own.owner)}: ${sizeText(own)} — \`airlock plugin remove ${id} --purge\` deletes it` : ' (it had no stored data)';
  }
  ui.print(`${ui.out.green('✔')} Removed ${ui.out.bold(id)} ${removed.version}${outcome}\n`);
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
    // The transpiled output the host runs: `none` until a load builds it from the (checked) component.
    const cached = (state: 'intact' | 'absent' | 'tampered') => (state === 'intact' ? 'ok' : state === 'absent' ? 'none' : 'CHANGED');
    const rows = reports.map((r) => [r.id, r.version, intact(r.componentIntact), intact(r.manifestIntact), cached(r.cache), signatureText(r.signature)]);
    ui.print(
      table(['ID', 'VERSION', 'COMPONENT', 'MANIFEST', 'CACHE', 'SIGNATURE'], rows, (cell, row, column) => {
        const r = reports[row]!;
        const bad =
          (column === 2 && !r.componentIntact) || (column === 3 && !r.manifestIntact) || (column === 4 && !r.cacheIntact) || (column === 5 && !r.ok && r.signature.status !== 'signed');
        return bad ? ui.out.red(cell) : column >= 2 && column <= 4 && cell === 'ok' ? ui.out.green(cell) : cell;
      }),
    );
    if (reports.length === 0) ui.log(ui.err.dim('No plugins installed.'));
    for (const r of reports) if (r.understatedRisk && r.ok) ui.log(`${ui.err.yellow('warning')}: ${r.understatedRisk}`);
  }
  if (failed.length === 0) return 0;
  const names = failed.map((r) => r.id).join(', ');
  ui.log(`${ui.err.red('error')}: ${failed.length === 1 ? '1 plugin fails' : `${failed.length} plugins fail`} verification: ${names}`);
  for (const r of failed) if (r.cacheProblem) ui.log(`  ${r.id}: its cached transpiled output changed since it was written: ${r.cacheProblem}`);
  for (const r of failed) if (r.understatedRisk) ui.log(`  ${r.id}: ${r.understatedRisk}, which the host's policy refuses`);
  const risky = (r: (typeof failed)[number]) => r.understatedRisk !== undefined;
  const intactFiles = (r: (typeof failed)[number]) => r.componentIntact && r.manifestIntact && r.cacheIntact && r.signature.status !== 'invalid';
  if (failed.every((r) => risky(r) && intactFiles(r))) {
    ui.log(`${ui.err.dim('hint:')} Take back what the tools do not need (\`airlock revoke <id> <capability>\`), or ask the plugin's author to declare its tools' real risk levels.`);
    return 1;
  }
  // Only the cache changed: the installed files are as recorded, and a load rebuilds the output from them.
  const onlyCache = failed.every((r) => !r.cacheIntact && r.componentIntact && r.manifestIntact && r.signature.status !== 'invalid');
  if (onlyCache) {
    ui.log(
      `${ui.err.dim('hint:')} The installed ${failed.length === 1 ? 'plugin is' : 'plugins are'} as recorded; the next load discards the changed output and rebuilds it from the component. ` +
        `Something other than the host wrote to ${host.home}/cache: find out what.`,
    );
  } else {
    ui.log(`${ui.err.dim('hint:')} Do not run ${failed.length === 1 ? 'it' : 'them'}. Reinstall from a source you trust (\`airlock plugin remove <id>\`, then \`airlock plugin add <source>\`).`);
  }
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
  const item = grantItemOf(command, capability, value);
  return { id, item, explicitReadWrite: value?.endsWith(':read-write') ?? false };
}

export async function changeGrant(host: Host, ui: Ui, command: 'grant' | 'revoke', change: GrantChange): Promise<number> {
  const p = installed(host, change.id);
  // A credential the manifest binds to origins is granted bound: typing `credentials <id>` never widens it.
  const asked = command === 'grant' && change.item.capability === 'credentials' ? await readManifest(host.registry.dir(p)).catch(() => undefined) : undefined;
  const item = asked ? grantItemAsAsked(change.item, askedCapabilities(asked, p.config)) : change.item;
  const { grant, changed } = command === 'grant' ? addToGrant(p.grant, item) : removeFromGrant(p.grant, item, change.explicitReadWrite);
  const next = changed ? host.registry.setGrant(p.id, grant) : p;
  if (ui.json) {
    ui.print(`${JSON.stringify({ id: p.id, changed, grant: next.grant })}\n`);
  } else {
    const what = describeGrantItem(item);
    const head = !changed
      ? `${ui.out.dim('=')} ${p.id}: ${command === 'grant' ? `${what} was already granted` : `${what} was not granted`}; nothing changed`
      : `${ui.out.green('✔')} ${command === 'grant' ? `Granted ${what} to` : `Revoked ${what} from`} ${ui.out.bold(p.id)}`;
    ui.print(`${head}\n${p.id} may now use\n${capabilityLines(ui.out, capabilityItems(next.grant))}`);
    if (changed) ui.log(ui.err.dim('It takes effect the next time the plugin loads.'));
  }
  await warnIfUncovered(host, ui, next);
  return 0;
}

/**
 * One invocation's host: created in the home directory with the trust policy
 * of `<home>/config.json` and the flags, loaded with the `--plugin` directories
 * (or, without any, the installed and enabled plugins), closed when the command ends.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createHost, readManifest, type Host, type Logger, type Manifest, type TrustPolicy } from '@airlock/host';
import { parseConfigs, type Args } from './args.js';
import { CliError, Interrupted, UsageError, type Ui } from './output.js';

/** The host home: `--home`, else $AIRLOCK_HOME, else ~/.airlock. */
export function homeDir(args: Args, ui: Ui): string {
  return resolve(args.values.home ?? ui.io.env.AIRLOCK_HOME ?? join(homedir(), '.airlock'));
}

/** The file in the home that holds settings (today only `trust`). */
export const CONFIG_FILE = 'config.json';

/**
 * The trust policy: `trust` in `<home>/config.json` (keys as paths to public
 * key files, relative to the home, or PEM text), plus `--trust-key <file>`
 * (relative to the working directory) and `--require-signed`.
 */
export async function readTrust(home: string, args: Args): Promise<TrustPolicy> {
  const file = join(home, CONFIG_FILE);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    // No home (or not a directory): no settings; opening the host reports what is wrong with the home.
    if (!['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw new CliError('CONFIG_FILE_INVALID', `cannot read ${file}: ${(err as Error).message}`);
  }
  const { keys: configured = [], requireSigned = false } = text === undefined ? {} : parseConfigFile(file, text);
  const keys = await Promise.all([
    ...configured.map((entry) => readKey(entry, home, `in ${file}`)),
    ...(args.values['trust-key'] ?? []).map((path) => readKey(path, process.cwd(), 'given with --trust-key')),
  ]);
  return { keys, requireSigned: requireSigned || !!args.values['require-signed'] };
}

function parseConfigFile(file: string, text: string): { keys?: string[]; requireSigned?: boolean } {
  const invalid = (why: string) =>
    new CliError('CONFIG_FILE_INVALID', `${file} ${why}`, 'It should look like {"trust": {"keys": ["publisher.pub"], "requireSigned": true}}; key entries are paths (relative to the home) or PEM text.');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(`is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('is not a JSON object');
  const trust = (json as { trust?: unknown }).trust;
  if (trust === undefined) return {};
  if (typeof trust !== 'object' || trust === null || Array.isArray(trust)) throw invalid('has a `trust` that is not an object');
  const { keys, requireSigned } = trust as { keys?: unknown; requireSigned?: unknown };
  if (keys !== undefined && (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))) throw invalid('has a `trust.keys` that is not a list of strings');
  if (requireSigned !== undefined && typeof requireSigned !== 'boolean') throw invalid('has a `trust.requireSigned` that is not true or false');
  return { keys: keys as string[] | undefined, requireSigned };
}

/** A trusted key: PEM text as is, else the content of the file at `entry`. */
async function readKey(entry: string, base: string, where: string): Promise<string> {
  if (entry.includes('-----BEGIN')) return entry;
  const path = isAbsolute(entry) ? entry : resolve(base, entry);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError('TRUST_KEY_UNREADABLE', `cannot read the trusted key ${path} (${where}): ${(err as Error).message}`, 'Give the path of a public key file, such as the airlock-signing.pub that `airlock keys generate` writes.');
  }
}

/** Lines the host logs that the command reports itself, and so are not printed. */
type Mute = (entry: { level: string; message: string }) => boolean;

/**
 * Create the host for this invocation (no plugin loaded). Plugin and host log
 * lines go to stderr, so stdout stays parseable. `create`: whether a missing
 * home may be created (only commands that install or run plugin directories
 * do; the others fail with HOME_NOT_FOUND and leave no empty home behind).
 */
export async function openHost(args: Args, ui: Ui, { create, mute = () => false }: { create: boolean; mute?: Mute }): Promise<Host> {
  const home = homeDir(args, ui);
  const trust = await readTrust(home, args);
  const logger: Logger = ({ level, message, plugin }) => {
    if (level === 'trace' || level === 'debug' || mute({ level, message })) return;
    const tag = ui.err.dim(`[${plugin ?? 'airlock'}]`);
    const label = level === 'warn' ? `${ui.err.yellow('warning:')} ` : level === 'error' ? `${ui.err.red('error:')} ` : '';
    ui.log(`${tag} ${label}${message}`);
  };
  return createHost({ home, create, logger, env: ui.io.env, trust });
}

/**
 * Run `command` with a host and no plugin loaded (for managing installed
 * plugins); the host is closed afterwards. Only an install (`create`) makes a
 * home that does not exist yet.
 */
export async function withRegistry<T>(args: Args, ui: Ui, command: (host: Host) => Promise<T>, create = false): Promise<T> {
  const host = await openHost(args, ui, { create });
  try {
    return await command(host);
  } finally {
    await host.close();
  }
}

/**
 * Run `command` with a host holding the plugins to use: the `--plugin`
 * directories when any is given (and then only those), else the installed,
 * enabled plugins. The host is closed afterwards.
 */
export async function withHost<T>(args: Args, ui: Ui, command: (host: Host) => Promise<T>): Promise<T> {
  const dirs = args.values.plugin ?? [];
  if (dirs.length === 0) return withInstalled(args, ui, command);
  const configs = parseConfigs(args.values.config ?? []);
  const manifests = await Promise.all(dirs.map((dir) => readManifest(dir)));
  checkConfigTargets(configs, manifests);

  const host = await openHost(args, ui, { create: true });
  try {
    for (const [i, dir] of dirs.entries()) {
      await host.load(dir, { grant: args.values.yes ? 'manifest' : {}, config: configs.get(manifests[i]!.id) });
    }
    return await command(host);
  } finally {
    await host.close();
  }
}

async function withInstalled<T>(args: Args, ui: Ui, command: (host: Host) => Promise<T>): Promise<T> {
  if (args.values.yes) {
    throw new UsageError('`--yes` applies to --plugin directories; installed plugins run with the grant recorded when they were added (see `airlock plugin info <id>`, `airlock grant`)');
  }
  if (args.values.config?.length) {
    throw new UsageError('`--config` applies to --plugin directories; an installed plugin keeps the configuration given to `airlock plugin add`');
  }
  // loadInstalled logs each failure; it is reported below with its hint instead.
  let loading = false;
  const host = await openHost(args, ui, { create: false, mute: ({ level, message }) => loading && level === 'error' && message.startsWith('not loaded: ') });
  try {
    const installed = host.registry.list();
    if (installed.length === 0) {
      // Not an error in itself: listing nothing is a fine answer, and a command that needs a plugin fails on its own.
      ui.log(ui.err.dim(`note: no plugin is installed in ${homeDir(args, ui)}; add one with \`airlock plugin add <source>\`, or load a directory with --plugin <dir>`));
    }
    loading = true;
    const { failed } = await host.loadInstalled().finally(() => (loading = false));
    for (const { id, error } of failed) {
      ui.log(`${ui.err.yellow('warning:')} ${id} not loaded: ${error.message}`);
      // The host's hint for a missing grant speaks of its API; on the command line, the fix is `airlock grant`.
      const hint = error.code === 'CAPABILITY_NOT_GRANTED' ? `Grant it with \`airlock grant ${id} <capability> [value]\`, or update the plugin with --yes.` : error.hint;
      if (hint) ui.log(`${ui.err.dim('hint:')} ${hint}`);
    }
    if (installed.length > 0 && !installed.some((p) => p.enabled)) ui.log(ui.err.dim('note: every installed plugin is disabled; enable one with `airlock plugin enable <id>`'));
    return await command(host);
  } finally {
    await host.close();
  }
}

function checkConfigTargets(configs: Map<string, unknown>, manifests: Manifest[]): void {
  const ids = manifests.map((m) => m.id);
  for (const id of configs.keys()) {
    if (!ids.includes(id)) throw new UsageError(`\`--config\` names plugin \`${id}\`, but no --plugin has that id (loaded: ${ids.join(', ')})`);
  }
}

/**
 * Run `task` with a signal that Ctrl-C aborts (reason: `Interrupted`). After
 * the first Ctrl-C the handler is gone, so a second one ends the process.
 */
export async function interruptible<T>(ui: Ui, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = ui.io.onInterrupt(() => {
    stop();
    controller.abort(new Interrupted());
  });
  try {
    return await task(controller.signal);
  } finally {
    stop();
  }
}

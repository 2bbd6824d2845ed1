/**
 * One invocation's host: created in the home directory, loaded with the
 * `--plugin` directories and their `--config`, closed when the command ends.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createHost, readManifest, type Host, type Logger, type Manifest } from '@airlock/host';
import { parseConfigs, type Args } from './args.js';
import { Interrupted, UsageError, type Ui } from './output.js';

/** Run `command` with a host holding the plugins the arguments name; the host is closed afterwards. */
export async function withHost<T>(args: Args, ui: Ui, command: (host: Host) => Promise<T>): Promise<T> {
  const dirs = args.values.plugin ?? [];
  if (dirs.length === 0) throw new UsageError('load at least one plugin with --plugin <dir>');
  const configs = parseConfigs(args.values.config ?? []);
  const manifests = await Promise.all(dirs.map((dir) => readManifest(dir)));
  checkConfigTargets(configs, manifests);

  const home = args.values.home ?? ui.io.env.AIRLOCK_HOME ?? join(homedir(), '.airlock');
  // Plugin log lines go to stderr so stdout stays parseable.
  const logger: Logger = ({ level, message, plugin }) => {
    if (level !== 'trace' && level !== 'debug') ui.log(`${ui.err.dim(`[${plugin ?? 'airlock'}]`)} ${message}`);
  };
  const host = await createHost({ home, logger, env: ui.io.env });
  try {
    for (const [i, dir] of dirs.entries()) {
      await host.load(dir, { grant: args.values.yes ? 'manifest' : {}, config: configs.get(manifests[i]!.id) });
    }
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

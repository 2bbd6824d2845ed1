/**
 * `airlock-plugin dev`: build the plugin, load it into a real host, and rebuild
 * and reload it on every change. On a terminal, a REPL drives the plugin
 * (`call`, `chat`, `login`, …); otherwise it watches and logs until SIGINT or
 * SIGTERM.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { clearScreenDown, cursorTo, moveCursor } from 'node:readline';
import { start, type REPLServer } from 'node:repl';
import { createHost, readManifest, type Grant, type Host, type LogEntry, type Manifest } from '@airlock/host';
import { watchPlugin, type PluginWatcher, type WatchBuildEvent } from '../dev/index.js';
import type { Io } from './main.js';
import { describeBuild, describeError, fmt } from './report.js';
import { replFriendly, replWriter } from './repl-errors.js';
import { dim, green, red } from './paint.js';

export interface DevFlags {
  dir: string;
  release: boolean;
  skipTypecheck: boolean;
  grant: string | undefined;
  config: string[];
  env: string[] | undefined;
  home: string | undefined;
  repl: boolean;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function dev(flags: DevFlags, io: Io): Promise<number> {
  const usage = (message: string) => {
    io.stderr(`${red('error')}: ${message}\n`);
    return 2;
  };
  let grant: Grant | 'manifest';
  if (flags.grant === undefined || flags.grant === 'manifest') grant = 'manifest';
  else if (flags.grant === 'none') grant = {};
  else return usage(`--grant takes \`manifest\` or \`none\`, got \`${flags.grant}\``);
  const config: Record<string, unknown> = {};
  for (const item of flags.config) {
    const eq = item.indexOf('=');
    if (eq < 1) return usage(`--config takes key=value, got \`${item}\``);
    config[item.slice(0, eq)] = parseValue(item.slice(eq + 1));
  }
  let env: NodeJS.ProcessEnv | undefined;
  if (flags.env) {
    env = {};
    for (const item of flags.env) {
      const eq = item.indexOf('=');
      const name = eq < 0 ? item : item.slice(0, eq);
      if (!ENV_NAME.test(name)) return usage(`--env takes NAME or NAME=VALUE, got \`${item}\``);
      const value = eq < 0 ? process.env[name] : item.slice(eq + 1);
      if (value === undefined) io.stderr(dim(`note: ${name} is not set in your environment\n`));
      else env[name] = value;
    }
  }

  const dir = resolve(flags.dir);
  let manifest: Manifest;
  try {
    manifest = await readManifest(dir);
  } catch (err) {
    io.stderr(describeError(err as Error, undefined, 'error'));
    return 1;
  }

  const home = flags.home ? resolve(flags.home) : await mkdtemp(join(tmpdir(), 'airlock-dev-'));
  const screen = new ReplScreen(io);
  const say = screen.say;
  const logger = (entry: LogEntry) => {
    if (entry.level === 'trace') return;
    const text = `[${entry.plugin ?? 'host'}] ${entry.level}: ${entry.message}`;
    say(entry.level === 'error' ? red(text) : dim(text));
  };

  let host: Host;
  try {
    host = await createHost({ home, logger, ...(env ? { env } : {}) });
  } catch (err) {
    io.stderr(describeError(err as Error, undefined, 'error'));
    if (!flags.home) await rm(home, { recursive: true, force: true });
    return 1;
  }

  const interactive = flags.repl && !!process.stdin.isTTY && !!process.stdout.isTTY;
  let loaded = false;
  const watcher: PluginWatcher = watchPlugin({
    dir,
    host,
    load: { grant, config },
    buildOnStart: true,
    release: flags.release,
    skipTypecheck: flags.skipTypecheck,
    onProgress: (step) => {
      // The slow step is worth announcing; the others take a moment.
      if (step === 'componentizing') say(dim('  componentizing…'));
      else if (step === 'componentizing the development engine') say(dim('  componentizing the development engine (once per kind; later changes take well under a second)…'));
    },
    onBuild: (e) => {
      if (e.loaded) {
        loaded = true;
        say(describeBuild(e.result) + `${green('loaded')} ${e.result.id} into a dev host ${dim(`(home ${home})`)}\n` + dim(`watching ${dir} — edit and save to rebuild${interactive ? '' : '; Ctrl-C to stop'}`));
      } else say(rebuiltLine(e));
    },
    onError: (err, e) => {
      const title = e.phase === 'build' ? 'build failed' : e.phase === 'load' ? 'load failed' : 'reload failed';
      const files = e.files.length ? dim(` (${e.files.join(', ')})`) : '';
      const after = loaded ? 'the previous build keeps serving' : 'fix it and save to try again';
      say(describeError(err, undefined, title).replace('\n', `${files}\n`) + dim(after));
    },
  });
  // SIGINT (Ctrl-C without the REPL, which handles it itself) and SIGTERM stop,
  // from the first build on.
  let signalled = false;
  let wake = () => {};
  const signal = new Promise<void>((r) => (wake = r));
  const onSignal = () => {
    signalled = true;
    screen.repl?.close();
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await Promise.race([watcher.idle(), signal]);
    if (interactive && !signalled) {
      process.off('SIGINT', onSignal);
      const server = startRepl(host, manifest, watcher, screen);
      await new Promise<void>((r) => server.on('exit', r));
    } else await signal;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    screen.detach();
    await watcher.close();
    await host.close();
    if (!flags.home) await rm(home, { recursive: true, force: true });
  }
  io.stderr(dim('stopped\n'));
  return 0;
}

function rebuiltLine(e: WatchBuildEvent): string {
  const how = e.result.dev ? 'development build' : e.result.cached ? 'cached' : 'componentized';
  const what = e.reloaded ? 'reloaded' : 'not loaded';
  const files = e.files.length ? dim(` (${e.files.join(', ')})`) : '';
  return `${green('rebuilt')} in ${fmt(e.ms.build)} (${how}), ${what}${e.reloaded ? ` in ${fmt(e.ms.reload)}` : ''}${files}`;
}

/** A JSON value when the text parses as one, else the text. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The terminal around the REPL. A line said while the REPL waits for input
 * goes above the prompt, which is then drawn again with what was typed so
 * far; a line said while a command runs goes below what the command printed
 * (on a line of its own), and the REPL shows the prompt when the command ends.
 */
class ReplScreen {
  repl: REPLServer | undefined;
  /** Whether the REPL is running a command (from its line until it shows the prompt again). */
  #running = false;
  /** Whether stdout's last line is unfinished: a chat answer streaming. */
  #midLine = false;

  constructor(private readonly io: Io) {}

  attach(repl: REPLServer): void {
    this.repl = repl;
    // The REPL shows the prompt when a command ends, whichever way it ends
    // (a result, an error, `.help`), and to wait for more of a multi-line input.
    const displayPrompt = repl.displayPrompt.bind(repl);
    repl.displayPrompt = (preserveCursor?: boolean) => {
      this.#running = false;
      displayPrompt(preserveCursor);
    };
    // Before the REPL's own listener, which evaluates the line.
    repl.prependListener('line', () => {
      this.#running = true;
    });
    repl.on('exit', () => this.detach());
  }

  detach(): void {
    this.repl = undefined;
  }

  /** Print a line without garbling the REPL's prompt or a command's output. */
  say = (text: string, stream: 'stdout' | 'stderr' = 'stderr'): void => {
    const line = text.endsWith('\n') ? text : `${text}\n`;
    const repl = this.repl;
    // In editor mode (`.editor`) the REPL waits for input until Ctrl-D, with no prompt.
    if (!repl || (this.#running && !repl.editorMode)) {
      this.endLine();
      this.io[stream](line);
      return;
    }
    // Clear the prompt and the input, from the row the prompt starts on.
    moveCursor(process.stdout, 0, -repl.getCursorPos().rows);
    cursorTo(process.stdout, 0);
    clearScreenDown(process.stdout);
    this.io[stream](line);
    if (repl.editorMode) repl.prompt(true);
    else repl.displayPrompt(true);
  };

  /** Part of a line of a command's output, on stdout. */
  write(text: string): void {
    if (!text) return;
    process.stdout.write(text);
    this.#midLine = !text.endsWith('\n');
  }

  /** Finish stdout's last line if a command left it unfinished. */
  endLine(): void {
    if (this.#midLine) this.write('\n');
  }
}

interface Helper {
  usage: string;
  description: string;
  fn: (...args: never[]) => unknown;
}

function startRepl(host: Host, manifest: Manifest, watcher: PluginWatcher, screen: ReplScreen): REPLServer {
  const id = manifest.id;
  const say = screen.say;
  const helpers: Record<string, Helper> = {
    rebuild: { usage: 'await rebuild()', description: 'Build and reload now, without waiting for a change', fn: () => watcher.rebuild() },
  };
  if (manifest.kind === 'tool') {
    helpers.call = {
      usage: "await call('name', { …args })",
      description: `Call a tool of ${id} and return its result`,
      fn: ((name: string, args: unknown = {}) => host.callTool(name.includes('.') ? name : `${id}.${name}`, args)) as Helper['fn'],
    };
    helpers.tools = {
      usage: 'tools()',
      description: `The tools ${id} offers, with their descriptions`,
      fn: () => host.tools().filter((t) => t.plugin === id).map((t) => ({ name: t.name, description: t.description, risk: t.risk })),
    };
  } else if (manifest.kind === 'auth') {
    helpers.login = {
      usage: 'await login()',
      description: 'Run the device login: shows the code and URL, waits for you to finish',
      fn: async () => {
        const login = await host.auth(id).login();
        say(`Open ${login.verificationUriComplete ?? login.verificationUri} and enter ${green(login.userCode)}`, 'stdout');
        return login.wait();
      },
    };
    helpers.token = { usage: 'await token()', description: 'A fresh access token', fn: () => host.auth(id).token() };
    helpers.status = { usage: 'await status()', description: 'Whether you are signed in, and as whom', fn: () => host.auth(id).status() };
    helpers.logout = { usage: 'await logout()', description: 'Sign out', fn: () => host.auth(id).logout() };
  } else if (manifest.kind === 'prompt-template') {
    helpers.prompts = {
      usage: 'prompts()',
      description: `The templates ${id} offers, with their variables schemas`,
      fn: () => host.prompts().filter((p) => p.plugin === id).map((p) => ({ name: p.name, description: p.description, variables: p.variables })),
    };
    helpers.render = {
      usage: "await render('name', { …variables })",
      description: `Render a template of ${id} to chat messages`,
      fn: (async (name: string, variables: Record<string, unknown> = {}) => (await host.renderPrompt(name.includes('.') ? name : `${id}.${name}`, variables)).messages) as Helper['fn'],
    };
  } else if (manifest.kind === 'context') {
    helpers.context = {
      usage: "await context('query', { budgetTokens: 1000 })",
      description: `Ask ${id} for context; the host keeps what fits the budget`,
      fn: ((query: string, options: { budgetTokens?: number; maxItems?: number } = {}) =>
        host.context(String(query), { budgetTokens: options.budgetTokens ?? 1000, maxItems: options.maxItems, plugins: [id] })) as Helper['fn'],
    };
  } else if (manifest.kind === 'provider') {
    helpers.chat = {
      usage: "await chat('text', { model })",
      description: `Ask ${id}; the answer streams to stdout`,
      fn: (async (text: string, options: { model?: string; system?: string } = {}) => {
        const messages = [...(options.system ? [{ role: 'system' as const, content: options.system }] : []), { role: 'user' as const, content: String(text) }];
        let done: unknown;
        try {
          for await (const e of host.chatStream({ provider: id, model: options.model, messages })) {
            if (e.type === 'text-delta') screen.write(e.text);
            else if (e.type === 'done') done = { finishReason: e.finishReason, model: e.model };
          }
        } finally {
          // The result, or the error of a stream cut short, goes on a line of its own.
          screen.endLine();
        }
        return done;
      }) as Helper['fn'],
    };
    helpers.models = { usage: 'await models()', description: `The models ${id} offers`, fn: () => host.models(id) };
  }

  say(dim(`REPL for ${id}: .help lists the helpers (${Object.keys(helpers).join(', ')}); .exit or Ctrl-D to stop`));
  const server = start({ prompt: `${id}> `, useGlobal: false, ignoreUndefined: true });
  screen.attach(server);
  // Assigned after start(), so the default writer keeps the colours the REPL chose for this terminal.
  Object.assign(server, { writer: replWriter(server.writer) });
  Object.assign(server.context, { host, plugin: id }, Object.fromEntries(Object.entries(helpers).map(([name, h]) => [name, replFriendly(h.fn)])));
  const builtIn = Object.entries(server.commands).filter(([name]) => name !== 'help');
  server.defineCommand('help', {
    help: 'Show the helpers and commands',
    action() {
      const width = Math.max(...Object.values(helpers).map((h) => h.usage.length), 'plugin'.length);
      const lines = [
        `Plugin ${id} (${manifest.kind}), loaded into \`host\` (an @airlock/host Host).`,
        '',
        ...Object.values(helpers).map((h) => `  ${h.usage.padEnd(width)}  ${h.description}`),
        `  ${'plugin'.padEnd(width)}  The plugin id`,
        `  ${'host'.padEnd(width)}  The host: host.plugins(), host.reload(plugin), …`,
        '',
        ...builtIn.map(([name, c]) => `  .${name.padEnd(width - 1)}  ${c?.help ?? ''}`),
        `  ${'.help'.padEnd(width)}  Show this help`,
      ];
      this.output.write(lines.join('\n') + '\n');
      this.displayPrompt();
    },
  });
  return server;
}

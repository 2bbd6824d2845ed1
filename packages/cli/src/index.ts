/**
 * @airlock/cli — the `airlock` command. `main()` is the whole CLI as a function
 * (tested directly); only the bin file sets the exit code.
 * Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted (Ctrl-C).
 */
import { readFileSync } from 'node:fs';
import type { Host } from '@airlock/host';
import { onlyOptions, parse, type Args, type OptionName } from './args.js';
import { AUTH_COMMANDS, authTarget, runAuth, type AuthCommand } from './auth.js';
import { chat, chatRequest, models, readPrompt } from './chat.js';
import { defaultIo, type Io } from './io.js';
import { Ui, UsageError, reportError } from './output.js';
import { withHost } from './session.js';
import { callTool, listTools, parseToolCall } from './tools.js';

export type { Io } from './io.js';
export { runChat, chatToolNames, MAX_ROUNDS } from './tool-loop.js';
export type { ChatHost, ChatCallbacks, ChatLoopOptions, ChatOutcome, ToolCallEvent, ToolResultEvent } from './tool-loop.js';

export const HELP = `airlock — run Airlock plugins from a shell

Usage
  airlock tools list --plugin <dir>...                List the tools of the given plugins
  airlock tools call <tool> [json] --plugin <dir>...  Call a tool with JSON arguments
  airlock auth login <plugin-id> --plugin <dir>...    Sign in through an auth plugin (device code)
  airlock auth status <plugin-id> --plugin <dir>...   Show the sign-in: account, scopes, expiry
  airlock auth logout <plugin-id> --plugin <dir>...   Sign out
  airlock models --plugin <dir>...                    List the models of the loaded providers
  airlock chat <prompt> --plugin <dir>...             Stream an answer, offering the loaded tools
                                                      (prompt \`-\`: read it from stdin)

Options
  -p, --plugin <dir>            A plugin directory to load (repeatable)
  -y, --yes                     Grant every capability the plugins' manifests ask for
  -c, --config <id.key=value>   Configure plugin <id>; value: JSON, else a string (repeatable)
      --home <dir>              Host home, where sign-ins and plugin data persist
                                (default: $AIRLOCK_HOME or ~/.airlock)
      --json                    Print JSON on stdout (auth login, chat: one event per line)
  -h, --help                    Show this help
  -v, --version                 Show the version

Chat options
      --provider <id>           The provider plugin, when several are loaded (also for models)
      --model <model>           The model (default: the provider's default)
      --system <text>           A system prompt
      --max-tokens <n>          Longest answer, in tokens
      --temperature <x>         Sampling temperature, 0 to 2
      --no-tools                Do not offer the loaded tools to the model

Examples
  airlock tools list -p plugins/notes --yes
  airlock tools call count_words '{"text":"hello world"}' -p plugins/notes --yes
  airlock auth login auth-device-flow -p plugins/auth-device-flow --yes -c auth-device-flow.clientId=<id> \\
    -c auth-device-flow.deviceAuthorizationEndpoint=<url> -c auth-device-flow.tokenEndpoint=<url>
  OPENAI_API_KEY=sk-… airlock chat "How many words in 'to be or not to be'?" -p plugins/provider-openai -p plugins/notes --yes
  git diff | airlock chat - --system "Review this diff" -p plugins/provider-openai -c provider-openai.baseUrl=http://127.0.0.1:11434/v1 --yes

Exit codes
  0 ok, 1 failure, 2 usage error, 130 interrupted
`;

/** What runs once the plugins are loaded. */
type Run = (host: Host) => Promise<number>;

/** A command: the options it takes besides the common ones, and a check of its arguments (before any plugin loads). */
interface Command {
  options: readonly OptionName[];
  prepare: (rest: string[], args: Args, ui: Ui) => Run | Promise<Run>;
}

const COMMANDS: Record<string, Command> = {
  'tools list': {
    options: [],
    prepare: (rest, _args, ui) => {
      noMore(rest);
      return async (host) => listTools(host, ui);
    },
  },
  'tools call': {
    options: [],
    prepare: (rest, _args, ui) => {
      const { tool, args } = parseToolCall(rest);
      return (host) => callTool(host, ui, tool, args);
    },
  },
  ...Object.fromEntries(
    AUTH_COMMANDS.map((command): [string, Command] => [
      `auth ${command}`,
      {
        options: [],
        prepare: (rest, _args, ui) => {
          const id = authTarget(command, rest);
          return (host) => runAuth(command, host, ui, id);
        },
      },
    ]),
  ),
  models: {
    options: ['provider'],
    prepare: (rest, args, ui) => {
      noMore(rest);
      return (host) => models(host, ui, args.values.provider);
    },
  },
  chat: {
    options: ['provider', 'model', 'system', 'max-tokens', 'temperature', 'no-tools'],
    prepare: async (rest, args, ui) => {
      const request = chatRequest(args)(await readPrompt(rest, ui));
      return (host) => chat(host, ui, request, !args.values['no-tools']);
    },
  },
};

function noMore(rest: string[]): void {
  if (rest.length) throw new UsageError(`unexpected argument \`${rest[0]}\``);
}

/** The command the positionals name (`tools list`, `chat`), and the arguments after it. */
function findCommand(positionals: string[]): { name: string; command: Command; rest: string[] } {
  for (const words of [2, 1]) {
    const name = positionals.slice(0, words).join(' ');
    const command = COMMANDS[name];
    if (command && positionals.length >= words) return { name, command, rest: positionals.slice(words) };
  }
  const [group, sub] = positionals;
  const subcommands = Object.keys(COMMANDS).flatMap((key) => (key.startsWith(`${group} `) ? [key.slice(group!.length + 1)] : []));
  if (subcommands.length && sub === undefined) throw new UsageError(`\`airlock ${group}\` needs a subcommand: ${subcommands.join(', ')}`);
  if (subcommands.length) throw new UsageError(`unknown command \`${group} ${sub}\`; \`airlock ${group}\` takes ${subcommands.join(', ')}`);
  throw new UsageError(`unknown command \`${group}\``);
}

/** Run the CLI with `argv` (without node and script). Resolves with the exit code. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  // Known before parsing, so even a parse error can honour --json (arguments after `--` are not options).
  const end = argv.indexOf('--');
  const ui = new Ui(io, (end < 0 ? argv : argv.slice(0, end)).includes('--json'));
  try {
    const args = parse(argv);
    if (args.values.version) {
      ui.print(`${version()}\n`);
      return 0;
    }
    if (args.values.help || args.positionals.length === 0) {
      ui.print(HELP);
      return args.values.help ? 0 : 2;
    }
    const { name, command, rest } = findCommand(args.positionals);
    onlyOptions(args, name, command.options);
    const run = await command.prepare(rest, args, ui);
    return await withHost(args, ui, run);
  } catch (err) {
    return reportError(ui, err);
  }
}

function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

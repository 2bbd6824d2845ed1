/**
 * Help texts: the global `airlock --help`, and one per command and per group
 * (`airlock plugin add --help`, `airlock plugin --help`).
 */
import type { OptionName } from './args.js';

export const HELP = `airlock — run Airlock plugins from a shell

Usage
  airlock tools list                                  List the tools of the loaded plugins
  airlock tools call <tool> [json]                    Call a tool with JSON arguments
  airlock auth login <plugin-id>                      Sign in through an auth plugin (device code)
  airlock auth status <plugin-id>                     Show the sign-in: account, scopes, expiry
  airlock auth logout <plugin-id>                     Sign out
  airlock models                                      List the models of the loaded providers
  airlock chat <prompt>                               Stream an answer, offering the loaded tools
                                                      (prompt \`-\`: read it from stdin)
  airlock prompt list                                 List the prompt templates of the loaded plugins
  airlock prompt render <name> [--var k=v...]         Render a prompt template to chat messages
  airlock context <query> --budget <tokens>           Ask the context plugins; what fits the budget
  These load the installed, enabled plugins; with --plugin <dir>, only the given
  directories (no installed plugin is loaded then).

Installed plugins
  airlock plugin list                                 The installed plugins: version, status, signature;
                                                      and data kept for plugins no longer installed
                                                      (--url: their state and figures in a server)
  airlock plugin info <id>                            One plugin: source, hashes, signature, config, grant
  airlock plugin add <source>                         Install from a directory, a .tgz, npm:<spec> or a
                                                      git URL (git+https://…#ref), asking for consent
  airlock plugin update <id> [source]                 Update; asks before granting anything new
  airlock plugin remove <id>                          Uninstall; its stored data is kept for its
                                                      package, unless --purge deletes it
  airlock plugin enable <id>                          Load it again from now on
  airlock plugin disable <id>                         Stop loading it
  airlock plugin verify [id]                          Check installed files against their hashes and
                                                      signatures
  airlock audit [id]                                  What plugins did with their capabilities (HTTP,
                                                      files, environment, tokens), allowed or refused
  airlock grant <id> <capability> [value]             Let an installed plugin do more
  airlock revoke <id> <capability> [value]            Take a capability back
                                                      (storage [quota], http <origin>, env <NAME>,
                                                      filesystem <path>[:read-write], credentials <id>,
                                                      events publish:<topic>|subscribe:<topic>,
                                                      interfaces <namespace:package/interface>)

Serving (MCP clients, over stdio or Streamable HTTP)
  airlock serve --stdio                               MCP on stdin/stdout, for a client that starts it
  airlock serve [--port <n>] [--bind <address>]       MCP at http://127.0.0.1:7345/mcp; needs a token
  airlock token create --scope tools                  Make a bearer token (shown once)
  airlock token list                                  The tokens: id, name, scopes
  airlock token revoke <id>                           Forget a token
  airlock top [--url <url>]                           A running server's plugins: state, calls, errors,
                                                      latency, restarts, memory (AIRLOCK_TOKEN: metrics)

Publishing
  airlock keys generate [--out <dir>]                 Make an ed25519 key pair for signing plugins
  airlock sign <dir> --key <file>                     Sign a built plugin package (airlock.sig.json)

Options
  -p, --plugin <dir>            Load this plugin directory instead of the installed plugins (repeatable)
  -y, --yes                     Grant every capability the manifests ask for, without asking
                                (--plugin, plugin add, plugin update)
  -c, --config <id.key=value>   Configure plugin <id>; value: JSON, else a string (repeatable)
                                (--plugin, plugin add)
      --home <dir>              Host home: installed plugins, sign-ins and plugin data
                                (default: $AIRLOCK_HOME or ~/.airlock)
      --trust-key <file>        Trust plugins signed with this public key (repeatable)
      --require-signed          Refuse plugins that are not signed by a trusted key
      --json                    Print JSON on stdout (auth login, chat: one event per line)
  -h, --help                    Show this help; \`airlock <command> --help\` for one command
  -v, --version                 Show the version

Trust
  <home>/config.json, when present, sets the trust policy; --trust-key and --require-signed add to it:
    {"trust": {"keys": ["publisher.pub"], "requireSigned": true}}
  A key is the path of a public key file (relative to the home) or PEM text.

Chat options
      --provider <id>           The provider plugin, when several are loaded (also for models)
      --model <model>           The model (default: the provider's default)
      --system <text>           A system prompt
      --max-tokens <n>          Longest answer, in tokens
      --temperature <x>         Sampling temperature, 0 to 2
      --no-tools                Do not offer the loaded tools to the model

Examples
  airlock plugin add ./plugins/notes --yes
  airlock tools call count_words '{"text":"hello world"}'
  airlock tools list -p plugins/notes --yes
  airlock auth login auth-device-flow -p plugins/auth-device-flow --yes -c auth-device-flow.clientId=<id> \\
    -c auth-device-flow.issuer=<issuer URL>
  OPENAI_API_KEY=sk-… airlock chat "How many words in 'to be or not to be'?" -p plugins/provider-openai -p plugins/notes --yes
  git diff | airlock chat - --system "Review this diff" -p plugins/provider-openai -c provider-openai.baseUrl=http://127.0.0.1:11434/v1 --yes

Exit codes
  0 ok, 1 failure, 2 usage error, 130 interrupted
`;

/** What a command's help says: its usage line, what it does, its options and an example or two. */
export interface HelpSpec {
  usage: string;
  /** One line, for the group's help. */
  summary: string;
  /** Paragraphs after the summary. */
  details?: string;
  /** The options it takes, each with the standard text or its own. */
  options: readonly (OptionName | [OptionName, string])[];
  examples: readonly string[];
}

const OPTION_TEXT: Record<OptionName, [string, string]> = {
  plugin: ['-p, --plugin <dir>', 'Load this plugin directory instead of the installed plugins (repeatable)'],
  yes: ['-y, --yes', 'Grant every capability the --plugin manifests ask for'],
  config: ['-c, --config <id.key=value>', 'Configure --plugin <id>; value: JSON, else a string (repeatable)'],
  home: ['--home <dir>', 'Host home (default: $AIRLOCK_HOME or ~/.airlock)'],
  json: ['--json', 'Print JSON on stdout'],
  help: ['-h, --help', 'Show this help'],
  version: ['-v, --version', 'Show the version'],
  provider: ['--provider <id>', 'The provider plugin, when several are loaded'],
  model: ['--model <model>', "The model (default: the provider's default)"],
  system: ['--system <text>', 'A system prompt'],
  'max-tokens': ['--max-tokens <n>', 'Longest answer, in tokens'],
  temperature: ['--temperature <x>', 'Sampling temperature, 0 to 2'],
  'no-tools': ['--no-tools', 'Do not offer the loaded tools to the model'],
  force: ['--force', 'Even when other installed plugins require it'],
  'keep-data': ['--keep-data', "Hand the data kept under the plugin's id for another package to this one"],
  purge: ['--purge', 'Also delete everything stored under the id'],
  out: ['--out <dir>', 'Where to write the key pair (default: <home>/keys)'],
  key: ['--key <file>', 'The private key (PEM), as `airlock keys generate` writes it'],
  'trust-key': ['--trust-key <file>', 'Also trust plugins signed with this public key (repeatable)'],
  'require-signed': ['--require-signed', 'Refuse plugins that are not signed by a trusted key'],
  stdio: ['--stdio', 'Serve MCP on stdin and stdout (for a client that starts airlock itself); no token needed'],
  port: ['--port <n>', 'HTTP port (default 7345; 0: any free port)'],
  bind: ['--bind <address>', 'Address to listen on (default 127.0.0.1; anything else needs tokens, and TLS)'],
  'tls-key': ['--tls-key <file>', 'PEM private key: serve HTTPS (with --tls-cert)'],
  'tls-cert': ['--tls-cert <file>', 'PEM certificate chain for --tls-key'],
  scope: ['--scope <scope>', 'What the token may use: tools (MCP), chat, manage, metrics (repeatable)'],
  name: ['--name <name>', 'A name to know the token by (default: its id)'],
  url: ['--url <url>', 'The `airlock serve` to read (default http://127.0.0.1:7345)'],
  once: ['--once', 'Print once instead of refreshing'],
  since: ['--since <when>', 'Only since then: a duration (30m, 2h, 7d) or a date (2026-12-06T10:00)'],
  refused: ['--refused', 'Only what was refused'],
  limit: ['--limit <n>', 'At most this many records, the newest (default 200)'],
  var: ['--var <name>=<value>', "A template variable, read as its schema's type (repeatable)"],
  vars: ['--vars <json>', 'The template variables as one JSON object (--var entries win)'],
  budget: ['--budget <tokens>', 'How many tokens the items may take together (required)'],
  'max-items': ['--max-items <n>', 'At most this many items (default 20)'],
};

function optionLines(options: HelpSpec['options']): string {
  const rows = [...options, 'help' as const].map((o) => {
    const [name, text] = typeof o === 'string' ? OPTION_TEXT[o] : [OPTION_TEXT[o[0]][0], o[1]];
    return [name.startsWith('-') && name[1] !== '-' ? name : `    ${name}`, text] as const;
  });
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}\n`).join('');
}

export function commandHelp(spec: HelpSpec): string {
  const details = spec.details ? `\n${spec.details.trimEnd()}\n` : '';
  const examples = spec.examples.map((e) => `  ${e}\n`).join('');
  return `Usage: ${spec.usage}\n\n${spec.summary}\n${details}\nOptions\n${optionLines(spec.options)}\nExample${spec.examples.length > 1 ? 's' : ''}\n${examples}`;
}

/** `airlock plugin --help`: the group's commands, one line each. */
export function groupHelp(group: string, commands: [string, HelpSpec][]): string {
  const rows = commands.map(([name, spec]) => [spec.usage.replace(/^airlock /, '').replace(/ \[?--?\S.*$/, ''), spec.summary.replace(/\.$/, '')] as const);
  const width = Math.max(...rows.map(([usage]) => usage.length));
  const lines = rows.map(([usage, summary]) => `  ${usage.padEnd(width)}  ${summary}\n`).join('');
  return `Usage: airlock ${group} <command>\n\nCommands\n${lines}\nRun \`airlock ${group} <command> --help\` for a command's options and examples.\n`;
}

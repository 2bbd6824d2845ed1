/**
 * @airlock/cli — the `airlock` command. `main()` is the whole CLI as a function
 * (tested directly); only the bin file sets the exit code.
 * Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted (Ctrl-C).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Host } from '@airlock/host';
import { numberOption, onlyOptions, parse, type Args, type OptionName } from './args.js';
import { AUTH_COMMANDS, authTarget, runAuth } from './auth.js';
import { chat, chatRequest, models, readPrompt } from './chat.js';
import { HELP, commandHelp, groupHelp, type HelpSpec } from './help.js';
import { defaultIo, type Io } from './io.js';
import { generateKeys, sign, signTarget } from './keys.js';
import { Ui, UsageError, reportError } from './output.js';
import { addPlugin, addTarget, changeGrant, grantTarget, listPlugins, pluginInfo, pluginTarget, removePlugin, setEnabled, updatePlugin, verifyPlugins } from './plugins.js';
import { homeDir, withHost, withRegistry } from './session.js';
import { callTool, listTools, parseToolCall } from './tools.js';
import { listPrompts, parsePromptRender, renderPrompt, showContext } from './prompts.js';
import { createToken, listTokens, revokeToken, serve, serveOptions, tokenScopes } from './serve.js';
import { metricsSource, top, topOptions } from './top.js';
import { auditQuery, showAudit } from './audit.js';

export type { Io } from './io.js';
export { HELP } from './help.js';

/** What runs once the host is open (and, for `plugins` commands, the plugins loaded). */
type Run = (host: Host) => Promise<number>;

/**
 * A command. `plugins`: runs with the plugins to use loaded (the --plugin
 * directories, else the installed ones); `registry`: with a host and no plugin
 * loaded (managing the installed plugins); `local`: without a host. The options
 * its help lists are the options it takes.
 */
type Command =
  | { scope: 'plugins' | 'registry'; help: HelpSpec; prepare: (rest: string[], args: Args, ui: Ui) => Run | Promise<Run> }
  | { scope: 'local'; help: HelpSpec; prepare: (rest: string[], args: Args, ui: Ui) => () => Promise<number> };

/** Options of every command that loads plugins. */
const LOADING: readonly OptionName[] = ['plugin', 'yes', 'config', 'home', 'trust-key', 'require-signed'];
/** Options of every command on the installed plugins. */
const HOME: readonly OptionName[] = ['home', 'trust-key', 'require-signed'];

const AUTH_HELP: Record<(typeof AUTH_COMMANDS)[number], Pick<HelpSpec, 'summary' | 'details'> & { example: string }> = {
  login: {
    summary: 'Sign in through an auth plugin (device code).',
    details: 'Shows a code and where to enter it, then waits (Ctrl-C cancels). The sign-in is kept in the home, for later invocations and for plugins granted its credentials.',
    example: 'airlock auth login auth-device-flow',
  },
  status: { summary: 'Show the sign-in of an auth plugin: account, method, scopes, expiry.', example: 'airlock auth status auth-device-flow --json' },
  logout: { summary: 'Sign out of an auth plugin (its stored tokens are deleted).', example: 'airlock auth logout auth-device-flow' },
};

const COMMANDS: Record<string, Command> = {
  'tools list': {
    scope: 'plugins',
    help: {
      usage: 'airlock tools list [--plugin <dir>...]',
      summary: 'List the tools of the loaded plugins, with their risk.',
      details: 'Loads the installed, enabled plugins; with --plugin, only the given directories.',
      options: [...LOADING, ['json', 'Print the tools as a JSON array']],
      examples: ['airlock tools list', 'airlock tools list -p plugins/notes --yes'],
    },
    prepare: (rest, _args, ui) => {
      noMore(rest);
      return async (host) => listTools(host, ui);
    },
  },
  'tools call': {
    scope: 'plugins',
    help: {
      usage: 'airlock tools call <tool> [json] [--plugin <dir>...]',
      summary: 'Call a tool with JSON arguments (default {}) and print its result.',
      details: 'A tool is named by its name, or by <plugin-id>.<name> when several plugins have one by that name.',
      options: [...LOADING, ['json', 'Print {"tool", "result"} as JSON']],
      examples: [`airlock tools call count_words '{"text":"hello world"}'`, `airlock tools call notes.add_note '{"title":"milk","body":"2 litres"}' -p plugins/notes --yes`],
    },
    prepare: (rest, _args, ui) => {
      const { tool, args } = parseToolCall(rest);
      return (host) => callTool(host, ui, tool, args);
    },
  },
  ...Object.fromEntries(
    AUTH_COMMANDS.map((command): [string, Command] => [
      `auth ${command}`,
      {
        scope: 'plugins',
        help: {
          usage: `airlock auth ${command} <plugin-id> [--plugin <dir>...]`,
          summary: AUTH_HELP[command].summary,
          ...(AUTH_HELP[command].details ? { details: AUTH_HELP[command].details } : {}),
          options: [...LOADING, ['json', command === 'login' ? 'Print the device code and the outcome as NDJSON' : 'Print JSON']],
          examples: [AUTH_HELP[command].example],
        },
        prepare: (rest, _args, ui) => {
          const id = authTarget(command, rest);
          return (host) => runAuth(command, host, ui, id);
        },
      },
    ]),
  ),
  models: {
    scope: 'plugins',
    help: {
      usage: 'airlock models [--provider <id>] [--plugin <dir>...]',
      summary: 'List the models of the loaded provider plugins.',
      options: [...LOADING, ['provider', 'Only this provider plugin'], ['json', 'Print the models as a JSON array']],
      examples: ['airlock models', 'OPENAI_API_KEY=sk-… airlock models -p plugins/provider-openai --yes'],
    },
    prepare: (rest, args, ui) => {
      noMore(rest);
      return (host) => models(host, ui, args.values.provider);
    },
  },
  chat: {
    scope: 'plugins',
    help: {
      usage: 'airlock chat <prompt> [options] [--plugin <dir>...]',
      summary: "Stream a provider's answer to stdout, offering the loaded tools.",
      details: 'Tools run when the model asks, for up to 8 rounds. The prompt `-` reads it from stdin. Usage and the finish reason go to stderr; tool calls too.',
      options: [...LOADING, 'provider', 'model', 'system', 'max-tokens', 'temperature', 'no-tools', ['json', 'Print every event as one line of NDJSON']],
      examples: [`airlock chat "How many words in 'to be or not to be'?"`, 'git diff | airlock chat - --system "Review this diff" --no-tools'],
    },
    prepare: async (rest, args, ui) => {
      const request = chatRequest(args)(await readPrompt(rest, ui));
      return (host) => chat(host, ui, request, !args.values['no-tools']);
    },
  },
  'prompt list': {
    scope: 'plugins',
    help: {
      usage: 'airlock prompt list [--plugin <dir>...]',
      summary: 'List the prompt templates of the loaded plugins, with their variables.',
      details: 'Optional variables are shown in brackets.',
      options: [...LOADING, ['json', 'Print the templates, with their variables schemas, as a JSON array']],
      examples: ['airlock prompt list', 'airlock prompt list -p plugins/prompts --yes'],
    },
    prepare: (rest, _args, ui) => {
      noMore(rest);
      return async (host) => listPrompts(host, ui);
    },
  },
  'prompt render': {
    scope: 'plugins',
    help: {
      usage: 'airlock prompt render <name> [--var <name>=<value>...] [--vars <json>] [--plugin <dir>...]',
      summary: 'Render a prompt template to chat messages and print them.',
      details: "A template is named by its name, or by <plugin-id>.<name> when several plugins have one by that name. Variables are checked against the template's schema before the plugin runs.",
      options: [...LOADING, 'var', 'vars', ['json', 'Print {"prompt", "messages"} as JSON']],
      examples: ['airlock prompt render summarize --var text="$(cat notes.md)" --var style=bullets', `airlock prompt render code-review --vars '{"language":"go","code":"x := 1"}' -p plugins/prompts --yes`],
    },
    prepare: (rest, args, ui) => {
      const { name, given, variables } = parsePromptRender(rest, args.values.var, args.values.vars);
      return (host) => renderPrompt(host, ui, name, given, variables);
    },
  },
  context: {
    scope: 'plugins',
    help: {
      usage: 'airlock context <query> --budget <tokens> [--max-items <n>] [--plugin <dir>...]',
      summary: 'Ask the loaded context plugins about a query and print what fits the token budget, best first.',
      details: 'Tokens are counted as a quarter of the UTF-8 bytes. A plugin that fails is reported on stderr while the others answer.',
      options: [...LOADING, 'budget', 'max-items', ['json', 'Print {"items", "tokens", "dropped", "failures"} as JSON']],
      examples: ['airlock context "how do I rotate the API key" --budget 1500', 'airlock context deploy --budget 500 --max-items 3 -p plugins/notes-context --yes --json'],
    },
    prepare: (rest, args, ui) => {
      if (rest.length === 0) throw new UsageError('say what to find context for: airlock context <query> --budget <tokens>');
      const budget = numberOption('budget', args.values.budget, { integer: true, min: 1, max: 2 ** 32 - 1 });
      if (budget === undefined) throw new UsageError('`--budget <tokens>` is required: how many tokens the context may take');
      const maxItems = numberOption('max-items', args.values['max-items'], { integer: true, min: 1, max: 1000 });
      return (host) => showContext(host, ui, rest.join(' '), budget, maxItems);
    },
  },
  'plugin list': {
    scope: 'registry',
    help: {
      usage: 'airlock plugin list',
      summary: 'List the installed plugins: version, kind, status, signature and source.',
      details: `SIGNATURE is what was found at install: "signed by <key id>", "unsigned", or "untrusted" (signed by a key not trusted then).
Stored data belongs to the package that wrote it (its name and signing key). Data kept for a package
that is not installed (removed without --purge, or replaced by another package under the same id) is
listed after the table, with whose it is and its size.`,
      options: [
        ...HOME,
        ['url', 'Also show the state, calls, errors and p99 of the plugins an `airlock serve` at <url> has loaded (token with the metrics scope in AIRLOCK_TOKEN)'],
        ['json', 'Print a JSON array: the installed plugins with their `storedData` (and `runtime`, with --url), then ids with kept data only (`"installed": false`)'],
      ],
      examples: ['airlock plugin list', 'airlock plugin list --json', 'airlock plugin list --url http://127.0.0.1:7345'],
    },
    prepare: (rest, args, ui) => {
      noMore(rest);
      const live = liveSource(args, ui);
      return async (host) => listPlugins(host, ui, live);
    },
  },
  audit: {
    scope: 'registry',
    help: {
      usage: 'airlock audit [<id>] [--since <when>] [--refused]',
      summary: 'Show what plugins did with their capabilities, allowed or refused, oldest first.',
      details: `One line per use: HTTP requests (method, origin and path, never the query string), files
opened, created, removed or renamed in granted directories, environment variables handed over when a
plugin starts, tokens asked of auth plugins. Every host on the home (a server, the CLI) writes to
the same log, <home>/audit.db, which keeps the newest 100,000 records. Secrets are masked.`,
      options: [...HOME, 'since', 'refused', 'limit', ['json', 'Print the records as a JSON array']],
      examples: ['airlock audit weather --since 2h', 'airlock audit --refused --json'],
    },
    prepare: (rest, args, ui) => {
      const query = auditQuery(rest, args);
      return async (host) => showAudit(host, ui, query);
    },
  },
  'plugin info': {
    scope: 'registry',
    help: {
      usage: 'airlock plugin info <id>',
      summary: 'Show an installed plugin: its record and what it is granted.',
      details: `Version, kind, status, source, signature, component and manifest hashes, requirements,
configuration, its stored data and any kept under its id for other packages, and the grant, one
capability a line. Risky capabilities (network, environment variables, writable files, sign-ins) are
marked with \`!\`. For an id that is not installed but has data kept, shows whose data it is.`,
      options: [
        ...HOME,
        ['url', 'Also show its state, calls, errors, latency, restarts and memory in an `airlock serve` at <url> (token with the metrics scope in AIRLOCK_TOKEN)'],
        ['json', 'Print the plugin as JSON, with the directory it is installed in (`dir`) and its `storedData` (and `runtime`, with --url)'],
      ],
      examples: ['airlock plugin info notes', 'airlock plugin info notes --url http://127.0.0.1:7345'],
    },
    prepare: (rest, args, ui) => {
      const id = pluginTarget('plugin info', rest)!;
      const live = liveSource(args, ui);
      return (host) => pluginInfo(host, ui, id, live);
    },
  },
  'plugin add': {
    scope: 'registry',
    help: {
      usage: 'airlock plugin add <source> [--yes] [--keep-data] [-c <id>.<key>=<value>]...',
      summary: 'Install a plugin, asking before granting what it asks for.',
      details: `<source> is a plugin directory, a .tgz (as npm pack makes), npm:<spec>, or a git URL with an
optional ref (git+https://…#v1.2.0, git+file://…#main).
The package is checked (manifest, host version, requirements, signature, component) before anything is
recorded; an unsigned plugin installs with a warning unless signatures are required.
Without --yes, what a directory asks for is shown and, on a terminal, you are asked before it is granted;
other sources are fetched first, so they need --yes when they ask for anything.
Stored data belongs to the package that wrote it (its name and signing key): adding a package again
finds its data. When data is kept under the plugin's id for another package (a removed one, or one
with another name or key), the plugin starts with empty storage and the data stays with its owner,
unless --keep-data hands it over (whose data it is is shown, and on a terminal you are asked).`,
      options: [
        ['yes', 'Grant everything the manifest asks for, without asking'],
        'keep-data',
        ['config', 'Configure the plugin; value: JSON, else a string (repeatable)'],
        ...HOME,
        ['json', 'Print the installed plugin as JSON, with its `storedData`'],
      ],
      examples: ['airlock plugin add ./plugins/notes', 'airlock plugin add npm:@acme/airlock-weather@^1 --yes -c weather.units=metric', 'airlock plugin add git+https://github.com/acme/weather.git#v1.2.0 --yes'],
    },
    prepare: (rest, args, ui) => {
      const target = addTarget(rest, args.values.config ?? []);
      return (host) => addPlugin(host, ui, { ...target, yes: !!args.values.yes, keepData: !!args.values['keep-data'] });
    },
  },
  'plugin update': {
    scope: 'registry',
    help: {
      usage: 'airlock plugin update <id> [<source>] [--yes] [--keep-data]',
      summary: 'Update an installed plugin, asking before granting anything new.',
      details: `From <source>, or from where it was installed from. When the new version asks for more than was granted, the difference is shown and, on a terminal, you
are asked; otherwise it needs --yes. If the new version fails to start, the old one stays installed.
A new version from another package (another name or signing key) does not get the stored data: it
stays kept for its owner, unless --keep-data hands it over.`,
      options: [
        ['yes', 'Grant what the new version asks for beyond the current grant, without asking'],
        ['keep-data', 'Hand the stored data to a new version from another package or signing key'],
        ...HOME,
        ['json', 'Print {"from", "to", "added", "ownerChanged", "dataHandedOver", "plugin"} as JSON'],
      ],
      examples: ['airlock plugin update notes', 'airlock plugin update notes ./plugins/notes --yes'],
    },
    prepare: (rest, args, ui) => {
      const [id, source, ...extra] = rest;
      if (!id) throw new UsageError('name the plugin: airlock plugin update <id> [<source>]');
      if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\``);
      return (host) => updatePlugin(host, ui, id, source, !!args.values.yes, !!args.values['keep-data']);
    },
  },
  'plugin remove': {
    scope: 'registry',
    help: {
      usage: 'airlock plugin remove <id> [--force] [--purge]',
      summary: 'Uninstall a plugin; its stored data is kept for its package unless --purge.',
      details: `Without --purge, the stored data stays kept for the package that wrote it (its name and signing
key): adding that package again finds it; another package added as <id> starts with empty storage.
\`plugin list\` and \`plugin info <id>\` show kept data. --purge deletes everything stored under <id>:
the plugin's data (for an auth plugin, its sign-ins) and any kept for other packages. For an <id>
that is no longer installed, --purge deletes the data kept under it.`,
      options: [
        ['force', 'Even when other installed plugins require it'],
        'purge',
        ...HOME,
        ['json', 'Print the removed plugin as JSON, with the data deleted (`purged`) and kept (`kept`)'],
      ],
      examples: ['airlock plugin remove notes', 'airlock plugin remove notes --purge'],
    },
    prepare: (rest, args, ui) => {
      const id = pluginTarget('plugin remove', rest)!;
      return (host) => removePlugin(host, ui, id, !!args.values.force, !!args.values.purge);
    },
  },
  'plugin enable': {
    scope: 'registry',
    help: {
      usage: 'airlock plugin enable <id>',
      summary: 'Enable an installed plugin: it loads again from the next command on.',
      options: [...HOME, ['json', 'Print the plugin as JSON']],
      examples: ['airlock plugin enable notes'],
    },
    prepare: (rest, _args, ui) => {
      const id = pluginTarget('plugin enable', rest)!;
      return (host) => setEnabled(host, ui, id, true, false);
    },
  },
  'plugin disable': {
    scope: 'registry',
    help: {
      usage: 'airlock plugin disable <id> [--force]',
      summary: 'Disable an installed plugin: it stays installed, but does not load.',
      options: [['force', 'Even when enabled plugins require it'], ...HOME, ['json', 'Print the plugin as JSON']],
      examples: ['airlock plugin disable notes'],
    },
    prepare: (rest, args, ui) => {
      const id = pluginTarget('plugin disable', rest)!;
      return (host) => setEnabled(host, ui, id, false, !!args.values.force);
    },
  },
  'plugin verify': {
    scope: 'registry',
    help: {
      usage: 'airlock plugin verify [<id>]',
      summary: 'Check installed plugins against their recorded hashes and the trusted keys.',
      details: `The component and the manifest are compared with the sha256 recorded at install; the
component's transpiled output in the cache (the code the host runs) with the digests recorded when
it was written (CACHE is none until a load builds it); the signature is checked against the trusted
keys. Exits 1 when any plugin fails (a changed file or cache entry, an invalid signature, or an
unsigned or untrusted one under --require-signed).`,
      options: [...HOME, ['json', 'Print the reports as a JSON array']],
      examples: ['airlock plugin verify', 'airlock plugin verify notes --trust-key publisher.pub --require-signed'],
    },
    prepare: (rest, _args, ui) => {
      const id = pluginTarget('plugin verify', rest, true);
      return (host) => verifyPlugins(host, ui, id);
    },
  },
  ...Object.fromEntries(
    (['grant', 'revoke'] as const).map((command): [string, Command] => [
      command,
      {
        scope: 'registry',
        help: {
          usage: `airlock ${command} <id> <capability> [value]`,
          summary: command === 'grant' ? 'Let an installed plugin do more: add to the grant recorded for it.' : 'Take a capability back from an installed plugin.',
          details: `Capabilities: storage [quota, e.g. 1MiB], http <origin>, env <NAME or PREFIX_*>,
filesystem <path>[:read-write] (read-only unless :read-write), credentials <auth-plugin-id>
(bound to the origins the plugin's manifest names, when it binds it: the host then injects it),
events publish:<topic> or subscribe:<topic> (a topic such as notes.saved, or a prefix notes.*),
interfaces <namespace:package/interface> (one the host's integrator added, such as acme:kb/search).${
            command === 'revoke' ? '\nRevoking <path>:read-write leaves <path> read-only; revoking <path> removes it.' : ''
          }
The change takes effect the next time the plugin loads; a plugin whose grant does not cover what
it asks for does not load.`,
          options: [...HOME, ['json', 'Print {"id", "changed", "grant"} as JSON']],
          examples: command === 'grant' ? ['airlock grant weather http https://api.weather.example', 'airlock grant notes storage 4MiB'] : ['airlock revoke weather env WEATHER_API_KEY'],
        },
        prepare: (rest, _args, ui) => {
          const change = grantTarget(command, rest);
          return (host) => changeGrant(host, ui, command, change);
        },
      },
    ]),
  ),
  serve: {
    scope: 'plugins',
    help: {
      usage: 'airlock serve [--stdio | --port <n> --bind <address>] [--plugin <dir>...]',
      summary: 'Serve the loaded tools and prompt templates to MCP clients, over stdio or Streamable HTTP.',
      details: `With --stdio, MCP runs on stdin and stdout: the client starts \`airlock serve --stdio\` itself,
and needs no token. Otherwise MCP is served at http://<bind>:<port>/mcp (Streamable HTTP), with
/healthz and /readyz; every MCP request needs "Authorization: Bearer <token>" with the tools scope
(\`airlock token create --scope tools\`). Plugin log lines reach MCP clients as log notifications;
clients are told when the tools or prompts change. A tool whose risk is dangerous asks the user first (MCP
elicitation); a client that cannot ask gets the call refused. <home>/config.json sets which risk
levels ask and which tools never do: {"serve": {"confirm": ["risky", "dangerous"], "allow": ["notes.delete_note"]}}.
Stops on Ctrl-C or SIGTERM.`,
      options: [...LOADING, 'stdio', 'port', 'bind', 'tls-key', 'tls-cert', ['json', 'Print {"url", "mcp", "health", "tools"} as one JSON line once listening']],
      examples: ['airlock serve --stdio', 'airlock serve --port 7345', 'airlock serve --stdio -p plugins/notes --yes'],
    },
    prepare: (rest, args, ui) => {
      const options = serveOptions(rest, args);
      return (host) => serve(host, ui, options);
    },
  },
  top: {
    scope: 'local',
    help: {
      usage: 'airlock top [--url <url>] [--once]',
      summary: "Show a running `airlock serve`'s plugins: state, calls, errors, latency, restarts, memory.",
      details: `Reads <url>/metrics with the token in AIRLOCK_TOKEN, which needs the metrics scope
(\`airlock token create --scope metrics\`). On a terminal it refreshes every 2 s until Ctrl-C;
otherwise, or with --once, it prints once. The same figures are at /metrics in the Prometheus text format.`,
      options: ['url', 'once', ['json', 'Print the metrics of every plugin as JSON, once']],
      examples: ['airlock top', 'airlock top --url http://127.0.0.1:7345 --once'],
    },
    prepare: (rest, args, ui) => {
      const options = topOptions(rest, args, ui.io.env);
      return () => top(ui, options);
    },
  },
  'token create': {
    scope: 'local',
    help: {
      usage: 'airlock token create --scope <scope>... [--name <name>]',
      summary: 'Make a bearer token for `airlock serve` (printed once; only its hash is kept).',
      details: 'Scopes: tools (MCP), chat (the OpenAI-compatible API), manage (the management API), metrics (GET /metrics, `airlock top`). The token is kept, hashed, in <home>/serve-tokens.json; a running server sees a new token within a second.',
      options: ['scope', 'name', ['home', 'Host home (default: $AIRLOCK_HOME or ~/.airlock)'], ['json', 'Print {"token", "id", "name", "scopes"} as JSON']],
      examples: ['airlock token create --scope tools --name "my editor"'],
    },
    prepare: (rest, args, ui) => {
      noMore(rest);
      return async () => createToken(ui, homeDir(args, ui), await tokenScopes(args), args.values.name);
    },
  },
  'token list': {
    scope: 'local',
    help: {
      usage: 'airlock token list',
      summary: 'List the tokens `airlock serve` accepts: id, name, scopes (never the secret).',
      options: [['home', 'Host home (default: $AIRLOCK_HOME or ~/.airlock)'], ['json', 'Print the tokens as a JSON array']],
      examples: ['airlock token list'],
    },
    prepare: (rest, args, ui) => {
      noMore(rest);
      return () => listTokens(ui, homeDir(args, ui));
    },
  },
  'token revoke': {
    scope: 'local',
    help: {
      usage: 'airlock token revoke <id>',
      summary: 'Forget a token: a running server refuses it within a second.',
      options: [['home', 'Host home (default: $AIRLOCK_HOME or ~/.airlock)'], ['json', 'Print {"id", "revoked"} as JSON']],
      examples: ['airlock token revoke 3f2a9c01be44'],
    },
    prepare: (rest, args, ui) => {
      const [id, ...extra] = rest;
      if (!id) throw new UsageError('name the token: airlock token revoke <id> (see `airlock token list`)');
      noMore(extra);
      return () => revokeToken(ui, homeDir(args, ui), id);
    },
  },
  'keys generate': {
    scope: 'local',
    help: {
      usage: 'airlock keys generate [--out <dir>]',
      summary: 'Make an ed25519 key pair for signing plugins.',
      details: `Writes <dir>/airlock-signing.key (private, mode 0600: keep it secret) and <dir>/airlock-signing.pub
(public: give it to the users of your plugins). An existing key is never overwritten.`,
      options: ['out', ['home', 'Host home; the default --out is <home>/keys'], ['json', 'Print {"keyId", "privateKey", "publicKey"} (paths) as JSON']],
      examples: ['airlock keys generate --out ~/.config/airlock-publisher'],
    },
    prepare: (rest, args, ui) => {
      noMore(rest);
      const out = args.values.out ?? join(homeDir(args, ui), 'keys');
      return () => generateKeys(ui, out);
    },
  },
  sign: {
    scope: 'local',
    help: {
      usage: 'airlock sign <dir> --key <file>',
      summary: 'Sign a built plugin package with your private key.',
      details: 'Writes <dir>/airlock.sig.json, covering the manifest and the component. Sign after the last build and after any change to package.json: either change breaks the signature.',
      options: ['key', ['json', 'Print the plugin id, version, key id and hashes as JSON']],
      examples: ['airlock sign plugins/notes --key ~/.airlock/keys/airlock-signing.key'],
    },
    prepare: (rest, args, ui) => {
      const { dir, key } = signTarget(rest, args.values.key);
      return () => sign(ui, dir, key);
    },
  },
};

/** Every command's help, and every group's (`plugin`, `tools`…), by the words that name it. */
export const COMMAND_HELP: Readonly<Record<string, string>> = (() => {
  const entries = Object.entries(COMMANDS);
  const groups = [...new Set(entries.flatMap(([name]) => (name.includes(' ') ? [name.split(' ')[0]!] : [])))];
  return Object.fromEntries([
    ...entries.map(([name, command]) => [name, commandHelp(command.help)]),
    ...groups.map((group) => [group, groupHelp(group, entries.filter(([name]) => name.startsWith(`${group} `)).map(([name, c]) => [name, c.help]))]),
  ]);
})();

/** The options a command takes: those its help lists. */
const optionsOf = (command: Command): OptionName[] => command.help.options.map((o) => (typeof o === 'string' ? o : o[0]));

/** The server whose figures `plugin list` and `plugin info` add, when --url names one. */
const liveSource = (args: Args, ui: Ui) => (args.values.url === undefined ? undefined : metricsSource(args.values.url, ui.io.env));

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

/** The help `--help` shows after these positionals: a command's, a group's, or the global one. */
function helpFor(positionals: string[]): string {
  if (positionals.length === 0) return HELP;
  // A group (`plugin`) or a one-word command (`chat`); else the command the words name, or a usage error.
  const single = positionals.length === 1 ? COMMAND_HELP[positionals[0]!] : undefined;
  return single ?? COMMAND_HELP[findCommand(positionals).name]!;
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
    if (args.values.help) {
      ui.print(helpFor(args.positionals));
      return 0;
    }
    if (args.positionals.length === 0) {
      ui.print(HELP);
      return 2;
    }
    const { name, command, rest } = findCommand(args.positionals);
    onlyOptions(args, name, optionsOf(command));
    if (command.scope === 'local') return await command.prepare(rest, args, ui)();
    const run = await command.prepare(rest, args, ui);
    if (command.scope === 'plugins') return await withHost(args, ui, run);
    // Only an install may create the home; every other command on installed plugins needs one.
    return await withRegistry(args, ui, run, name === 'plugin add');
  } catch (err) {
    return reportError(ui, err);
  }
}

function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

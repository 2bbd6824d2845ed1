import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/index.js';
import { capture, echoProvider, notes } from './helpers.js';

let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-cli-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('airlock', () => {
  it('prints help', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out).toMatchInlineSnapshot(`
      "airlock — run Airlock plugins from a shell

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
      "
    `);
  });

  it('prints the version', async () => {
    const io = capture();
    expect(await main(['--version'], io)).toBe(0);
    expect(io.out).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 on a usage error', async () => {
    const io = capture();
    expect(await main(['frobnicate'], io)).toBe(2);
    expect(io.err).toContain('unknown command `frobnicate`');
    expect(io.err).toContain('airlock --help');
    const io2 = capture();
    expect(await main(['tools', 'call', 'count_words', '{not json', '-p', notes, '--yes', '--home', home], io2)).toBe(2);
    expect(io2.err).toContain('not valid JSON');
  });

  it('lists tools as an aligned table and as JSON', async () => {
    const io = capture();
    expect(await main(['tools', 'list', '-p', notes, '--yes', '--home', home], io)).toBe(0);
    const lines = io.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TOOL\s+RISK\s+DESCRIPTION$/);
    expect(lines.some((l) => /^notes\.add_note\s+write\s+Save a note/.test(l))).toBe(true);
    const json = capture();
    expect(await main(['tools', 'list', '-p', notes, '--yes', '--home', home, '--json'], json)).toBe(0);
    expect((JSON.parse(json.out) as { qualifiedName: string }[]).map((t) => t.qualifiedName)).toContain('notes.count_words');
  });

  it('calls a tool and prints its result', async () => {
    const io = capture();
    expect(await main(['tools', 'call', 'count_words', '{"text":"a b c"}', '-p', notes, '--yes', '--home', home, '--json'], io)).toBe(0);
    expect(JSON.parse(io.out)).toEqual({ tool: 'count_words', result: { words: 3, characters: 5, lines: 1 } });
  });

  it('fails with exit 1 and the typed error when the tool fails', async () => {
    const io = capture();
    expect(await main(['tools', 'call', 'get_note', '{"id":7}', '-p', notes, '--yes', '--home', home, '--json'], io)).toBe(1);
    expect(JSON.parse(io.out).error).toMatchObject({ code: 'TOOL_FAILED', plugin: 'notes' });
    expect(io.err).toContain('no note with id 7');
  });

  it('refuses to load a plugin without consent and says how to give it', async () => {
    const io = capture();
    expect(await main(['tools', 'list', '-p', notes, '--home', home], io)).toBe(1);
    expect(io.err).toContain('asks for storage');
    expect(io.err).toContain('--yes');
  });

  it.each([
    [['auth'], '`airlock auth` needs a subcommand: login, status, logout'],
    [['auth', 'signin', 'x'], 'unknown command `auth signin`; `airlock auth` takes login, status, logout'],
    [['auth', 'login', '-p', notes], 'name the auth plugin: airlock auth login <plugin-id>'],
    [['auth', 'status', 'a', 'b', '-p', notes], 'unexpected argument `b`'],
    [['chat', '-p', notes], 'give a prompt'],
    [['tools', 'list', '--yes'], '`--yes` applies to --plugin directories'],
    [['tools', 'list', '-c', 'notes.a=1'], '`--config` applies to --plugin directories'],
    [['chat', 'hi', '--temperature', 'warm', '-p', notes], '`--temperature` must be a number from 0 to 2, got `warm`'],
    [['chat', 'hi', '--max-tokens', '1.5', '-p', notes], '`--max-tokens` must be an integer >= 1, got `1.5`'],
    [['tools', 'list', '--model', 'x', '-p', notes], '`--model` does not apply to `airlock tools list`'],
    [['models', 'extra', '-p', notes], 'unexpected argument `extra`'],
    [['models', '--frobnicate'], "Unknown option '--frobnicate'"],
  ])('exits 2 for %j', async (argv, message) => {
    const io = capture();
    expect(await main([...argv, '--home', home], io)).toBe(2);
    expect(io.err).toContain(message);
    expect(io.out).toBe('');
  });

  it('exits 2 when the prompt from stdin is empty', async () => {
    const io = capture({ stdin: '  \n' });
    expect(await main(['chat', '-', '-p', notes, '--home', home], io)).toBe(2);
    expect(io.err).toContain('give a prompt');
  });

  it.each([
    ['notes', 'notes'],
    ['notes.key', 'notes.key'],
    ['=1', '=1'],
    ['Notes.key=1', 'Notes.key=1'],
    ['notes.=1', 'notes.=1'],
    ['a=b.c', 'a=b.c'],
  ])('exits 2 for a malformed --config %s', async (flag, shown) => {
    const io = capture();
    expect(await main(['tools', 'list', '-p', notes, '--yes', '--home', home, '--config', flag], io)).toBe(2);
    expect(io.err).toContain(`malformed \`--config ${shown}\`; expected --config <plugin-id>.<key>=<value>`);
  });

  it('exits 2 for a --config naming a plugin no --plugin has', async () => {
    const io = capture();
    expect(await main(['tools', 'list', '-p', notes, '-p', echoProvider, '--yes', '--home', home, '-c', 'weather.units=metric'], io)).toBe(2);
    expect(io.err).toContain('`--config` names plugin `weather`, but no --plugin has that id (loaded: notes, echo-provider)');
  });
});

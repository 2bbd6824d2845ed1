/**
 * @airlock/cli — the `airlock` command. `main()` is the whole CLI as a function
 * (tested directly); only the bin file sets the exit code.
 * Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AirlockError, createHost, type Host, type Logger } from '@airlock/host';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
}

const defaultIo: Io = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  env: process.env,
  isTTY: !!process.stdout.isTTY,
};

export const HELP = `airlock — run Airlock plugins from a shell

Usage
  airlock tools list --plugin <dir>...                List the tools of the given plugins
  airlock tools call <tool> [json] --plugin <dir>...  Call a tool with JSON arguments

Options
  -p, --plugin <dir>   A plugin directory to load (repeatable)
  -y, --yes            Grant every capability the plugins' manifests ask for
      --home <dir>     Host home (default: $AIRLOCK_HOME or ~/.airlock)
      --json           Print one JSON document on stdout
  -h, --help           Show this help
  -v, --version        Show the version

Examples
  airlock tools list -p plugins/notes --yes
  airlock tools call count_words '{"text":"hello world"}' -p plugins/notes --yes
`;

class UsageError extends Error {}

/** Run the CLI with `argv` (without node and script). Resolves with the exit code. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const color = io.isTTY && !io.env.NO_COLOR && !io.env.CI;
  const paint = (code: number, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  try {
    const { values, positionals } = parse(argv);
    if (values.version) {
      io.stdout(`${version()}\n`);
      return 0;
    }
    if (values.help || positionals.length === 0) {
      io.stdout(HELP);
      return values.help ? 0 : 2;
    }
    const [group, command, ...rest] = positionals;
    if (group !== 'tools' || (command !== 'list' && command !== 'call')) {
      throw new UsageError(`unknown command \`${positionals.slice(0, 2).join(' ')}\``);
    }
    if (!values.plugin?.length) throw new UsageError('load at least one plugin with --plugin <dir>');
    const home = values.home ?? io.env.AIRLOCK_HOME ?? join(homedir(), '.airlock');
    // Plugin log lines go to stderr so stdout stays parseable.
    const logger: Logger = ({ level, message, plugin }) => {
      if (level !== 'trace' && level !== 'debug') io.stderr(`${paint(2, `[${plugin ?? 'airlock'}]`)} ${message}\n`);
    };
    const host = await createHost({ home, logger });
    try {
      for (const dir of values.plugin) await host.load(dir, { grant: values.yes ? 'manifest' : {} });
      if (command === 'list') return listTools(host, io, values.json ?? false, paint);
      const [tool, json, ...extra] = rest;
      if (!tool) throw new UsageError('name the tool to call: airlock tools call <tool> [json]');
      if (extra.length) throw new UsageError(`unexpected argument \`${extra[0]}\`; quote the JSON arguments`);
      let args: unknown = {};
      if (json !== undefined) {
        try {
          args = JSON.parse(json);
        } catch (e) {
          throw new UsageError(`the arguments are not valid JSON: ${(e as Error).message}`);
        }
      }
      const result = await host.callTool(tool, args);
      io.stdout(values.json ? `${JSON.stringify({ tool, result })}\n` : `${JSON.stringify(result, null, 2)}\n`);
      return 0;
    } finally {
      await host.close();
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`${paint(31, 'error')}: ${err.message}\nRun \`airlock --help\` for usage.\n`);
      return 2;
    }
    const e = err as AirlockError;
    if (argv.includes('--json')) io.stdout(`${JSON.stringify({ error: AirlockError.isInstance(e) ? e.toJSON() : { message: String(e) } })}\n`);
    io.stderr(`${paint(31, 'error')}: ${e.message ?? String(e)}\n`);
    if (AirlockError.isInstance(e) && e.hint) io.stderr(`${paint(2, 'hint:')} ${e.hint}\n`);
    if (AirlockError.isInstance(e) && e.code === 'CAPABILITY_NOT_GRANTED') io.stderr(`${paint(2, 'hint:')} pass --yes to grant what the manifest asks for\n`);
    return 1;
  }
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        plugin: { type: 'string', short: 'p', multiple: true },
        yes: { type: 'boolean', short: 'y' },
        home: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function listTools(host: Host, io: Io, json: boolean, paint: (code: number, s: string) => string): number {
  const tools = host.tools();
  if (json) {
    io.stdout(`${JSON.stringify(tools)}\n`);
    return 0;
  }
  const width = Math.max(4, ...tools.map((t) => t.qualifiedName.length));
  const riskWidth = Math.max(4, ...tools.map((t) => t.risk.length));
  io.stdout(`${'TOOL'.padEnd(width)}  ${'RISK'.padEnd(riskWidth)}  DESCRIPTION\n`);
  for (const t of tools) {
    const risk = t.risk.padEnd(riskWidth);
    const shown = t.risk === 'read-only' ? risk : paint(t.risk === 'write' ? 33 : 31, risk);
    io.stdout(`${t.qualifiedName.padEnd(width)}  ${shown}  ${t.description}\n`);
  }
  return 0;
}

function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

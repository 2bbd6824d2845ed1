/**
 * The `create-airlock-plugin` command (`npm create airlock-plugin@latest`).
 * Interactive on a terminal when no options are given; otherwise driven by
 * flags. Exit codes: 0 created, 1 refused or failed, 2 usage error.
 */
import { createInterface } from 'node:readline/promises';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { KINDS, VERSION, idFromDir, scaffold, ID_PATTERN, type PluginKind, type ScaffoldResult } from './index.js';

export const HELP = `create-airlock-plugin — start a new Airlock plugin project

Usage
  npm create airlock-plugin@latest [dir] -- [options]
  create-airlock-plugin [dir] [options]

Without options on a terminal, it asks for what it needs.

Options
  --kind <kind>          tool | auth | provider | hook | prompt-template | context
  --id <id>              Plugin id (default: from the directory name)
  --description <text>   One line for package.json and the README
  --workspace            Use the surrounding pnpm workspace's packages (workspace:*);
                         fail if the directory is not one of its packages
  --published            Use the published @airlock/sdk ^${VERSION} even inside a workspace
  --registry <url>       Where the Airlock packages come from, when not npm's public registry;
                         written to the project's .npmrc (default: the registry npm create used)
  --json                 Print the result as one JSON document on stdout
  -h, --help             Show this help
  -v, --version          Show the version

It never writes into an existing file or a non-empty directory.

Examples
  npm create airlock-plugin@latest weather -- --kind tool
  npm create airlock-plugin@latest weather --registry https://npm.example.com -- --kind tool
  create-airlock-plugin plugins/my-provider --kind provider --id my-provider
`;

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** A terminal to ask questions on; undefined when not interactive. */
  prompt?: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream };
  color?: boolean;
  /** The environment: `npm_config_registry` is the registry `npm create` fetched this package from. */
  env?: NodeJS.ProcessEnv;
}

function defaultIo(): Io {
  const tty = !!process.stdin.isTTY && !!process.stdout.isTTY;
  return {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    prompt: tty ? { input: process.stdin, output: process.stdout } : undefined,
    color: !!process.stdout.isTTY && !process.env.NO_COLOR,
    env: process.env,
  };
}

/** Run the command with `argv` (without node and script). Returns the exit code. */
export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  const paint = (code: number) => (s: string) => (io.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const red = paint(31);
  const green = paint(32);
  const bold = paint(1);
  const dim = paint(2);

  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        kind: { type: 'string' },
        id: { type: 'string' },
        description: { type: 'string' },
        workspace: { type: 'boolean', default: false },
        published: { type: 'boolean', default: false },
        registry: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (err) {
    io.stderr(`${red('error')}: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  if (values.version) {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  const usage = (message: string) => {
    io.stderr(`${red('error')}: ${message}\nRun create-airlock-plugin --help for usage.\n`);
    return 2;
  };
  if (positionals.length > 1) return usage(`expected one directory, got ${positionals.length}: ${positionals.join(' ')}`);
  if (values.workspace && values.published) return usage('--workspace and --published exclude each other');
  if (values.kind !== undefined && !(KINDS as readonly string[]).includes(values.kind)) {
    return usage(`--kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(values.kind)}`);
  }

  let dir = positionals[0];
  let kind = values.kind as PluginKind | undefined;
  let id = values.id;
  let description = values.description;
  const interactive = io.prompt !== undefined && !values.json && argv.every((a) => !a.startsWith('-'));
  if (interactive) {
    const answers = await ask(io.prompt!, { dir, bold, dim });
    if (!answers) return usage('cancelled');
    ({ dir, kind, id, description } = answers);
  }
  if (dir === undefined) return usage('name the directory to create, e.g. `create-airlock-plugin my-plugin --kind tool`');
  if (kind === undefined) return usage(`--kind is required when not run interactively (${KINDS.join(', ')})`);

  let result: ScaffoldResult;
  try {
    result = await scaffold({
      dir,
      kind,
      id,
      description,
      dependencies: values.workspace ? 'workspace' : values.published ? 'published' : 'auto',
      registry: values.registry ?? io.env?.npm_config_registry,
    });
  } catch (err) {
    const e = err as Error & { code?: string; hint?: string };
    if (values.json) io.stdout(JSON.stringify({ error: { code: e.code ?? 'ERROR', message: e.message, hint: e.hint } }) + '\n');
    io.stderr(`${red('error')}: ${e.message}\n`);
    if (e.hint) io.stderr(`${dim('hint:')} ${e.hint}\n`);
    return 1;
  }
  if (values.json) {
    io.stdout(JSON.stringify(result) + '\n');
    return 0;
  }
  const where = relative(process.cwd(), result.dir) || '.';
  const ws = result.dependencies === 'workspace';
  io.stdout(
    `${green('created')} ${bold(result.id)} (${result.kind} plugin) in ${where}\n` +
      result.files.map((f) => dim(`  ${f}\n`)).join('') +
      `\nNext:\n` +
      `  cd ${where}\n` +
      (ws ? `  pnpm install        ${dim('# links the workspace packages')}\n  pnpm test\n` : `  npm install\n  npm test            ${dim('# builds the component and runs it in a real host')}\n`) +
      `  ${ws ? 'pnpm dev    ' : 'npm run dev'}         ${dim('# rebuild and hot-reload on every change')}\n`,
  );
  return 0;
}

interface Answers {
  dir: string;
  kind: PluginKind;
  id: string;
  description: string | undefined;
}

/** Ask for the directory (unless given), kind, id and description. Undefined when the input ends. */
async function ask(
  term: NonNullable<Io['prompt']>,
  { dir, bold, dim }: { dir: string | undefined; bold: (s: string) => string; dim: (s: string) => string },
): Promise<Answers | undefined> {
  const rl = createInterface({ input: term.input, output: term.output, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const question = async (q: string, fallback: string): Promise<string | undefined> => {
    term.output.write(`${bold('?')} ${q} ${dim(`(${fallback})`)} `);
    const next = await lines.next();
    if (next.done) return undefined;
    return next.value.trim() || fallback;
  };
  try {
    dir ??= await question('Directory:', 'my-plugin');
    if (dir === undefined) return undefined;
    let kind: PluginKind | undefined;
    while (!kind) {
      const menu = KINDS.map((k, i) => `${i + 1}) ${k}`).join('  ');
      const answer = await question(`Kind — ${menu}:`, 'tool');
      if (answer === undefined) return undefined;
      kind = (KINDS as readonly string[]).includes(answer) ? (answer as PluginKind) : KINDS[Number(answer) - 1];
      if (!kind) term.output.write(`  choose 1–${KINDS.length} or a name\n`);
    }
    let id: string | undefined;
    while (!id) {
      const answer = await question('Plugin id:', idFromDir(dir));
      if (answer === undefined) return undefined;
      if (ID_PATTERN.test(answer)) id = answer;
      else term.output.write('  lowercase letters, digits and dashes, starting with a letter\n');
    }
    const description = await question('Description:', `an Airlock ${kind} plugin`);
    if (description === undefined) return undefined;
    return { dir, kind, id, description };
  } finally {
    rl.close();
  }
}

/**
 * The `airlock-plugin` command. Commands are plain functions; only bin.ts exits.
 * Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildPlugin } from '../build/index.js';

const useColor = () => !!process.stderr.isTTY && !process.env.NO_COLOR && !process.env.CI;
const paint = (code: number) => (s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
const red = paint(31);
const green = paint(32);
const dim = paint(2);

export const HELP = `airlock-plugin — build Airlock plugins

Usage
  airlock-plugin build [dir] [options]   Type-check, bundle and componentize a plugin

Options
  --release        Drop JS stack traces from the component (smaller; traps are silent)
  --no-typecheck   Skip the TypeScript type check
  --json           Print the result as one JSON document on stdout
  -h, --help       Show this help
  -v, --version    Show the version

Examples
  airlock-plugin build
  airlock-plugin build plugins/notes --json
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIo: Io = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

/** Run the CLI with `argv` (without node and script). Returns the exit code. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        release: { type: 'boolean', default: false },
        'no-typecheck': { type: 'boolean', default: false },
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
  if (values.version) {
    io.stdout(`${version()}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    io.stdout(HELP);
    return command || values.help ? 0 : 2;
  }
  if (command !== 'build') {
    io.stderr(`${red('error')}: unknown command \`${command}\`\n\n${HELP}`);
    return 2;
  }
  if (rest.length > 1) {
    io.stderr(`${red('error')}: build takes one directory, got ${rest.length}\n`);
    return 2;
  }
  const started = Date.now();
  try {
    const result = await buildPlugin({
      dir: rest[0] ?? '.',
      release: values.release,
      skipTypecheck: values['no-typecheck'],
      onProgress: (step) => {
        if (!values.json) io.stderr(dim(`  ${step}… (${((Date.now() - started) / 1000).toFixed(1)} s)\n`));
      },
    });
    if (values.json) io.stdout(JSON.stringify(result) + '\n');
    else {
      const mb = (result.bytes / 1024 / 1024).toFixed(1);
      io.stderr(
        `${green('built')} ${result.id} (${result.kind}) → ${result.component}\n` +
          `  ${mb} MB in ${(result.ms.total / 1000).toFixed(1)} s ` +
          dim(`(typecheck ${fmt(result.ms.typecheck)}, bundle ${fmt(result.ms.bundle)}, componentize ${fmt(result.ms.componentize)})`) +
          '\n',
      );
    }
    return 0;
  } catch (err) {
    const e = err as Error & { code?: string; details?: string; hint?: string };
    if (values.json) io.stdout(JSON.stringify({ error: { code: e.code ?? 'ERROR', message: e.message, details: e.details } }) + '\n');
    io.stderr(`${red('build failed')}: ${e.message}\n`);
    if (e.details) io.stderr(`${e.details.trimEnd()}\n`);
    if (e.hint) io.stderr(`${dim('hint:')} ${e.hint}\n`);
    return 1;
  }
}

const fmt = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

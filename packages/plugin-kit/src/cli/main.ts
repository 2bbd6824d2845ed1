/**
 * The `airlock-plugin` command. Commands are plain functions; only bin.ts exits.
 * Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildPlugins, defaultConcurrency, generateInterfaceTypes, type BuildOutcome } from '../build/index.js';
import { dev } from './dev.js';
import { dim, green, red } from './paint.js';
import { describeBuild, describeError } from './report.js';

export const HELP = `airlock-plugin — build Airlock plugins

Usage
  airlock-plugin build [dir...] [options]   Type-check, bundle and componentize plugins
  airlock-plugin dev [dir] [options]        Build, load into a local host, then rebuild
                                            and reload on every change
  airlock-plugin types [dir]                Write the types of the integrator's interfaces
                                            the manifest names (from wit/) to
                                            .airlock-plugin/interfaces.d.ts (builds do too)

Build options
  --release                Drop JS stack traces from the component (smaller; traps are silent)
  --dev                    A development build: the kind's prebuilt engine component (built
                           once, then cached) and the bundle beside it (dist/plugin.dev.js),
                           which the engine runs; a change rebuilds in well under a second.
                           Runs in the same sandbox, but cannot be installed or published
  --no-typecheck           Skip the TypeScript type check
  --no-cache               Componentize even when the build cache holds the component
  -j, --jobs <n>           Plugins built at once (default: one per 1.5 cores, ~900 MB free memory each)
  --json                   Print the result as JSON on stdout (an array for several dirs)

Dev options (and --no-typecheck)
  --release                Make a release build on every change (componentizes each time)
                           instead of a development build (see --dev above)
  --grant <manifest|none>  What the plugin may do (default: what its manifest asks for)
  --config <key=value>     Plugin configuration; the value is JSON when it parses (repeatable)
  --env <NAME[=VALUE]>     Give the host only these environment variables, from yours or as
                           given (repeatable; default: all of yours)
  --home <dir>             Host home (storage, caches); default: a temporary directory
  --no-repl                Only watch and log, even on a terminal

  -h, --help               Show this help
  -v, --version            Show the version

Examples
  airlock-plugin build
  airlock-plugin build plugins/notes --json
  airlock-plugin build plugins/* --jobs 2
  airlock-plugin dev plugins/notes
  airlock-plugin dev --config baseUrl=https://api.example.com --env API_KEY

Components are cached in each plugin's node_modules/.cache/airlock-plugin/, and the
development engines of --dev and dev in ~/.cache/airlock-plugin/ (or $XDG_CACHE_HOME),
shared by every project; set AIRLOCK_BUILD_CACHE to keep both elsewhere.
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

const DEV_ONLY = ['grant', 'config', 'env', 'home', 'no-repl'] as const;
const BUILD_ONLY = ['no-cache', 'jobs', 'json', 'dev'] as const;

/** Run the CLI with `argv` (without node and script). Returns the exit code. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        release: { type: 'boolean', default: false },
        dev: { type: 'boolean' },
        'no-typecheck': { type: 'boolean', default: false },
        'no-cache': { type: 'boolean' },
        jobs: { type: 'string', short: 'j' },
        json: { type: 'boolean' },
        grant: { type: 'string' },
        config: { type: 'string', multiple: true },
        env: { type: 'string', multiple: true },
        home: { type: 'string' },
        'no-repl': { type: 'boolean' },
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
  if (command === 'types') {
    if (rest.length > 1) {
      io.stderr(`${red('error')}: types takes one directory, got ${rest.length}\n`);
      return 2;
    }
    const misplacedOption = [...DEV_ONLY, ...BUILD_ONLY, 'release', 'no-typecheck'].find((name) => values[name as keyof typeof values]);
    if (misplacedOption) {
      io.stderr(`${red('error')}: --${misplacedOption} does not apply to \`types\`\n`);
      return 2;
    }
    return types(rest[0] ?? '.', io);
  }
  if (command !== 'build' && command !== 'dev') {
    io.stderr(`${red('error')}: unknown command \`${command}\`\n\n${HELP}`);
    return 2;
  }
  const misplaced = (command === 'build' ? DEV_ONLY : BUILD_ONLY).find((name) => values[name] !== undefined);
  if (misplaced) {
    io.stderr(`${red('error')}: --${misplaced} does not apply to \`${command}\`\n`);
    return 2;
  }

  if (command === 'dev') {
    if (rest.length > 1) {
      io.stderr(`${red('error')}: dev takes one directory, got ${rest.length}\n`);
      return 2;
    }
    return dev(
      {
        dir: rest[0] ?? '.',
        release: values.release,
        skipTypecheck: values['no-typecheck'],
        grant: values.grant,
        config: values.config ?? [],
        env: values.env,
        home: values.home,
        repl: !values['no-repl'],
      },
      io,
    );
  }

  if (values.dev && values.release) {
    io.stderr(`${red('error')}: --dev and --release do not go together: a build is one or the other\n`);
    return 2;
  }
  let jobs: number | undefined;
  if (values.jobs !== undefined) {
    jobs = Number(values.jobs);
    if (!/^\d+$/.test(values.jobs) || jobs < 1) {
      io.stderr(`${red('error')}: --jobs takes a positive whole number, got \`${values.jobs}\`\n`);
      return 2;
    }
  }
  return build(rest.length ? rest : ['.'], { release: values.release, dev: !!values.dev, skipTypecheck: values['no-typecheck'], cache: !values['no-cache'], jobs, json: !!values.json }, io);
}

async function types(dir: string, io: Io): Promise<number> {
  try {
    const file = await generateInterfaceTypes({ dir });
    io.stderr(file ? `${green('wrote')} ${file}\n` : dim('the manifest names no interfaces ("capabilities.interfaces"): nothing to write\n'));
    return 0;
  } catch (err) {
    io.stderr(describeError(err as Error, undefined, 'types failed'));
    return 1;
  }
}

interface BuildFlags {
  release: boolean;
  dev: boolean;
  skipTypecheck: boolean;
  cache: boolean;
  jobs: number | undefined;
  json: boolean;
}

async function build(dirs: string[], flags: BuildFlags, io: Io): Promise<number> {
  const several = dirs.length > 1;
  const started = Date.now();
  const concurrency = Math.min(flags.jobs ?? defaultConcurrency(), dirs.length);
  if (several && !flags.json) io.stderr(dim(`building ${dirs.length} plugins, ${concurrency} at a time\n`));
  const outcomes = await buildPlugins(dirs, {
    release: flags.release,
    dev: flags.dev,
    skipTypecheck: flags.skipTypecheck,
    cache: flags.cache,
    concurrency,
    onProgress: (dir, step) => {
      if (!flags.json && step !== 'cached') io.stderr(dim(`  ${several ? `${dir}: ` : ''}${step}… (${((Date.now() - started) / 1000).toFixed(1)} s)\n`));
    },
    // With several plugins, each is reported as it finishes. Errors go to stderr with --json too.
    onDone: (outcome) => {
      if (several && (!flags.json || !outcome.ok)) report(outcome, io);
    },
  });
  if (!several && (!flags.json || !outcomes[0]!.ok)) report(outcomes[0]!, io, false);
  if (flags.json) {
    const json = outcomes.map((o) => (o.ok ? o.result : { dir: o.dir, error: errorJson(o.error) }));
    io.stdout(JSON.stringify(several ? json : json[0]) + '\n');
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  if (several && !flags.json) {
    const built = outcomes.length - failed;
    io.stderr(`${failed ? red(`${failed} failed`) : green('all built')}${failed ? `, ${built} built` : ` (${built})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  return failed ? 1 : 0;
}

function errorJson(err: Error): { code: string; message: string; details?: string; hint?: string; diagnostics?: unknown } {
  const e = err as Error & { code?: string; details?: string; hint?: string; diagnostics?: unknown[] };
  return { code: e.code ?? 'ERROR', message: e.message, details: e.details, hint: e.hint, ...(e.diagnostics?.length ? { diagnostics: e.diagnostics } : {}) };
}

function report(outcome: BuildOutcome, io: Io, several = true): void {
  if (outcome.ok) io.stderr(describeBuild(outcome.result));
  else io.stderr(describeError(outcome.error, several ? outcome.dir : undefined));
}

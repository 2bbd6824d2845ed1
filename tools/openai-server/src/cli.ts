/**
 * The `airlock-openai-server` command. `main()` is the whole CLI as a function;
 * only the bin file sets the exit code. Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_API_KEYS, DEFAULT_MODELS, startOpenAIServer } from './server.js';
import type { OpenAIServerOptions } from './types.js';

/** Where the CLI writes, and how it learns to stop. */
export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Resolves when the server should stop (by default on SIGINT or SIGTERM). */
  stopped: () => Promise<void>;
}

const defaultIo: Io = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  stopped: () =>
    new Promise((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    }),
};

export const HELP = `airlock-openai-server — a loopback OpenAI-compatible chat server for tests and demos

Usage
  airlock-openai-server [options]

Options
  -p, --port <n>          Port to listen on (default: 0, any free port)
      --host <address>    Address to bind (default: 127.0.0.1)
  -k, --api-key <key>     An accepted API key (repeatable; default: ${DEFAULT_API_KEYS.join(', ')})
  -m, --model <id>        A served model id (repeatable; default: ${DEFAULT_MODELS.join(', ')})
      --chunk-delay <ms>  Delay between streamed chunks (default: 0)
  -h, --help              Show this help

Prints the base URL (ending in /v1) on stdout, then serves until Ctrl-C.
Answers are deterministic: "You said: <your last message>".
`;

class UsageError extends Error {}

/** Run the CLI with `argv` (without node and script). Resolves with the exit code once the server stopped. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let options: OpenAIServerOptions;
  try {
    const parsed = parse(argv);
    if (!parsed) {
      io.stdout(HELP);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`airlock-openai-server: ${error.message}\nRun airlock-openai-server --help for usage.\n`);
    return 2;
  }
  try {
    const server = await startOpenAIServer(options);
    io.stdout(`${server.url}\n`);
    io.stderr('Serving OpenAI-compatible chat completions; Ctrl-C to stop.\n');
    await io.stopped();
    await server.close();
    return 0;
  } catch (error) {
    io.stderr(`airlock-openai-server: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

const OPTIONS = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  'api-key': { type: 'string', short: 'k', multiple: true },
  model: { type: 'string', short: 'm', multiple: true },
  'chunk-delay': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `argv` parsed by parseArgs, whose errors (unknown options, missing values, positionals) become UsageErrors. */
function flags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Server options from `argv`; undefined when help is asked for. Throws UsageError. */
function parse(argv: string[]): OpenAIServerOptions | undefined {
  const values = flags(argv);
  if (values.help) return undefined;
  return {
    port: values.port === undefined ? 0 : integerIn(values.port, '--port', 0, 65_535),
    host: values.host,
    apiKeys: values['api-key'],
    models: values.model,
    chunkDelayMs: values['chunk-delay'] === undefined ? 0 : integerIn(values['chunk-delay'], '--chunk-delay', 0, 60_000),
  };
}

function integerIn(text: string, option: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`${option} takes an integer from ${min} to ${max}, not \`${text}\``);
  return value;
}

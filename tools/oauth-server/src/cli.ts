/**
 * The `airlock-oauth-server` command: start a server, print its endpoints and each request,
 * stop on Ctrl-C. Exit codes: 0 stopped normally, 1 failed to start, 2 usage error.
 */
import { parseArgs } from 'node:util';
import type { OAuthServerOptions } from './options.js';
import type { RequestRecord } from './routes.js';
import { startOAuthServer, type OAuthServer } from './server.js';

/** Where the CLI writes, and what tells it to stop. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Resolves when the server should stop. Default: on the first SIGINT or SIGTERM. */
  untilStopped: () => Promise<void>;
}

/** The `--help` text. */
export const HELP = `airlock-oauth-server — a loopback OAuth 2.0 server (device authorization grant, RFC 8628)

Usage
  airlock-oauth-server [options]

Options
      --port <n>        Port to listen on (default: a free one)
      --interval <s>    Minimum seconds between polls of a device code (default: 5)
      --auto-approve    Approve each device code when it is first polled
      --client <id>     A client id to accept (repeatable; default: airlock-demo)
  -h, --help            Show this help

Approve codes at the printed verification URL. Ctrl-C stops the server.
`;

const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  untilStopped: () =>
    new Promise((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }),
};

/** Run the command with `argv` (without node and script); resolves with the exit code once the server stopped. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  let options: OAuthServerOptions;
  try {
    const values = parse(argv);
    if (values.help) {
      io.stdout(HELP);
      return 0;
    }
    options = {
      autoApprove: values['auto-approve'] ?? false,
      ...(values.port === undefined ? {} : { port: port(values.port) }),
      ...(values.interval === undefined ? {} : { interval: seconds('--interval', values.interval) }),
      ...(values.client === undefined ? {} : { clients: values.client }),
    };
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\nRun \`airlock-oauth-server --help\` for usage.\n`);
    return 2;
  }
  let server: OAuthServer;
  try {
    server = await startOAuthServer(options);
  } catch (err) {
    io.stderr(`error: ${(err as Error).message}\n`);
    return 1;
  }
  io.stdout(describe(server, options));
  server.events.on('request', (record) => io.stdout(`${formatRecord(record)}\n`));
  await io.untilStopped();
  await server.close();
  io.stdout('stopped\n');
  return 0;
}

/** The parsed flags; throws with the parser's message on unknown or malformed ones. */
function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      interval: { type: 'string' },
      'auto-approve': { type: 'boolean' },
      client: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
}

function port(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65535) throw new Error(`--port must be a number from 0 to 65535, got ${JSON.stringify(text)}`);
  return value;
}

function seconds(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw new Error(`${flag} must be a positive number of seconds, got ${JSON.stringify(text)}`);
  return value;
}

function describe(server: OAuthServer, options: OAuthServerOptions): string {
  const approval = options.autoApprove ? 'auto-approve (each code is approved when first polled)' : `approve at ${server.verificationUri}`;
  return `airlock-oauth-server listening on ${server.url}
  device authorization  ${server.deviceAuthorizationEndpoint}
  token                 ${server.tokenEndpoint}
  revocation            ${server.revocationEndpoint}
  userinfo              ${server.userinfoEndpoint}
  verification          ${server.verificationUri}
clients: ${(options.clients ?? ['airlock-demo']).join(', ')} · polling interval: ${server.intervalMs / 1000} s · ${approval}
Press Ctrl-C to stop.
`;
}

function formatRecord({ method, path, status, grantType, error }: RequestRecord): string {
  const detail = [grantType && `grant_type=${grantType}`, error].filter(Boolean).join(' ');
  return `${method} ${path} ${status}${detail ? ` ${detail}` : ''}`;
}

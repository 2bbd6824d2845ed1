/**
 * `airlock serve` (the loaded plugins to MCP clients, over stdio or HTTP) and
 * `airlock token` (the bearer tokens HTTP clients present).
 */
import { readFile } from 'node:fs/promises';
import type { Host } from '@airlock/host';
import type { Scope } from '@airlock/serve';
import { numberOption, type Args } from './args.js';
import { table, UsageError, type Ui } from './output.js';

export const DEFAULT_PORT = 7345;

/** `@airlock/serve` brings the MCP SDK and its schemas: only the commands that serve, render prompts or keep tokens load it, so every other command starts without it. */
export const serveLibrary = () => import('@airlock/serve');

export interface ServeOptions {
  stdio: boolean;
  port: number;
  bind: string;
  tls?: { key: string; cert: string };
}

export function serveOptions(rest: string[], args: Args): ServeOptions {
  if (rest.length) throw new UsageError(`unexpected argument \`${rest[0]}\``);
  const stdio = !!args.values.stdio;
  const { port, bind } = args.values;
  const key = args.values['tls-key'];
  const cert = args.values['tls-cert'];
  if (stdio && (port !== undefined || bind !== undefined || key || cert)) throw new UsageError('`--stdio` serves MCP on stdin and stdout: --port, --bind and --tls-* apply to HTTP only');
  if (!!key !== !!cert) throw new UsageError('HTTPS needs both --tls-key and --tls-cert');
  return {
    stdio,
    port: numberOption('port', port, { integer: true, min: 0, max: 65535 }) ?? DEFAULT_PORT,
    bind: bind ?? '127.0.0.1',
    ...(key && cert ? { tls: { key, cert } } : {}),
  };
}

/** Until Ctrl-C or SIGTERM. */
function untilStopped(ui: Ui): Promise<void> {
  return new Promise((resolve) => {
    const offInterrupt = ui.io.onInterrupt(() => done());
    const done = () => {
      offInterrupt();
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGTERM', done);
  });
}

export async function serve(host: Host, ui: Ui, options: ServeOptions): Promise<number> {
  const { TokenStore, createServer, readToolPolicy, serveStdio } = await serveLibrary();
  // Which tools ask the user before they run: <home>/config.json's serve section.
  const policy = await readToolPolicy(host.home);
  if (options.stdio) {
    // stdout is the MCP channel now: everything for people goes to stderr.
    const session = await serveStdio(host, { policy });
    ui.log(ui.err.dim(`airlock: serving ${host.tools().length} tools over MCP on stdio`));
    const ended = new Promise<void>((resolve) => process.stdin.once('end', resolve));
    await Promise.race([session.closed, ended, untilStopped(ui)]);
    await session.close();
    return 0;
  }
  const tokens = await TokenStore.open(host.home);
  const server = createServer(host, { tokens, policy, logger: ({ level, message }) => ui.log(`${ui.err.dim('[serve]')} ${level === 'warn' ? `${ui.err.yellow('warning:')} ` : ''}${message}`) });
  const tls = options.tls && { key: await readFile(options.tls.key), cert: await readFile(options.tls.cert) };
  const { url } = await server.listen({ port: options.port, hostname: options.bind, ...(tls ? { tls } : {}) });
  if (ui.json) ui.event({ url, mcp: `${url}/mcp`, health: `${url}/healthz`, tools: host.tools().length });
  else ui.print(`Serving ${host.tools().length} tools of ${host.plugins().length} plugins\n  MCP (Streamable HTTP): ${url}/mcp\n  health:                ${url}/healthz\n`);
  if (tokens.list().length === 0) ui.log(`${ui.err.yellow('warning:')} no token exists yet, so every client is refused; create one with \`airlock token create --scope tools\``);
  await untilStopped(ui);
  ui.log(ui.err.dim('airlock: stopping'));
  await server.close();
  return 0;
}

export async function tokenScopes(args: Args): Promise<Scope[]> {
  const { SCOPES, isScope } = await serveLibrary();
  const given = args.values.scope ?? [];
  if (given.length === 0) throw new UsageError(`name what the token may do: --scope ${SCOPES.join('|')} (repeatable)`);
  const scopes = given.flatMap((s) => s.split(','));
  const bad = scopes.find((s) => !isScope(s));
  if (bad !== undefined) throw new UsageError(`unknown scope \`${bad}\`; scopes are ${SCOPES.join(', ')}`);
  return scopes as Scope[];
}

export async function createToken(ui: Ui, home: string, scopes: Scope[], name: string | undefined): Promise<number> {
  const { TokenStore } = await serveLibrary();
  const store = await TokenStore.open(home);
  const { token, record } = await store.create({ scopes, name });
  if (ui.json) ui.event({ token, id: record.id, name: record.name, scopes: record.scopes });
  else {
    ui.print(`${token}\n`);
    ui.log(ui.err.dim(`token ${record.id} (${record.name}), scopes ${record.scopes.join(', ')}: shown once, only its hash is kept. Clients send it as "Authorization: Bearer <token>".`));
  }
  return 0;
}

export async function listTokens(ui: Ui, home: string): Promise<number> {
  const { TokenStore } = await serveLibrary();
  const records = (await TokenStore.open(home)).list();
  if (ui.json) ui.event(records.map(({ sha256: _hash, ...r }) => r));
  else if (records.length === 0) ui.log('no tokens; create one with `airlock token create --scope tools`');
  else ui.print(table(['ID', 'NAME', 'SCOPES', 'CREATED'], records.map((r) => [r.id, r.name, r.scopes.join(','), r.createdAt])));
  return 0;
}

export async function revokeToken(ui: Ui, home: string, id: string): Promise<number> {
  const { TokenStore } = await serveLibrary();
  const revoked = await (await TokenStore.open(home)).revoke(id);
  if (ui.json) ui.event({ id, revoked });
  else ui.log(revoked ? `token ${id} revoked` : `no token ${id}`);
  return revoked ? 0 : 1;
}

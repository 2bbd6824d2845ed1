/**
 * @airlock/serve: a host's plugins for clients that are not Node programs.
 *
 * @example
 * import { createHost } from '@airlock/host';
 * import { createServer, TokenStore } from '@airlock/serve';
 *
 * const host = await createHost({ home });
 * await host.loadInstalled();
 * const server = createServer(host, { tokens: await TokenStore.open(home) });
 * const { url } = await server.listen({ port: 7345 });
 * // MCP clients connect to `${url}/mcp` with `Authorization: Bearer <token>`.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Host } from '@airlock/host';
import { McpHub } from './mcp.js';
import type { ToolPolicy } from './policy.js';

export { createServer } from './server.js';
export type { AirlockServer, ServerOptions, ListenOptions } from './server.js';
export { McpHub, toMcpTool } from './mcp.js';
export { toMcpPrompt, coerceArguments } from './mcp-prompts.js';
export { toChatRequest } from './openai.js';
export { readToolPolicy, needsConfirmation, DEFAULT_CONFIRM } from './policy.js';
export type { ToolPolicy } from './policy.js';
export type { McpHubOptions } from './mcp.js';
export { TokenStore, SCOPES, isScope } from './tokens.js';
export type { Scope, TokenRecord } from './tokens.js';
export { version } from './version.js';

/**
 * Serve MCP over this process's stdin and stdout (the parent process is the
 * user: no token). Resolves once connected; the returned function closes the
 * session. Nothing else may write to stdout meanwhile.
 */
export async function serveStdio(
  host: Host,
  options: { stdin?: NodeJS.ReadableStream; stdout?: NodeJS.WritableStream; policy?: ToolPolicy } = {},
): Promise<{ hub: McpHub; closed: Promise<void>; close: () => Promise<void> }> {
  const hub = new McpHub(host, { policy: options.policy });
  const server = hub.server();
  const transport = new StdioServerTransport(options.stdin as never, options.stdout as never);
  const closed = new Promise<void>((resolve) => {
    const previous = transport.onclose;
    transport.onclose = () => {
      previous?.();
      resolve();
    };
  });
  await server.connect(transport);
  return { hub, closed, close: () => hub.close() };
}

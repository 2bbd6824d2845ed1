/**
 * The host's tool plugins as an MCP server: `tools/list` from every loaded
 * tool plugin, `tools/call` through `host.callTool` (the same argument
 * validation, deadline and grants), cancellation, plugin log lines as logging
 * notifications, and `notifications/tools/list_changed` whenever the set of
 * tools may have changed. Prompt-template plugins' templates are its prompts
 * (`prompts/list`, `prompts/get`; see mcp-prompts.ts), announced likewise. One `Server` per MCP session; `McpHub` keeps them,
 * so host events reach every connected client.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type LoggingLevel,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { AirlockError, type Host, type LogEntry, type ToolInfo, type ToolProgress } from '@airlock/host';
import { PLUGIN_EVENTS } from './problem.js';
import { version } from './version.js';
import { howToAllow, needsConfirmation, type ToolPolicy } from './policy.js';
import { coerceArguments, promptError, toGetPromptResult, toMcpPrompt } from './mcp-prompts.js';

/** Host events after which the lists of tools and prompts may differ (a rolled-back update leaves it as it was). */
const TOOL_LIST_EVENTS = PLUGIN_EVENTS.filter((e) => e !== 'plugin-rolled-back');

const LEVELS: Record<LogEntry['level'], LoggingLevel> = { trace: 'debug', debug: 'debug', info: 'info', warn: 'warning', error: 'error' };

/**
 * An MCP tool for an Airlock tool. Its name is the qualified `<plugin>.<tool>`
 * (unique within the host, and within MCP's name rules); the hints follow the
 * tool's risk level and the plugin's network grant.
 */
export function toMcpTool(tool: ToolInfo, host: Host): Tool {
  const plugin = host.plugins().find((p) => p.id === tool.plugin);
  const network = (plugin?.capabilities.http?.length ?? 0) > 0;
  const inputSchema = tool.parameters.type === 'object' ? tool.parameters : { type: 'object', ...tool.parameters };
  return {
    name: tool.qualifiedName,
    title: `${tool.name} (${tool.plugin})`,
    description: tool.description,
    inputSchema: inputSchema as Tool['inputSchema'],
    annotations: {
      title: `${tool.name} (${tool.plugin})`,
      readOnlyHint: tool.risk === 'read-only',
      destructiveHint: tool.risk === 'dangerous' || tool.risk === 'risky',
      openWorldHint: network,
    },
    _meta: { 'airlock/risk': tool.risk, 'airlock/plugin': tool.plugin },
  };
}

/** What a failed call tells the model: the host's code and message, and the hint when there is one. */
function failure(err: unknown): CallToolResult {
  const text = AirlockError.isInstance(err)
    ? `${err.code}: ${err.message}${err.hint ? `\nHint: ${err.hint}` : ''}`
    : `${(err as Error)?.message ?? String(err)}`;
  return { isError: true, content: [{ type: 'text', text }] };
}

/** The value a tool returned, as MCP content: JSON text always, structured content when it is an object. */
function success(value: unknown): CallToolResult {
  const result: CallToolResult = { content: [{ type: 'text', text: JSON.stringify(value) ?? 'null' }] };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) result.structuredContent = value as Record<string, unknown>;
  return result;
}

/** What the SDK hands a request handler of this server. */
type CallExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface McpHubOptions {
  /** Shown to clients in `initialize`. */
  name?: string;
  /** Which calls ask the user first (default: tools whose risk is `dangerous`). */
  policy?: ToolPolicy;
}

/** The MCP servers of one host: one per connected session. */
export class McpHub {
  readonly #host: Host;
  readonly #servers = new Set<Server>();
  readonly #options: McpHubOptions;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(host: Host, options: McpHubOptions = {}) {
    this.#host = host;
    this.#options = options;
    const changed = () => this.#toolsChanged();
    for (const event of TOOL_LIST_EVENTS) {
      host.on(event, changed);
      this.#unsubscribe.push(() => host.off(event, changed));
    }
    const log = (entry: LogEntry) => this.#log(entry);
    host.on('log', log);
    this.#unsubscribe.push(() => host.off('log', log));
  }

  /** Sessions connected now. */
  get sessions(): number {
    return this.#servers.size;
  }

  /** A new MCP server for one session; connect it to a transport. It leaves the hub when it closes. */
  server(): Server {
    const server = new Server(
      { name: this.#options.name ?? 'airlock', title: 'Airlock', version },
      {
        capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, logging: {} },
        instructions: 'Tools and prompts of the Airlock plugins installed on this machine. Each runs sandboxed with only the capabilities its user granted.',
      },
    );
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: this.#host.tools().map((t) => toMcpTool(t, this.#host)) }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const { name, arguments: args = {} } = request.params;
      const tool = this.#host.tool(name);
      if (tool?.qualifiedName !== name) throw new McpError(ErrorCode.InvalidParams, `no tool ${JSON.stringify(name)}: tools/list names the tools this server has`);
      const policy = this.#options.policy ?? {};
      if (needsConfirmation(policy, tool)) {
        const refusal = await this.#confirm(server, extra, tool, args, policy);
        if (refusal) return refusal;
      }
      // A client that sent a progress token gets the plugin's progress reports, as a fraction of a total of 1.
      const progressToken = request.params._meta?.progressToken;
      const onProgress =
        progressToken === undefined
          ? undefined
          : ({ fraction, message }: ToolProgress) =>
              void extra
                .sendNotification({ method: 'notifications/progress', params: { progressToken, progress: fraction, total: 1, ...(message === undefined ? {} : { message }) } })
                .catch(() => {});
      try {
        return success(await this.#host.callTool(name, args, { signal: extra.signal, onProgress }));
      } catch (err) {
        return failure(err);
      }
    });
    server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: this.#host.prompts().map(toMcpPrompt) }));
    server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
      const { name, arguments: args } = request.params;
      const prompt = this.#host.prompts().find((p) => p.qualifiedName === name);
      if (!prompt) throw new McpError(ErrorCode.InvalidParams, `no prompt ${JSON.stringify(name)}: prompts/list names the prompts this server has`);
      try {
        return toGetPromptResult(prompt, await this.#host.renderPrompt(name, coerceArguments(prompt, args), { signal: extra.signal }));
      } catch (err) {
        throw promptError(err);
      }
    });
    this.#servers.add(server);
    server.onclose = () => this.#servers.delete(server);
    return server;
  }

  /**
   * Ask the user, through the client, whether this call may run: undefined
   * when allowed, else the tool result that says why not.
   */
  async #confirm(server: Server, extra: CallExtra, tool: ToolInfo, args: Record<string, unknown>, policy: ToolPolicy): Promise<CallToolResult | undefined> {
    const refuse = (text: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text }] });
    // An empty `elicitation` capability (protocol 2025-06-18) means form mode.
    if (!server.getClientCapabilities()?.elicitation) {
      return refuse(
        `CONFIRMATION_REQUIRED: ${tool.qualifiedName} is a ${tool.risk} tool, and this server asks the user before it runs; this client cannot ask (it has no elicitation). ${howToAllow(policy, tool)}`,
      );
    }
    const shown = JSON.stringify(args);
    // Sent as part of the tools/call (over HTTP: on that call's own response stream). A request of the
    // server's own would go on the session's standalone GET stream, which a client may not have opened.
    const result = await extra.sendRequest(
      {
        method: 'elicitation/create',
        params: {
          message: `${tool.qualifiedName} (plugin ${tool.plugin}) is marked ${tool.risk}: ${tool.description}\nRun it with ${shown.length > 500 ? `${shown.slice(0, 500)}…` : shown}?`,
          requestedSchema: { type: 'object', properties: { allow: { type: 'boolean', title: `Run ${tool.qualifiedName}`, description: 'Allow this one call' } }, required: ['allow'] },
        },
      },
      ElicitResultSchema,
      { signal: extra.signal },
    );
    if (result.action === 'accept' && result.content?.allow === true) return undefined;
    return refuse(`DECLINED: the user did not allow this call of ${tool.qualifiedName} (${result.action === 'accept' ? 'not allowed' : result.action}).`);
  }

  #toolsChanged(): void {
    for (const server of this.#servers) {
      // Only to sessions past initialization; a closed transport rejects, and that is its end.
      if (!server.getClientCapabilities()) continue;
      server.sendToolListChanged().catch(() => {});
      server.sendPromptListChanged().catch(() => {});
    }
  }

  #log(entry: LogEntry): void {
    for (const server of this.#servers) {
      if (!server.getClientCapabilities()) continue;
      // The level a client set is kept per session: name it, or every line goes out.
      server.sendLoggingMessage({ level: LEVELS[entry.level] ?? 'info', logger: entry.plugin ?? 'airlock', data: entry.message }, server.transport?.sessionId).catch(() => {});
    }
  }

  /** Close every session and stop listening to the host. */
  async close(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    await Promise.all([...this.#servers].map((s) => s.close().catch(() => {})));
    this.#servers.clear();
  }
}

// An MCP SDK client over Streamable HTTP that is connected only once it can
// hear notifications that belong to no request (list_changed, log lines).
import { Client, type ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/**
 * Connect `client` to `<at>/mcp` with `token`, and wait until its standalone
 * GET stream is open. The SDK client opens it on its own after initializing;
 * until the server has answered that GET, what the server sends outside a
 * request goes nowhere, so a test that changes the tools right after
 * connecting would wait in vain for the notification.
 */
export async function connectListening(at: string, token: string, info: { name: string; version: string }, options?: ClientOptions): Promise<Client> {
  let opened!: () => void;
  const listening = new Promise<void>((resolve) => (opened = resolve));
  const client = new Client(info, options);
  const transport = new StreamableHTTPClientTransport(new URL(`${at}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      if ((init?.method ?? 'GET') === 'GET' && res.ok) opened();
      return res;
    },
  });
  await client.connect(transport);
  await listening;
  return client;
}

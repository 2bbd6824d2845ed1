/**
 * Prompt templates over MCP (`@airlock/serve`, Streamable HTTP), driven by the
 * official MCP SDK client: `prompts/list` from the sample prompts plugin,
 * `prompts/get` with string arguments read as the schema's types, and the
 * errors a client gets for bad arguments and unknown prompts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError, PromptListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createHost, type Host } from '@airlock/host';
import { buildIfStale } from '@airlock/test-utils';
import { createServer, TokenStore, type AirlockServer } from '@airlock/serve';
import { connectListening } from './mcp-client.js';

const prompts = new URL('../../../plugins/prompts', import.meta.url).pathname;

let home: string;
let host: Host;
let server: AirlockServer;
let client: Client;

beforeAll(async () => {
  await buildIfStale(prompts);
  home = await mkdtemp(join(tmpdir(), 'airlock-serve-prompts-'));
  host = await createHost({ home, logger: () => {} });
  await host.load(prompts);
  const store = await TokenStore.open(home);
  const { token } = await store.create({ scopes: ['tools'], name: 'test client' });
  server = createServer(host, { tokens: store });
  const { url } = await server.listen();
  client = await connectListening(url, token, { name: 'airlock-test', version: '1.0.0' });
});

afterAll(async () => {
  await client?.close().catch(() => {});
  await server?.close();
  await host?.close();
  await rm(home, { recursive: true, force: true });
});

const rejectionOf = async (promise: Promise<unknown>): Promise<McpError> => {
  try {
    await promise;
  } catch (e) {
    return e as McpError;
  }
  throw new Error('expected a rejection');
};

describe('MCP prompts', () => {
  it('lists each template under its qualified name, its arguments from the variables schema', async () => {
    expect(client.getServerCapabilities()?.prompts?.listChanged).toBe(true);
    const { prompts: listed } = await client.listPrompts();
    expect(listed.map((p) => p.name).sort()).toEqual(['prompts.code-review', 'prompts.summarize']);
    const review = listed.find((p) => p.name === 'prompts.code-review')!;
    expect(review.description).toContain('Review');
    expect(review.arguments).toEqual([
      { name: 'language', description: 'The language the code is written in', required: true },
      { name: 'code', description: 'The code to review', required: true },
      { name: 'focus', description: 'What to look at first (optional)', required: false },
    ]);
  });

  it('renders a template, the system message sent as a user message', async () => {
    const result = await client.getPrompt({ name: 'prompts.code-review', arguments: { language: 'Go', code: 'x := 1' } });
    expect(result.messages.map((m) => m.role)).toEqual(['user', 'user']);
    expect(result.messages[0]!.content).toEqual({ type: 'text', text: expect.stringContaining('Go reviewer') });
    expect(result.messages[1]!.content).toMatchObject({ text: expect.stringContaining('```go\nx := 1\n```') });
    const summary = await client.getPrompt({ name: 'prompts.summarize', arguments: { text: 'Long text.', style: 'bullets' } });
    expect(summary.messages[0]!.content).toMatchObject({ text: expect.stringContaining('bullet points') });
  });

  it('refuses arguments that do not match the schema as invalid params, naming the problem', async () => {
    const missing = await rejectionOf(client.getPrompt({ name: 'prompts.code-review', arguments: { language: 'Go' } }));
    expect(missing).toBeInstanceOf(McpError);
    expect(missing.code).toBe(ErrorCode.InvalidParams);
    expect(missing.message).toContain('PROMPT_ARGUMENTS_INVALID');
    expect(missing.message).toContain('`code`');
    const style = await rejectionOf(client.getPrompt({ name: 'prompts.summarize', arguments: { text: 'x', style: 'haiku' } }));
    expect(style.message).toContain('/style');
  });

  it('refuses an unknown prompt', async () => {
    const e = await rejectionOf(client.getPrompt({ name: 'prompts.haiku', arguments: {} }));
    expect(e.code).toBe(ErrorCode.InvalidParams);
    expect(e.message).toContain('prompts/list');
  });

  it('tells clients when the prompts may have changed', async () => {
    const changed = new Promise<void>((resolve) => client.setNotificationHandler(PromptListChangedNotificationSchema, () => resolve()));
    await host.unload('prompts');
    await changed;
    expect((await client.listPrompts()).prompts).toEqual([]);
  });
});

/**
 * `airlock serve` driven by the MCP Inspector's CLI, a client nobody here
 * wrote: over stdio (the Inspector starts the server) and over Streamable
 * HTTP with a bearer token. Listing, a call, and a plugin's error.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/index.js';
import { airlockAt, capture, lines, notes } from './helpers.js';

const run = promisify(execFile);
const inspector = new URL('../node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js', import.meta.url).pathname;
const bin = new URL('../bin/airlock.js', import.meta.url).pathname;

let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'airlock-inspector-'));
  expect((await airlockAt(home, ['plugin', 'add', notes, '--yes'])).code).toBe(0);
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

/** `mcp-inspector --cli <args>`: its JSON answer (on stdout, whatever its exit code). */
async function inspect(args: string[]): Promise<Record<string, unknown>> {
  const options = { timeout: 120_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, MCP_CATALOG_PATH: join(home, 'inspector-catalog.json') } };
  const { stdout } = await run(process.execPath, [inspector, '--cli', ...args], options).catch((err: { stdout?: string }) => {
    if (!err.stdout) throw err;
    return { stdout: err.stdout };
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('the MCP Inspector (CLI mode)', () => {
  const stdio = () => [process.execPath, bin, 'serve', '--stdio', '--home', home];

  it('lists the tools over stdio, with their schemas and hints', async () => {
    const { tools } = (await inspect([...stdio(), '--method', 'tools/list'])) as { tools: { name: string; annotations: Record<string, unknown>; inputSchema: unknown }[] };
    const add = tools.find((t) => t.name === 'notes.add_note');
    expect(add?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, openWorldHint: false });
    expect(add?.inputSchema).toMatchObject({ type: 'object', required: expect.arrayContaining(['title']) });
  });

  it('calls a tool over stdio', async () => {
    const result = await inspect([...stdio(), '--method', 'tools/call', '--tool-name', 'notes.count_words', '--tool-arg', 'text=seen by the inspector']);
    expect(result.structuredContent).toMatchObject({ words: 4 });
  });

  it('gets a plugin error as a tool result with isError', async () => {
    // The Inspector prints the result, says so on stderr, and exits non-zero.
    const result = await inspect([...stdio(), '--method', 'tools/call', '--tool-name', 'notes.get_note', '--tool-arg', 'id=999']);
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('TOOL_FAILED');
  });

  it('lists and calls over Streamable HTTP with a bearer token', async () => {
    const [{ token }] = lines((await airlockAt(home, ['token', 'create', '--scope', 'tools', '--json'])).out) as [{ token: string }];
    const io = capture();
    const serving = main(['serve', '--port', '0', '--json', '--home', home], io);
    try {
      await vi.waitFor(() => expect(io.out).toContain('\n'), { timeout: 60_000, interval: 20 });
      const [{ mcp }] = lines(io.out) as [{ mcp: string }];
      const http = [mcp, '--transport', 'http', '--header', `Authorization: Bearer ${token}`];
      const { tools } = (await inspect([...http, '--method', 'tools/list'])) as { tools: { name: string }[] };
      expect(tools.map((t) => t.name)).toContain('notes.count_words');
      const result = await inspect([...http, '--method', 'tools/call', '--tool-name', 'notes.count_words', '--tool-arg', 'text=over http']);
      expect(result.structuredContent).toMatchObject({ words: 2 });
    } finally {
      io.interrupt();
      expect(await serving).toBe(0);
    }
  });
});

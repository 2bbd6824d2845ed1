/**
 * `airlock serve` and `airlock token`: MCP over Streamable HTTP (in-process,
 * with a token), over stdio (the README's client configuration, spawned
 * exactly as written), and the tokens' life cycle.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { main } from '../src/index.js';
import { airlockAt, capture, homeMaker, lines, notes } from './helpers.js';

let base: string;
const newHome = homeMaker(() => base);

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'airlock-cli-serve-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const bin = new URL('../bin/airlock.js', import.meta.url).pathname;

describe('airlock token', () => {
  it('creates a token shown once, lists it without its secret, and revokes it', async () => {
    const home = await newHome();
    const created = await airlockAt(home, ['token', 'create', '--scope', 'tools', '--scope', 'chat', '--name', 'editor', '--json']);
    expect(created.code).toBe(0);
    const [made] = lines(created.out) as [{ token: string; id: string; scopes: string[] }];
    expect(made.token).toMatch(/^alk_[0-9a-f]{12}_/);
    expect(made.scopes).toEqual(['tools', 'chat']);
    const file = join(home, 'serve-tokens.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).not.toContain(made.token);
    const listed = await airlockAt(home, ['token', 'list', '--json']);
    expect(lines(listed.out)[0]).toEqual([expect.objectContaining({ id: made.id, name: 'editor', scopes: ['tools', 'chat'] })]);
    expect(listed.out).not.toContain(made.token);
    expect((await airlockAt(home, ['token', 'revoke', 'editor'])).code).toBe(0);
    expect(lines((await airlockAt(home, ['token', 'list', '--json'])).out)[0]).toEqual([]);
    expect((await airlockAt(home, ['token', 'revoke', made.id])).code).toBe(1);
  });

  it('refuses a token without a scope, or with an unknown one', async () => {
    const home = await newHome();
    const none = await airlockAt(home, ['token', 'create']);
    expect(none.code).toBe(2);
    expect(none.err).toContain('--scope tools|chat|manage');
    const unknown = await airlockAt(home, ['token', 'create', '--scope', 'admin']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown scope `admin`');
  });
});

describe('airlock serve', () => {
  it('serves the loaded tools over Streamable HTTP to a client with a token, shows them in `airlock top`, until Ctrl-C', async () => {
    const home = await newHome();
    const [{ token }] = lines((await airlockAt(home, ['token', 'create', '--scope', 'tools', '--json'])).out) as [{ token: string }];
    const [{ token: metrics }] = lines((await airlockAt(home, ['token', 'create', '--scope', 'metrics', '--json'])).out) as [{ token: string }];
    const io = capture();
    const serving = main(['serve', '--port', '0', '-p', notes, '--yes', '--json', '--home', home], io);
    await vi.waitFor(() => expect(io.out).toContain('\n'), { timeout: 60_000, interval: 20 });
    const [{ url, mcp, tools }] = lines(io.out) as [{ url: string; mcp: string; tools: number }];
    expect(tools).toBeGreaterThan(0);

    const client = new Client({ name: 'cli-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('notes.count_words');
    const result = await client.callTool({ name: 'notes.count_words', arguments: { text: 'served over http' } });
    expect(result.structuredContent).toMatchObject({ words: 3 });
    await client.close();

    const refused = await fetch(mcp, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(refused.status).toBe(401);
    expect(io.err).toContain('refused POST /mcp: no bearer token');

    // `airlock top` reads the running server's metrics with a metrics token (it takes no --home).
    const airlockTop = async (argv: string[], env: NodeJS.ProcessEnv) => {
      const topIo = capture({ env });
      return { code: await main(['top', '--url', url, ...argv], topIo), out: topIo.out, err: topIo.err };
    };
    const shown = await airlockTop(['--once'], { AIRLOCK_TOKEN: metrics });
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/^PLUGIN +STATE +CALLS +ERRORS +P50 +P99 +RUN\/WAIT +RESTARTS +MEMORY\n/);
    // list-tools at load, and the call above.
    expect(shown.out).toMatch(/\nnotes +active +2 +0 +\S+ (ms|µs) +\S+ (ms|µs) +0\/0 +0 +[\d.]+ MiB\n/);
    const asJson = await airlockTop(['--json'], { AIRLOCK_TOKEN: metrics });
    expect(lines(asJson.out)[0]).toEqual([expect.objectContaining({ id: 'notes', state: 'active', calls: 2 })]);
    const untokened = await airlockTop(['--once'], {});
    expect(untokened.code).toBe(1);
    expect(untokened.err).toContain('refused a request without a token (HTTP 401)');
    expect(untokened.err).toContain('airlock token create --scope metrics');
    const wrong = await airlockTop(['--once'], { AIRLOCK_TOKEN: token });
    expect(wrong.err).toContain('refused the token in AIRLOCK_TOKEN (HTTP 403)');

    io.interrupt();
    expect(await serving).toBe(0);
    await expect(fetch(mcp)).rejects.toThrow();
    const gone = await airlockTop(['--once'], { AIRLOCK_TOKEN: metrics });
    expect(gone.code).toBe(1);
    expect(gone.err).toContain(`no \`airlock serve\` answers at ${url}/metrics`);
    expect(gone.err).toContain('Start one with `airlock serve`');
  });

  it('adds a running server\'s state and figures to `plugin list` and `plugin info` with --url', async () => {
    const home = await newHome();
    expect((await airlockAt(home, ['plugin', 'add', notes, '--yes'])).code).toBe(0);
    const [{ token: metrics }] = lines((await airlockAt(home, ['token', 'create', '--scope', 'metrics', '--json'])).out) as [{ token: string }];
    const io = capture();
    const serving = main(['serve', '--port', '0', '--json', '--home', home], io);
    await vi.waitFor(() => expect(io.out).toContain('\n'), { timeout: 60_000, interval: 20 });
    const [{ url }] = lines(io.out) as [{ url: string }];
    const withToken = async (argv: string[]) => {
      const cli = capture({ env: { AIRLOCK_TOKEN: metrics } });
      return { code: await main([...argv, '--home', home], cli), out: cli.out, err: cli.err };
    };

    // Without --url: the record only.
    expect((await withToken(['plugin', 'list'])).out).toMatch(/^ID\s+VERSION\s+KIND\s+STATUS\s+SIGNATURE\s+SOURCE\nnotes\s+0\.1\.0\s+tool\s+enabled\s/);
    // With it: the server's state, and its calls (list-tools at load), errors and p99.
    const list = await withToken(['plugin', 'list', '--url', url]);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^ID\s+VERSION\s+KIND\s+STATUS\s+SIGNATURE\s+CALLS\s+ERRORS\s+P99\s+SOURCE\nnotes\s+0\.1\.0\s+tool\s+active\s+unsigned\s+1\s+0\s+\S+ (ms|µs)\s/);
    const json = lines((await withToken(['plugin', 'list', '--url', url, '--json'])).out)[0] as unknown as { id: string; runtime?: { state: string; calls: number } }[];
    expect(json.map((p) => [p.id, p.runtime?.state, p.runtime?.calls])).toEqual([['notes', 'active', 1]]);
    const info = await withToken(['plugin', 'info', 'notes', '--url', url]);
    expect(info.out).toContain('  status     active\n');
    expect(info.out).toMatch(/\n {2}calls {6}1, none failed; 0 running, 0 waiting\n/);
    expect(info.out).toMatch(/\n {2}latency {4}p50 \S+ (ms|µs), p90 \S+ (ms|µs), p99 \S+ (ms|µs)\n/);
    expect(info.out).toContain('  restarts   0\n');
    // A wrong token is an error that says which scope to ask for, not a silent fallback.
    const refused = await main(['plugin', 'list', '--url', url, '--home', home], capture({ env: {} }));
    expect(refused).toBe(1);

    io.interrupt();
    expect(await serving).toBe(0);
  });

  it('serves over stdio exactly as the README tells an MCP client to start it', async () => {
    const home = await newHome();
    expect((await airlockAt(home, ['plugin', 'add', notes, '--yes'])).code).toBe(0);
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const snippet = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!).find((block) => block.includes('"mcpServers"'));
    expect(snippet, 'the README shows an mcpServers configuration').toBeDefined();
    const { command, args } = (JSON.parse(snippet!) as { mcpServers: Record<string, { command: string; args: string[] }> }).mcpServers.airlock!;

    // `airlock` on the PATH, as `npm install -g @airlock/cli` puts it there.
    const shims = await mkdtemp(join(base, 'bin-'));
    await writeFile(join(shims, 'airlock'), `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`);
    await chmod(join(shims, 'airlock'), 0o755);
    const env = { ...(process.env as Record<string, string>), PATH: `${shims}${delimiter}${process.env.PATH}`, AIRLOCK_HOME: home };

    const client = new Client({ name: 'readme-client', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command, args, env, stderr: 'pipe' }));
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['notes.add_note', 'notes.count_words']));
    const result = await client.callTool({ name: 'notes.add_note', arguments: { title: 'from stdio', body: 'kept' } });
    expect(result.isError).toBeFalsy();
    expect((await client.callTool({ name: 'notes.get_note', arguments: { id: 1 } })).structuredContent).toMatchObject({ title: 'from stdio' });
    await client.close();
  });

  it('refuses HTTP options with --stdio, and half a TLS pair', async () => {
    const home = await newHome();
    expect((await airlockAt(home, ['serve', '--stdio', '--port', '1'])).err).toContain('--stdio');
    const half = await airlockAt(home, ['serve', '--tls-key', 'k.pem']);
    expect(half.code).toBe(2);
    expect(half.err).toContain('both --tls-key and --tls-cert');
  });
});

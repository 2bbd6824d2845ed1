/**
 * `airlock serve` against in-process calls, run by bench.mjs in a fresh process:
 *   node src/gateway-once.mjs <home> <echoDir> <providerDir> <calls> <streamChunks> <streamRuns>
 *
 * Tool calls: the trivial echo tool called with `host.callTool` in this
 * process, then through MCP with the official SDK client, over Streamable
 * HTTP and over stdio, each served by a child process running
 * `@airlock/serve`; and, for scale, the same trivial tool served by a plain
 * Node MCP stdio server written with the official SDK (the way most tools ship
 * today), each stdio server also from its start to its first answer and by
 * its resident memory. Streaming: chunks per second of one chat completion, through the
 * gateway's OpenAI-compatible API and in-process (`host.chatStream`), from the
 * loopback OpenAI server in its own process. Prints one JSON line.
 *
 * Also run as the child: `node src/gateway-once.mjs --serve http|stdio <home> <echoDir> [providerDir baseUrl]`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createHost } from '@airlock/host';
import { BENCH_CHUNK_TEXT } from '@airlock/openai-server';
import { median, pct, round, sortNum } from './stats.mjs';
import { sseEvents, startOpenAIBackend } from './openai-backend.mjs';

const self = fileURLToPath(import.meta.url);
const benchDir = fileURLToPath(new URL('..', import.meta.url));
const KEY = 'sk-bench-gateway-5c2e8a71';

/** A child process that prints one JSON line once ready; closed by ending its stdin. */
async function child(args, env = {}) {
  const proc = spawn(process.execPath, args, { cwd: benchDir, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const lines = createInterface({ input: proc.stdout });
  const [line] = await Promise.race([once(lines, 'line'), once(proc, 'exit').then(([code]) => Promise.reject(new Error(`${args.join(' ')} exited (${code})`)))]);
  return {
    info: JSON.parse(line),
    close: async () => {
      proc.stdin.end();
      if (proc.exitCode === null) await once(proc, 'exit');
    },
  };
}

/** Time `calls` sequential calls after `warmup` untimed ones: median and p99 in µs. */
async function timeCalls(call, warmup, calls) {
  for (let i = 0; i < warmup; i++) await call(i);
  const samples = [];
  for (let i = 0; i < calls; i++) {
    const t = process.hrtime.bigint();
    await call(i);
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  const sorted = sortNum(samples);
  return { calls, medianUs: round(median(sorted)), p99Us: round(pct(sorted, 99)) };
}

const echoArgs = (i) => ({ value: i });
const check = (result, i) => {
  if (result.isError || result.structuredContent?.value !== i) throw new Error(`unexpected result ${JSON.stringify(result)}`);
};

/** The trivial tool of the plain servers below, written with the official SDK's McpServer (module code; it names `server`). */
const PLAIN_ECHO = `
  import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
  import { z } from 'zod';
  const server = new McpServer({ name: 'plain', version: '1.0.0' });
  server.registerTool('echo', { description: 'Return the arguments', inputSchema: { value: z.number() } }, async (args) => ({ content: [{ type: 'text', text: JSON.stringify(args) }], structuredContent: args }));
`;

/** A plain Node MCP stdio server with that tool, the way most tools ship today. */
const PLAIN_SERVER = `${PLAIN_ECHO}
  import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
  await server.connect(new StdioServerTransport());
`;

/** The same, over Streamable HTTP: the SDK's Node transport on node:http, one session. Prints its URL once listening. */
const PLAIN_HTTP_SERVER = `${PLAIN_ECHO}
  import { createServer } from 'node:http';
  import { randomUUID } from 'node:crypto';
  import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
  await server.connect(transport);
  const http = createServer((req, res) => void transport.handleRequest(req, res));
  http.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ url: 'http://127.0.0.1:' + http.address().port }) + '\\n'));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
`;

/** What a process holds in memory (VmRSS, Linux), or undefined where /proc does not say. */
async function rssOf(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Connect, then time the calls. For a transport that starts the server
 * (stdio), also the start: spawning it → the first call's answer, and the
 * server process's resident memory after the timed calls.
 */
async function viaClient(transport, name, warmup, calls) {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  const started = performance.now();
  await client.connect(transport);
  check(await client.callTool({ name, arguments: echoArgs(0) }), 0);
  const firstAnswerMs = round(performance.now() - started);
  try {
    const timed = await timeCalls(async (i) => check(await client.callTool({ name, arguments: echoArgs(i) }), i), warmup, calls);
    const pid = transport.pid;
    return { ...timed, firstAnswerMs, ...(typeof pid === 'number' ? { rssBytes: await rssOf(pid) } : {}) };
  } finally {
    await client.close();
  }
}

async function streamOnce(url, headers, model) {
  const t = process.hrtime.bigint();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'stream' }] }) });
  if (!res.ok) throw new Error(`stream: ${res.status} ${await res.text()}`);
  let text = '';
  let chunks = 0;
  for await (const event of sseEvents(res)) {
    const delta = event.choices?.[0]?.delta?.content;
    if (delta) {
      text += delta;
      chunks++;
    }
  }
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, text, chunks };
}

async function main() {
  const [home, echoDir, providerDir, callsArg, chunksArg, runsArg] = process.argv.slice(2);
  if (!runsArg) {
    console.error('usage: node src/gateway-once.mjs <home> <echoDir> <providerDir> <calls> <streamChunks> <streamRuns>');
    process.exit(2);
  }
  const CALLS = Number(callsArg);
  const WARMUP = Math.min(2_000, CALLS);
  const CHUNKS = Number(chunksArg);
  const RUNS = Number(runsArg);
  const expected = BENCH_CHUNK_TEXT.repeat(CHUNKS);

  // The backend, in its own process.
  const backend = await startOpenAIBackend(KEY);
  const http = await child([self, '--serve', 'http', `${home}-http`, echoDir, providerDir, backend.url]);
  const host = await createHost({ home: `${home}-local`, logger: () => {}, env: { OPENAI_API_KEY: KEY } });
  try {
    await host.load(echoDir, { grant: 'manifest' });
    await host.load(providerDir, { grant: 'manifest', config: { baseUrl: backend.url } });
    const echo = host.tools()[0].qualifiedName;

    const inProcess = await timeCalls(async (i) => {
      const v = await host.callTool(echo, echoArgs(i));
      if (v.value !== i) throw new Error('unexpected result');
    }, WARMUP, CALLS);
    const mcpHttp = await viaClient(new StreamableHTTPClientTransport(new URL(`${http.info.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${http.info.token}` } } }), echo, WARMUP, CALLS);
    const airlockStdio = () => new StdioClientTransport({ command: process.execPath, args: [self, '--serve', 'stdio', `${home}-stdio`, echoDir], cwd: benchDir, stderr: 'inherit' });
    const plainStdioServer = () => new StdioClientTransport({ command: process.execPath, args: ['--input-type=module', '-e', PLAIN_SERVER], cwd: benchDir, stderr: 'inherit' });
    // One untimed start of each first: the component's transpile cache is then warm, as after
    // `airlock install`, and the OS has both servers' files cached alike.
    await viaClient(airlockStdio(), echo, 0, 1);
    await viaClient(plainStdioServer(), 'echo', 0, 1);
    const mcpStdio = await viaClient(airlockStdio(), echo, WARMUP, CALLS);
    const plainStdio = await viaClient(plainStdioServer(), 'echo', WARMUP, CALLS);
    const plain = await child(['--input-type=module', '-e', PLAIN_HTTP_SERVER]);
    let plainHttp;
    try {
      plainHttp = await viaClient(new StreamableHTTPClientTransport(new URL(`${plain.info.url}/mcp`)), 'echo', WARMUP, CALLS);
    } finally {
      await plain.close();
    }

    // Streaming: alternate the two paths after one untimed stream each.
    const model = `bench-${CHUNKS}`;
    const gateway = () => streamOnce(`${http.info.url}/v1/chat/completions`, { authorization: `Bearer ${http.info.token}` }, `provider-openai/${model}`);
    const local = async () => {
      const t = process.hrtime.bigint();
      let text = '';
      let chunks = 0;
      for await (const e of host.chatStream({ provider: 'provider-openai', model, messages: [{ role: 'user', content: 'stream' }] })) {
        if (e.type === 'text-delta') {
          text += e.text;
          chunks++;
        }
      }
      return { seconds: Number(process.hrtime.bigint() - t) / 1e9, text, chunks };
    };
    await gateway();
    await local();
    const rates = { gateway: [], inProcess: [] };
    for (let r = 0; r < RUNS; r++) {
      for (const [name, run] of [['gateway', gateway], ['inProcess', local]]) {
        const { seconds, text, chunks } = await run();
        if (text !== expected) throw new Error(`${name} stream: the text differs from what the server sent (${text.length} of ${expected.length} characters)`);
        rates[name].push(chunks / seconds);
      }
    }
    const streamGatewayPerSec = round(median(sortNum(rates.gateway)));
    const streamInProcessPerSec = round(median(sortNum(rates.inProcess)));
    process.stdout.write(
      `${JSON.stringify({
        ok: true,
        calls: { inProcess, mcpHttp, mcpStdio, plainStdio, plainHttp },
        overheadUs: { mcpHttp: round(mcpHttp.medianUs - inProcess.medianUs), mcpStdio: round(mcpStdio.medianUs - inProcess.medianUs) },
        stream: { chunks: CHUNKS, runs: RUNS, gatewayPerSec: streamGatewayPerSec, inProcessPerSec: streamInProcessPerSec, ratio: round(streamGatewayPerSec / streamInProcessPerSec) },
      })}\n`,
    );
  } finally {
    await host.close();
    await http.close();
    await backend.close();
  }
}

// ---------------------------------------------------------------- the child: a server

async function serveChild() {
  const [, , , mode, home, echoDir, providerDir, baseUrl] = process.argv;
  const { createServer, serveStdio, TokenStore } = await import('@airlock/serve');
  const host = await createHost({ home, logger: () => {}, env: { OPENAI_API_KEY: KEY } });
  await host.load(echoDir, { grant: 'manifest' });
  if (providerDir) await host.load(providerDir, { grant: 'manifest', config: { baseUrl } });
  if (mode === 'stdio') {
    const { closed } = await serveStdio(host);
    process.stdin.once('end', () => process.exit(0));
    await closed;
    process.exit(0);
  }
  const tokens = await TokenStore.open(home);
  const { token } = await tokens.create({ scopes: ['tools', 'chat'] });
  const server = createServer(host, { tokens, rateLimitPerMinute: 10_000_000 });
  const { url } = await server.listen();
  process.stdout.write(`${JSON.stringify({ url, token })}\n`);
  process.stdin.on('end', () => server.close().then(() => host.close()).then(() => process.exit(0)));
  process.stdin.resume();
}

if (process.argv[2] === '--serve') await serveChild();
else await main();

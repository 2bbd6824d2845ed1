/**
 * Streaming throughput in a fresh process, run by bench.mjs:
 *   node src/stream-once.mjs <home> <pluginDir> <chunks> <runs>
 * Starts the loopback OpenAI-compatible server (@airlock/openai-server) in a
 * child process, loads the provider-openai plugin, and streams the model
 * `bench-<chunks>` (that many 64-byte content chunks, sent as fast as they are
 * read) both through the plugin (`host.chatStream`) and directly in Node
 * (global fetch and a minimal SSE parser). After one untimed stream each, the
 * two paths alternate for `runs` timed streams each. Every stream's text is
 * checked against what the server sends, so a broken stream fails the bench
 * instead of reporting a fast number. Prints one JSON line.
 */
import { createHost } from '@airlock/host';
import { BENCH_CHUNK_TEXT } from '@airlock/openai-server';
import { median, pct, round, sortNum } from './stats.mjs';
import { sseEvents, startOpenAIBackend } from './openai-backend.mjs';

const [home, pluginDir, chunksArg, runsArg] = process.argv.slice(2);
if (!runsArg) {
  console.error('usage: node src/stream-once.mjs <home> <pluginDir> <chunks> <runs>');
  process.exit(2);
}
const CHUNKS = Number(chunksArg);
const RUNS = Number(runsArg);
const MODEL = `bench-${CHUNKS}`;
const KEY = 'sk-bench-7d1e4b9a2c6f8e03';
const EXPECTED = BENCH_CHUNK_TEXT.repeat(CHUNKS);
const EXPECTED_BYTES = Buffer.byteLength(EXPECTED);
const messages = [{ role: 'user', content: 'stream' }];

// ---------------------------------------------------------------- the server, in its own process

// ---------------------------------------------------------------- one stream, timed

/** What the consumer saw of one stream, with `performance.now()` at each text chunk. */
function newSample() {
  return { arrivals: new Float64Array(CHUNKS + 16), texts: [], usage: undefined, finishReason: undefined, wireBytes: 0 };
}

function check(path, s) {
  const text = s.texts.join('');
  if (text !== EXPECTED) {
    throw new Error(`${path}: the streamed text differs from what the server sent (${Buffer.byteLength(text)} bytes in ${s.texts.length} chunks, expected ${EXPECTED_BYTES} bytes in ${CHUNKS})`);
  }
  if (s.texts.length !== CHUNKS) throw new Error(`${path}: ${s.texts.length} text chunks, expected ${CHUNKS}`);
  if (s.finishReason !== 'stop') throw new Error(`${path}: finish reason ${s.finishReason}, expected stop`);
  if (s.usage?.completionTokens !== 8 * CHUNKS) throw new Error(`${path}: usage ${JSON.stringify(s.usage)}, expected ${8 * CHUNKS} completion tokens`);
}

function summarizeRun(start, end, s) {
  const n = s.texts.length;
  const first = s.arrivals[0];
  const last = s.arrivals[n - 1];
  const gaps = new Float64Array(n - 1);
  for (let i = 1; i < n; i++) gaps[i - 1] = (s.arrivals[i] - s.arrivals[i - 1]) * 1000;
  const wallMs = end - start;
  return { wallMs, firstChunkMs: first - start, streamMs: last - first, chunks: n, bytes: EXPECTED_BYTES, wireBytes: s.wireBytes, gapsUs: gaps };
}

/** Through the plugin: host.chatStream → the plugin's worker → the host's HTTP gate → the server. */
async function viaPlugin(host) {
  const s = newSample();
  const start = performance.now();
  for await (const e of host.chatStream({ model: MODEL, messages })) {
    if (e.type === 'text-delta') {
      s.arrivals[s.texts.length] = performance.now();
      s.texts.push(e.text);
    } else if (e.type === 'usage') s.usage = e.usage;
    else if (e.type === 'done') s.finishReason = e.finishReason;
    else throw new Error(`plugin: unexpected ${e.type} event`);
  }
  const end = performance.now();
  check('plugin', s);
  return summarizeRun(start, end, s);
}

/** Directly: Node's fetch and a minimal SSE parser, the same request the plugin makes. */
async function direct(url) {
  const s = newSample();
  const start = performance.now();
  const res = await fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, accept: 'text/event-stream', 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages, stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok || !res.body) throw new Error(`direct: HTTP ${res.status}`);
  const events = sseEvents(res, (n) => (s.wireBytes += n));
  let next;
  while (!(next = await events.next()).done) {
    const chunk = next.value;
    const choice = chunk.choices?.[0];
    if (choice?.delta?.content) {
      s.arrivals[s.texts.length] = performance.now();
      s.texts.push(choice.delta.content);
    }
    if (choice?.finish_reason) s.finishReason = choice.finish_reason;
    if (chunk.usage) s.usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
  }
  const finished = next.value;
  const end = performance.now();
  if (!finished) throw new Error('direct: the stream ended without [DONE]');
  check('direct', s);
  return summarizeRun(start, end, s);
}

// ---------------------------------------------------------------- runs

function summarize(runs) {
  const gaps = sortNum(runs.flatMap((r) => Array.from(r.gapsUs)));
  const wall = runs.map((r) => r.wallMs);
  const medWall = median(wall);
  return {
    runs: runs.length,
    chunks: CHUNKS,
    bytes: EXPECTED_BYTES,
    medianWallMs: round(medWall, 3),
    chunksPerSec: round(CHUNKS / (medWall / 1000), 1),
    mbPerSec: round(EXPECTED_BYTES / (1024 * 1024) / (medWall / 1000), 3),
    medianFirstChunkMs: round(median(runs.map((r) => r.firstChunkMs)), 3),
    medianFirstToLastChunkMs: round(median(runs.map((r) => r.streamMs)), 3),
    interArrivalSamples: gaps.length,
    interArrivalP50Us: round(pct(gaps, 50), 2),
    interArrivalP90Us: round(pct(gaps, 90), 2),
    interArrivalP99Us: round(pct(gaps, 99), 2),
    interArrivalMaxUs: round(gaps[gaps.length - 1], 2),
    wallMsPerRun: wall.map((x) => round(x, 3)),
    firstChunkMsPerRun: runs.map((r) => round(r.firstChunkMs, 3)),
  };
}

const server = await startOpenAIBackend(KEY);
const host = await createHost({ home, env: { OPENAI_API_KEY: KEY }, logger: () => {} });
try {
  const t0 = performance.now();
  await host.load(pluginDir, { grant: 'manifest', config: { baseUrl: server.url } });
  const loadMs = performance.now() - t0;
  // Untimed: connections, JIT and the plugin's wasm warm up.
  await direct(server.url);
  await viaPlugin(host);
  const pluginRuns = [];
  const directRuns = [];
  // Alternate, so drift on a shared machine lands on both paths alike.
  for (let i = 0; i < RUNS; i++) {
    directRuns.push(await direct(server.url));
    pluginRuns.push(await viaPlugin(host));
  }
  const plugin = summarize(pluginRuns);
  const directSummary = { ...summarize(directRuns), wireBytes: directRuns[0].wireBytes };
  process.stdout.write(
    JSON.stringify({
      ok: true,
      model: MODEL,
      chunkBytes: Buffer.byteLength(BENCH_CHUNK_TEXT),
      loadMs: round(loadMs, 1),
      plugin,
      direct: directSummary,
      addedPerChunkUs: round(((plugin.medianWallMs - directSummary.medianWallMs) * 1000) / CHUNKS, 2),
      addedFirstChunkMs: round(plugin.medianFirstChunkMs - directSummary.medianFirstChunkMs, 3),
    }) + '\n',
  );
} finally {
  await host.close();
  await server.close();
}

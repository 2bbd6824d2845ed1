/**
 * Airlock benchmarks: component build, load to first call (cold and warm
 * transpile cache), call latency, resident memory per loaded plugin, the
 * sandbox's own costs, streaming throughput through a provider plugin, the
 * plugin author's loop (scaffold to green tests, rebuilds), and the soak
 * suite's full runs (memory over a million calls and a thousand misbehaviours).
 * Prints a table and writes results/latest.json. Measures only; it judges nothing.
 *
 *   pnpm bench            (from the repository root: builds first, then runs this)
 *   node src/bench.mjs    (from tools/bench, once the workspace is built)
 *
 * With --baseline <ref>, it instead compares the comparable measurements with
 * another commit's, interleaved (ab.mjs); --help lists the options.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPlugin } from '@airlock/plugin-kit/build';
import { editOneLine, nodeModulesSize, outsideWorkspace, passedTests, run, userEnv } from '@airlock/authoring-tests';
import { publishWorkspace, startRegistry } from '@airlock/registry';
import { describe as describeSoak, passed as passedSoak, runSoak } from '@airlock/sandbox-tests/soak';

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const echoDir = join(benchDir, 'fixtures', 'echo');
const notesDir = join(benchDir, '..', '..', 'plugins', 'notes');
const loadOnce = join(benchDir, 'src', 'load-once.mjs');
const rssOnce = join(benchDir, 'src', 'rss-once.mjs');
const callsOnce = join(benchDir, 'src', 'calls-once.mjs');
const sandboxOnce = join(benchDir, 'src', 'sandbox-once.mjs');
const streamOnce = join(benchDir, 'src', 'stream-once.mjs');
const gatewayOnce = join(benchDir, 'src', 'gateway-once.mjs');
const hooksOnce = join(benchDir, 'src', 'hooks-once.mjs');
const floorOnce = join(benchDir, 'src', 'floor-once.mjs');
const machineOnce = join(benchDir, 'src', 'machine-once.mjs');
const MACHINE_ROUND_TRIPS = 5_000;
const redactHookDir = join(benchDir, '..', '..', 'plugins', 'redact-hook');
const allowHookDir = join(benchDir, 'fixtures', 'allow-hook');
const GATEWAY_CALLS = 3_000;
const GATEWAY_STREAM_CHUNKS = 2_500;
const providerOpenAIDir = join(benchDir, '..', '..', 'plugins', 'provider-openai');
const misbehavingDir = join(benchDir, '..', 'sandbox-tests', 'fixtures', 'misbehaving');
const FETCHES = 1_000;
const resultsFile = join(benchDir, 'results', 'latest.json');

const COLD_RUNS = 3;
const WARM_RUNS = 7;
// Untimed calls first. V8 goes on tiering up the component's hot functions for tens of thousands of calls
// more (the first 20,000 timed calls have a p99 several times the later ones'): the figures include that.
const WARMUP_CALLS = 2_000;
// Enough calls that the p99 is a hundred thousand calls' p99, not a few dozen slow ones'.
const ECHO_CALLS = 100_000;
const NOTES_CALLS = 2_000;
const HOOK_CALLS = 30_000;
const RSS_PLUGINS = 4;
const LATENCY_RUNS = 3;
// Streams of `bench-<n>` from the loopback OpenAI server: about 1.2 s each through the plugin.
const STREAM_CHUNKS = 2_500;
const STREAM_RUNS = 5;
const sortBy = (xs, key) => [...xs].sort((a, b) => key(a) - key(b));

const discard = () => {};

import { median, pct, round, sortNum } from './stats.mjs';
import { timeDevLoop } from './dev-loop.mjs';
import { USAGE, UsageError, parseArgs } from './compare.mjs';

// ---------------------------------------------------------------- formatting

const fmtMs = (ms) => (ms >= 100 ? `${Math.round(ms).toLocaleString('en-US')} ms` : `${ms.toFixed(1)} ms`);
const fmtUs = (us) => (us >= 1000 ? `${Math.round(us).toLocaleString('en-US')} µs` : `${us.toFixed(1)} µs`);
const fmtMB = (bytes) => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

const rows = [];
const section = (title) => rows.push({ section: title });
const row = (label, value, detail = '') => rows.push({ label, value, detail });

function printTable() {
  const data = rows.filter((r) => !r.section);
  const w1 = Math.max('Measurement'.length, ...data.map((r) => r.label.length));
  const w2 = Math.max('Value'.length, ...data.map((r) => r.value.length));
  const w3 = Math.max('Detail'.length, ...data.map((r) => r.detail.length));
  const line = (a, b, c) => `  ${a.padEnd(w1)}  ${b.padStart(w2)}  ${c}`.trimEnd();
  const out = [line('Measurement', 'Value', 'Detail'), line('-'.repeat(w1), '-'.repeat(w2), '-'.repeat(w3))];
  for (const r of rows) {
    if (r.section) out.push('', `  ${r.section}`);
    else out.push(line(r.label, r.value, r.detail));
  }
  console.log(out.join('\n'));
}

/** Progress goes to stderr so stdout holds only the report. */
const progress = (msg) => process.stderr.write(`bench: ${msg}\n`);

// ---------------------------------------------------------------- helpers

/** Run a node script in a fresh process; resolve with its last stdout line parsed as JSON. */
function runChild(args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: benchDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      let report;
      try {
        report = JSON.parse(last);
      } catch {
        report = undefined;
      }
      if (code === 0 && report?.ok) return resolvePromise(report);
      reject(new Error(`child \`node ${args.map((a) => relative(benchDir, a) || a).join(' ')}\` failed (exit ${code}):\n${err || out}`));
    });
  });
}

function callRows(label, r) {
  row(`${label}: median`, fmtUs(r.medianUs), `${fmtInt(r.calls)} sequential calls after ${fmtInt(r.warmupCalls)} warm-up`);
  row(`${label}: p90`, fmtUs(r.p90Us));
  row(`${label}: p99`, fmtUs(r.p99Us));
  if (r.p999Us !== undefined) row(`${label}: p99.9`, fmtUs(r.p999Us));
  row(`${label}: max`, fmtUs(r.maxUs));
  row(`${label}: throughput`, `${fmtInt(r.callsPerSec)} /s`, `mean ${fmtUs(r.meanUs)} per call`);
}

/**
 * The author's loop, timed, as the README has it: the workspace's packages on a
 * local registry, then `npm create`, `npm install`, `npm test`, a one-line edit
 * and `npm run build`, and a second build with no change. One project is made
 * and installed first, untimed, so the timed install sees a warm npm cache.
 */
async function authoring() {
  const base = await outsideWorkspace('airlock-bench-authoring-');
  const registry = await startRegistry();
  try {
    let t = performance.now();
    await publishWorkspace(registry.url);
    const publishMs = performance.now() - t;
    const create = (name) =>
      run('npm', ['create', 'airlock-plugin@latest', name, '--registry', registry.url, '--', '--kind', 'tool'], base, userEnv({ npm_config_cache: join(base, 'create-cache'), npm_config_yes: 'true' }));
    const must = (step, r) => {
      if (r.code !== 0) throw new Error(`${step} failed:\n${r.stdout}${r.stderr}`);
      return round(r.ms);
    };
    must('npm create (warm-up project)', await create('warm-up'));
    must('npm install (warm-up project)', await run('npm', ['install'], join(base, 'warm-up')));

    const dir = join(base, 'my-tool');
    const steps = { create: must('npm create', await create('my-tool')) };
    steps.install = must('npm install', await run('npm', ['install'], dir));
    const size = await nodeModulesSize(join(dir, 'node_modules'));
    const test = await run('npm', ['test'], dir);
    steps.test = must('npm test', test);
    await editOneLine(dir, 'tool');
    const build = async () => {
      const r = await run('npm', ['run', 'build', '--', '--json'], dir);
      must('npm run build', r);
      const b = JSON.parse(r.stdout.trim().split('\n').pop());
      return { totalMs: round(r.ms), buildMs: round(b.ms.total), typecheckMs: round(b.ms.typecheck), componentizeMs: round(b.ms.componentize), cached: b.cached ?? false };
    };
    const oneLineChange = await build();
    const noChange = await build();
    const devLoop = await timeDevLoop(dir, join(base, 'dev-home'));
    return {
      publishMs: round(publishMs),
      steps,
      scaffoldToGreenMs: round(steps.create + steps.install + steps.test),
      testsPassed: passedTests(test.stdout),
      nodeModulesBytes: size.bytes,
      largestPackages: size.largest,
      oneLineChange,
      noChange,
      devLoop,
    };
  } finally {
    await registry.close();
    await rm(base, { recursive: true, force: true });
  }
}

/** The last `pnpm test` run's summary (tools/run-tests.mjs writes it), if there is one. */
async function lastSuiteRun() {
  const file = join(benchDir, '..', '..', 'node_modules', '.cache', 'airlock', 'test-run.json');
  return existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : undefined;
}

// ---------------------------------------------------------------- the bench

async function main() {
  const cpus = os.cpus();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    totalMemBytes: os.totalmem(),
  };
  const base = await mkdtemp(join(os.tmpdir(), 'airlock-bench-'));
  const results = { meta };

  try {
    // 0. The machine itself, under every figure that crosses a thread or touches new memory
    progress('machine: thread hand-over and first touch of new memory, no Airlock code');
    const machine = (results.machine = (await runChild([machineOnce, String(MACHINE_ROUND_TRIPS)])).measurement);
    section('Machine (fresh process, no Airlock code: what every figure below stands on)');
    row('Round trip to a polling thread: median', fmtUs(machine.polling.medianUs), `p99 ${fmtUs(machine.polling.p99Us)}; Atomics, the other thread polling (as between back-to-back calls)`);
    row('Round trip to a sleeping thread: median', fmtUs(machine.asleep.medianUs), `p99 ${fmtUs(machine.asleep.p99Us)}; the other thread blocked in Atomics.wait, after 2 ms idle (as after a pause between calls)`);
    row('First touch of new memory', `${machine.firstTouchMsPerMB.toFixed(2)} ms/MB`, 'writing memory just allocated (page faults): a 13 MB core module copied at compile, a new worker, a linear memory');

    // 1. Component build
    progress('building the echo fixture component');
    const build = await buildPlugin({ dir: echoDir, onProgress: discard, cache: false });
    results.build = {
      plugin: build.id,
      bytes: build.bytes,
      totalMs: round(build.ms.total),
      typecheckMs: round(build.ms.typecheck),
      bundleMs: round(build.ms.bundle),
      componentizeMs: round(build.ms.componentize),
    };
    const notesWasm = join(notesDir, 'dist', 'plugin.wasm');
    if (!existsSync(notesWasm)) throw new Error(`${relative(benchDir, notesWasm)} is missing: build the workspace first (pnpm bench does)`);
    results.build.notesComponentBytes = (await readFile(notesWasm)).byteLength;

    section('Component build (bench-echo, once)');
    row('Build time', fmtMs(build.ms.total), `typecheck ${fmtMs(build.ms.typecheck)} · bundle ${fmtMs(build.ms.bundle)} · componentize ${fmtMs(build.ms.componentize)}`);
    row('Component size', fmtMB(build.bytes), `${fmtInt(build.bytes)} bytes (notes: ${fmtInt(results.build.notesComponentBytes)} bytes)`);

    // 2. Load to first call, cold transpile cache
    const cold = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      progress(`load to first call, cold cache (${i + 1}/${COLD_RUNS})`);
      const home = join(base, `cold-${i}`);
      cold.push(await runChild([loadOnce, home, echoDir]));
    }
    const warmHome = join(base, 'cold-0');

    // 3. Load to first call, warm cache
    const warm = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      progress(`load to first call, warm cache (${i + 1}/${WARM_RUNS})`);
      warm.push(await runChild([loadOnce, warmHome, echoDir]));
    }

    const summarize = (runs) => {
      const pick = (k) => runs.map((r) => round(r[k], 3));
      return {
        runs: runs.length,
        medianMs: round(median(pick('totalMs'))),
        minMs: round(Math.min(...pick('totalMs'))),
        maxMs: round(Math.max(...pick('totalMs'))),
        medianCreateHostMs: round(median(pick('createHostMs'))),
        medianLoadMs: round(median(pick('loadMs'))),
        medianFirstCallMs: round(median(pick('firstCallMs'))),
        medianImportHostMs: round(median(pick('importHostMs'))),
        medianSinceProcessStartMs: round(median(pick('sinceProcessStartMs'))),
        samples: runs.map(({ ok: _ok, result: _result, ...r }) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v, 3)]))),
      };
    };
    results.loadCold = { plugin: build.id, ...summarize(cold) };
    results.loadWarm = { plugin: build.id, ...summarize(warm) };

    const breakdown = (s) => `createHost ${fmtMs(s.medianCreateHostMs)} · load ${fmtMs(s.medianLoadMs)} · first call ${fmtMs(s.medianFirstCallMs)}`;
    section('Load to first call (bench-echo, fresh process: createHost → load → first callTool)');
    row('Cold transpile cache: median', fmtMs(results.loadCold.medianMs), `${COLD_RUNS} runs, each with a new empty home; ${breakdown(results.loadCold)}`);
    row('Warm transpile cache: median', fmtMs(results.loadWarm.medianMs), `${WARM_RUNS} runs, reusing a cold run's home; ${breakdown(results.loadWarm)}`);
    row('Warm transpile cache: min', fmtMs(results.loadWarm.minMs));
    row('Warm: process start → first call', fmtMs(results.loadWarm.medianSinceProcessStartMs), `median; adds Node startup and importing @airlock/host (${fmtMs(results.loadWarm.medianImportHostMs)})`);

    // 4. Call latency, each in a fresh process (this one has loaded the build toolchain)
    progress(`call latency: echo (${fmtInt(WARMUP_CALLS)} warm-up + ${fmtInt(ECHO_CALLS)} calls)`);
    // Three processes: on a shared VM one run can land on a noisy moment; report the middle one.
    const echoRuns = [];
    for (let i = 0; i < LATENCY_RUNS; i++) {
      echoRuns.push((await runChild([callsOnce, warmHome, echoDir, '{}', 'echo', '{"value":1}', String(WARMUP_CALLS), String(ECHO_CALLS)])).measurement);
    }
    results.callEcho = sortBy(echoRuns, (r) => r.medianUs)[LATENCY_RUNS >> 1];
    results.callEchoRunMediansUs = echoRuns.map((r) => r.medianUs);
    progress(`call latency: notes count_words (${fmtInt(WARMUP_CALLS)} warm-up + ${fmtInt(NOTES_CALLS)} calls)`);
    results.callNotes = (
      await runChild([callsOnce, join(base, 'notes'), notesDir, '"manifest"', 'count_words', '{"text":"the quick brown fox"}', String(WARMUP_CALLS), String(NOTES_CALLS)])
    ).measurement;
    progress(`call latency: echo with spans recorded (${fmtInt(WARMUP_CALLS)} warm-up + ${fmtInt(ECHO_CALLS)} calls)`);
    results.callEchoTraced = (await runChild([callsOnce, warmHome, echoDir, '{}', 'echo', '{"value":1}', String(WARMUP_CALLS), String(ECHO_CALLS), 'traced'])).measurement;
    section('Call latency (fresh process, sequential await host.callTool)');
    callRows('Trivial tool (echo)', results.callEcho);
    row('Trivial tool (echo): runs', `${LATENCY_RUNS}`, `medians ${results.callEchoRunMediansUs.map(fmtUs).join(' · ')}, one fresh process each; rows above are the middle run`);
    progress(`call latency: the floor, host.ping beside echo (${fmtInt(ECHO_CALLS)} each, in 4 interleaved rounds)`);
    const floor = (results.callFloor = (await runChild([floorOnce, warmHome, echoDir, String(WARMUP_CALLS), String(ECHO_CALLS)])).measurement);
    row('Floor (host.ping, no plugin code): median', fmtUs(floor.floor.medianUs), `p99 ${fmtUs(floor.floor.p99Us)}; the same queue, channel and thread hand-over as a call; ${fmtInt(ECHO_CALLS)} pings in 4 rounds interleaved with echo calls`);
    row('Trivial tool (echo) above the floor: median', fmtUs(floor.aboveFloorUs), `echo ${fmtUs(floor.echo.medianUs)} (p99 ${fmtUs(floor.echo.p99Us)}) − floor, same process: the host's call path and the call into the component`);
    row('Trivial tool (echo), spans recorded: median', fmtUs(results.callEchoTraced.medianUs), 'an OpenTelemetry tracer provider registered (one span per call, dropped at export); none registered costs nothing measurable');
    row('Trivial tool (echo), spans recorded: p99', fmtUs(results.callEchoTraced.p99Us));
    callRows('Small tool (notes.count_words)', results.callNotes);
    progress(`call latency: echo without and with a hook plugin (${fmtInt(WARMUP_CALLS)} warm-up + ${fmtInt(HOOK_CALLS)} calls each, in 3 interleaved rounds)`);
    await buildPlugin({ dir: allowHookDir, onProgress: discard });
    const hooked = (results.callEchoHooked = (await runChild([hooksOnce, join(base, 'hooks'), echoDir, allowHookDir, redactHookDir, String(WARMUP_CALLS), String(HOOK_CALLS)])).measurement);
    row('Trivial tool (echo), trivial hook plugin: median', fmtUs(hooked.allow.medianUs), `before- and after-tool-call hooks that allow at once; without it, same process: ${fmtUs(hooked.without.medianUs)}; p99 ${fmtUs(hooked.allow.p99Us)}`);
    row('Added per hook call: median', fmtUs(hooked.addedPerHookCallUs), `(with − without) / ${hooked.hookCallsPerToolCall} hook calls per tool call (target ≤ 20 µs)`);
    row('Trivial tool (echo), redact-hook sample: median', fmtUs(hooked.redact.medianUs), `each hook scans the call for e-mail addresses in the guest: ${fmtUs(hooked.addedPerRedactHookCallUs)} per hook call`);

    // 5. RSS per loaded plugin
    progress(`memory: ${RSS_PLUGINS} copies of the echo plugin in a fresh process`);
    const manifest = JSON.parse(await readFile(join(echoDir, 'package.json'), 'utf8'));
    const copies = [];
    for (let i = 1; i <= RSS_PLUGINS; i++) {
      const dir = join(base, 'rss', `echo-${i}`);
      await mkdir(join(dir, 'dist'), { recursive: true });
      const pkg = { ...manifest, name: `bench-echo-${i}`, airlock: { ...manifest.airlock, id: `bench-echo-${i}` } };
      await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
      await copyFile(join(echoDir, 'dist', 'plugin.wasm'), join(dir, 'dist', 'plugin.wasm'));
      copies.push(dir);
    }
    const rss = await runChild(['--expose-gc', rssOnce, warmHome, ...copies]);
    const perPlugin = (rss.rssAfterBytes - rss.rssBeforeBytes) / rss.plugins;
    const firstPlugin = rss.rssAfterFirstBytes - rss.rssBeforeBytes;
    const furtherPlugin = rss.plugins > 1 ? (rss.rssAfterBytes - rss.rssAfterFirstBytes) / (rss.plugins - 1) : NaN;
    results.memory = {
      plugin: build.id,
      plugins: rss.plugins,
      rssBeforeBytes: rss.rssBeforeBytes,
      rssAfterFirstBytes: rss.rssAfterFirstBytes,
      rssAfterBytes: rss.rssAfterBytes,
      rssPerPluginBytes: Math.round(perPlugin),
      rssPerPluginMB: round(perPlugin / (1024 * 1024)),
      rssFirstPluginBytes: firstPlugin,
      rssPerFurtherPluginBytes: Math.round(furtherPlugin),
      heapUsedBeforeBytes: rss.heapUsedBeforeBytes,
      heapUsedAfterBytes: rss.heapUsedAfterBytes,
      externalBeforeBytes: rss.externalBeforeBytes,
      externalAfterBytes: rss.externalAfterBytes,
    };
    section(`Memory (fresh process, ${RSS_PLUGINS} copies of bench-echo, warm cache, one call each)`);
    row('RSS per loaded plugin', fmtMB(perPlugin), `(${fmtMB(rss.rssAfterBytes)} after − ${fmtMB(rss.rssBeforeBytes)} before) / ${rss.plugins}`);
    row('RSS: first plugin', fmtMB(firstPlugin), 'includes what copies of one component share (compiled core modules)');
    row('RSS: each further copy', fmtMB(furtherPlugin), `mean of the other ${rss.plugins - 1}: worker thread, instance memory`);

    // 6. The sandbox's own costs: the HTTP gate and recovering from a timeout
    progress('sandbox: gated fetch vs direct, timeout recovery');
    if (!existsSync(join(misbehavingDir, 'dist', 'plugin.wasm'))) await buildPlugin({ dir: misbehavingDir, skipTypecheck: true, onProgress: discard });
    await mkdir(join(base, 'sandbox'), { recursive: true });
    const sandbox = await runChild([sandboxOnce, join(base, 'sandbox-home'), misbehavingDir, join(base, 'sandbox'), String(FETCHES)]);
    results.sandbox = sandbox;
    section('Sandbox (fresh process, loopback server)');
    row('GET through plugin + gate: median', fmtUs(sandbox.gatedFetch.medianUs), `p90 ${fmtUs(sandbox.gatedFetch.p90Us)}; ${fmtInt(FETCHES)} fetches from the plugin, origin granted`);
    row('Same GET from Node directly: median', fmtUs(sandbox.directFetch.medianUs), `p90 ${fmtUs(sandbox.directFetch.p90Us)}`);
    row('Sandboxed fetch overhead', fmtUs(sandbox.gatedFetch.medianUs - sandbox.directFetch.medianUs), 'median difference: guest fetch, worker ↔ host channel, grant and address checks');
    row('Timeout → next call answered', fmtMs(sandbox.timeoutRecoveryMs), `median of 3; worker terminated at the deadline, restarted on the next call`);

    // 7. Streaming throughput: provider-openai against the loopback OpenAI-compatible server
    progress(`streaming: ${STREAM_RUNS} + 1 streams of bench-${STREAM_CHUNKS} through provider-openai and directly`);
    const providerWasm = join(providerOpenAIDir, 'dist', 'plugin.wasm');
    if (!existsSync(providerWasm)) throw new Error(`${relative(benchDir, providerWasm)} is missing: build the workspace first (pnpm bench does)`);
    const { ok: _ok, ...streaming } = await runChild([streamOnce, join(base, 'stream-home'), providerOpenAIDir, String(STREAM_CHUNKS), String(STREAM_RUNS)]);
    results.streaming = streaming;
    const sp = streaming.plugin;
    const sd = streaming.direct;
    const fmtMBps = (x) => `${x.toFixed(x >= 10 ? 1 : 2)} MB/s`;
    const gaps = (s) => `p99 ${fmtUs(s.interArrivalP99Us)}; between consecutive text chunks, ${fmtInt(s.interArrivalSamples)} gaps over ${s.runs} streams`;
    section(`Streaming (fresh process: ${streaming.model}, ${fmtInt(STREAM_CHUNKS)} × ${streaming.chunkBytes}-byte chunks from @airlock/openai-server in its own process)`);
    row('Plugin (host.chatStream): throughput', `${fmtInt(sp.chunksPerSec)} /s`, `chunks; median of ${sp.runs} streams, ${fmtMs(sp.medianWallMs)} each, request → done (after 1 untimed)`);
    row('Plugin: text throughput', fmtMBps(sp.mbPerSec), `${fmtInt(sp.bytes)} bytes of text per stream, checked against what the server sent`);
    row('Plugin: first chunk', fmtMs(sp.medianFirstChunkMs), 'median; request → first text event at the consumer');
    row('Plugin: inter-arrival p50', fmtUs(sp.interArrivalP50Us), gaps(sp));
    row('Direct (Node fetch + SSE parser): throughput', `${fmtInt(sd.chunksPerSec)} /s`, `chunks; same server, model and request; median of ${sd.runs} streams, ${fmtMs(sd.medianWallMs)} each`);
    row('Direct: text throughput', fmtMBps(sd.mbPerSec), `${fmtMB(sd.wireBytes)} of SSE on the wire per stream`);
    row('Direct: first chunk', fmtMs(sd.medianFirstChunkMs), 'median; includes the server planning the whole answer');
    row('Direct: inter-arrival p50', fmtUs(sd.interArrivalP50Us), gaps(sd));
    row('Added per chunk by the plugin path', fmtUs(streaming.addedPerChunkUs), `(plugin − direct median time) / ${fmtInt(STREAM_CHUNKS)}; first chunk ${streaming.addedFirstChunkMs < 0 ? '−' : '+'}${fmtMs(Math.abs(streaming.addedFirstChunkMs))}; one echo call: ${fmtUs(results.callEcho.medianUs)}`);

    // 7b. airlock serve: MCP and the OpenAI-compatible API against in-process calls
    progress(`gateway: ${fmtInt(GATEWAY_CALLS)} echo calls in process, over MCP (Streamable HTTP, stdio) and plain SDK stdio and HTTP servers; streams through the gateway`);
    const { ok: _gatewayOk, ...gateway } = await runChild([gatewayOnce, join(base, 'gateway-home'), echoDir, providerOpenAIDir, String(GATEWAY_CALLS), String(GATEWAY_STREAM_CHUNKS), String(STREAM_RUNS)]);
    results.gateway = gateway;
    const gc = gateway.calls;
    section(`airlock serve (fresh processes: the server in a child, the official MCP SDK client; ${fmtInt(GATEWAY_CALLS)} sequential calls after ${fmtInt(Math.min(2_000, GATEWAY_CALLS))} warm-up)`);
    row('Trivial tool, in process (host.callTool)', fmtUs(gc.inProcess.medianUs), `median; p99 ${fmtUs(gc.inProcess.p99Us)}`);
    row('Through MCP, Streamable HTTP', fmtUs(gc.mcpHttp.medianUs), `median; p99 ${fmtUs(gc.mcpHttp.p99Us)}; overhead ${fmtUs(gateway.overheadUs.mcpHttp)} (target ≤ 150 µs)`);
    row('Through MCP, stdio', fmtUs(gc.mcpStdio.medianUs), `median; p99 ${fmtUs(gc.mcpStdio.p99Us)}; overhead ${fmtUs(gateway.overheadUs.mcpStdio)} (target ≤ 150 µs)`);
    row('Plain Node MCP stdio server (official SDK, no sandbox)', fmtUs(gc.plainStdio.medianUs), `median; p99 ${fmtUs(gc.plainStdio.p99Us)}; the same trivial tool, the way most tools ship today`);
    const rssText = (c) => (c.rssBytes === undefined ? 'n/a' : fmtMB(c.rssBytes));
    row('Start → first answer over stdio: airlock serve', fmtMs(gc.mcpStdio.firstAnswerMs), `spawning the server → the first tools/call answered (sandboxed, warm transpile cache); plain SDK server: ${fmtMs(gc.plainStdio.firstAnswerMs)}`);
    row('Server memory over stdio: airlock serve', rssText(gc.mcpStdio), `resident after ${fmtInt(gc.mcpStdio.calls)} calls, the plugin's worker included; plain SDK server: ${rssText(gc.plainStdio)}`);
    row('Plain Node MCP Streamable HTTP server (official SDK, no sandbox)', fmtUs(gc.plainHttp.medianUs), `median; p99 ${fmtUs(gc.plainHttp.p99Us)}; the same, over the SDK's HTTP transports: their own cost`);
    row('Streaming through the gateway (/v1/chat/completions)', `${fmtInt(gateway.stream.gatewayPerSec)} /s`, `chunks; ${fmtInt(gateway.stream.chunks)} per stream, median of ${gateway.stream.runs}; in process (host.chatStream) ${fmtInt(gateway.stream.inProcessPerSec)} /s: ${Math.round(gateway.stream.ratio * 100)}% (target ≥ 80%)`);

    // 8. Plugin authoring: a new tool project through a local registry, from npm create to green tests, then rebuilds
    progress('authoring: publish to a local registry; npm create, npm install, npm test outside the workspace; then rebuild');
    results.authoring = await authoring();
    const a = results.authoring;
    section('Plugin authoring (a tool project made outside the workspace from a local registry, with npm, as the README says)');
    row('npm install, warm npm cache', fmtMs(a.steps.install), 'no native build; the cache was warmed by an untimed install of another project');
    row('node_modules size', fmtMB(a.nodeModulesBytes), `largest: ${a.largestPackages.slice(0, 5).map((p) => `${p.name} ${fmtMB(p.bytes)}`).join(' · ')}`);
    row('npm create → green tests', fmtMs(a.scaffoldToGreenMs), `npm create ${fmtMs(a.steps.create)} · npm install ${fmtMs(a.steps.install)} · npm test ${fmtMs(a.steps.test)} (builds; ${a.testsPassed} tests); publishing the workspace (${fmtMs(a.publishMs)}) not included`);
    row('Rebuild after a one-line change', fmtMs(a.oneLineChange.totalMs), `npm run build; cached: ${a.oneLineChange.cached} · typecheck ${fmtMs(a.oneLineChange.typecheckMs)} · componentize ${fmtMs(a.oneLineChange.componentizeMs)}`);
    row('Second build, no change', fmtMs(a.noChange.totalMs), `cached: ${a.noChange.cached} · typecheck ${fmtMs(a.noChange.typecheckMs)} · componentize ${fmtMs(a.noChange.componentizeMs)}`);
    row(
      'Dev loop: save → reloaded (airlock-plugin dev)',
      fmtMs(a.devLoop.medianMs),
      `median of ${a.devLoop.saves.length} one-line saves (${a.devLoop.how}): rebuild ${fmtMs(a.devLoop.buildMs)} · reload ${fmtMs(a.devLoop.reloadMs)} · the watcher's 100 ms wait; first load ${fmtMs(a.devLoop.firstLoadMs)} (componentizes the engine, unless the user's cache holds it) (target ≤ 1.5 s)`,
    );

    // 9. Soak: the full runs of `pnpm soak`, each in a fresh process
    progress('soak: the full runs (1,000,000 calls; 1,000 memory-cap hits, traps, deadline kills; 100 reloads under load)');
    const soak = await runSoak({ full: true, onResult: (r) => progress(`soak: ${describeSoak(r)}`) });
    results.soak = soak.map(({ samples, ...r }) => ({ ...r, samples: samples.map((x) => ({ call: x.call, rss: x.rss, workerHeap: x.workerHeap, linear: x.linear })) }));
    section('Soak (full runs, one fresh process each; memory after GC: end of the first tenth → end of the run)');
    for (const r of soak) {
      const what = r.misbehaving ? `${fmtInt(r.misbehaving)} ${r.what} among ${fmtInt(r.calls)} calls` : `${fmtInt(r.calls)} ${r.what}`;
      row(
        `${r.scenario}: RSS`,
        `${r.rss.growth >= 0 ? '+' : '−'}${fmtMB(Math.abs(r.rss.growth))}`,
        `${fmtMB(r.rss.firstTenth)} → ${fmtMB(r.rss.end)} (peak ${fmtMB(r.peakRss)}); worker heap ${fmtMB(r.workerHeap.firstTenth)} → ${fmtMB(r.workerHeap.end)}; ${r.retainedMemories} discarded memories alive; ${what}; ${passedSoak(r) ? 'flat' : 'NOT FLAT'}; ${r.seconds} s`,
      );
    }

    // 10. The test suite: the last full `pnpm test` (measuring it here would take as long again)
    const suite = await lastSuiteRun();
    results.suite = suite ?? null;
    section('Test suite (the last `pnpm test` in this checkout)');
    if (suite) {
      row('Duration', fmtMs(suite.durationMs), `${suite.date}; ${fmtInt(suite.passed)} passed, ${fmtInt(suite.failed)} failed in ${suite.packages} packages, ${suite.cachedPackages} served from turbo's cache`);
    } else {
      row('Duration', 'n/a', 'no run recorded yet: `pnpm test --force` runs every suite, whatever turbo has cached');
    }

    await mkdir(dirname(resultsFile), { recursive: true });
    await writeFile(resultsFile, JSON.stringify(results, null, 2) + '\n');

    console.log(`Airlock bench — ${meta.date}`);
    console.log(`Node ${meta.node} · ${meta.platform} · ${meta.cpuModel} · ${meta.cores} cores · ${(meta.totalMemBytes / 1024 ** 3).toFixed(1)} GB RAM`);
    console.log('');
    printTable();
    console.log('');
    console.log(`Raw numbers: ${relative(process.cwd(), resultsFile) || resultsFile}`);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`bench: ${err.message}`);
  process.exit(2);
}
const task = {
  help: async () => console.log(USAGE),
  bench: main,
  ab: async () => (await import('./ab.mjs')).runAB(options),
  clean: async () => (await import('./ab.mjs')).cleanBaselines(),
}[options.mode];

task().catch((err) => {
  // A refused A/B (a ref that does not resolve, a baseline that does not build) says what to do; its stack would not.
  console.error(err?.name === 'BaselineError' ? `bench: ${err.message}` : (err?.stack ?? err));
  if (err?.details) console.error(err.details);
  process.exitCode = 1;
});
